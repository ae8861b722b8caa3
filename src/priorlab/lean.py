"""One decode step of priorlab's Llama without transformers' per-module machinery.

At decode time a priorlab prior (0.82M parameters, d = 128) spends more of each step in module
calls, argument plumbing and mask handling than in its matmuls: one token per row, a few hundred
rows. :class:`LeanDecoder` holds the projection weights as plain tensors (fused: q, k, their RoPE
rotations and v in one matrix; gate and up in another) and runs the arithmetic of
``LlamaForCausalLM.forward`` for one new token per row — RMSNorm (``F.rms_norm``), RoPE, attention
through the sampler's shared-prompt cache (``sampling._PromptLayer.attend``), SwiGLU — in the same
dtypes, so it samples what the model's forward samples (same tokens, log-probs within float
rounding: tests/test_sampling.py; under autocast it casts where the model's forward casts). Models
it does not cover (another architecture, biases, grouped KV heads)
decode through the model's forward as before: :func:`lean_decoder` returns None for them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lean_decoder(model, dtype: torch.dtype | None = None, positions: int | None = None) -> LeanDecoder | None:
    """A :class:`LeanDecoder` for ``model`` if it is a plain Llama this step reproduces, else None;
    ``dtype``: the autocast dtype it will run under (its matmul weights are cast once, here);
    ``positions``: how many positions it will be asked for (default: all the model's)."""
    cfg = getattr(model, "config", None)
    if type(model).__name__ != "LlamaForCausalLM" or cfg is None:
        return None
    heads = cfg.num_attention_heads
    plain = (getattr(cfg, "hidden_act", None) == "silu" and not getattr(cfg, "attention_bias", False)
             and not getattr(cfg, "mlp_bias", False) and getattr(cfg, "pretraining_tp", 1) == 1
             and getattr(cfg, "num_key_value_heads", heads) == heads
             and getattr(cfg, "head_dim", cfg.hidden_size // heads) * heads == cfg.hidden_size)
    return LeanDecoder(model, dtype, positions) if plain else None


def _rotated(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of a projection ``w`` [heads * d, D] reordered and negated so that
    ``x @ _rotated(w).T == rotate_half(x @ w.T)`` head by head (RoPE's rotate_half: exact)."""
    halves = w.view(heads, 2, w.shape[0] // heads // 2, -1)
    return torch.cat([-halves[:, 1], halves[:, 0]], 1).reshape(w.shape)


class LeanDecoder:
    """The decode step of a :func:`lean_decoder`-checked Llama. The weights are read once: as they
    are, or cast to ``dtype`` once for a step that runs under that autocast dtype (autocast would
    re-cast them at every step, to the same values); they must not change while it is in use,
    which holds inside one ``sampling.sample`` call.

    Fewer, larger ops than the module-by-module forward (a decode step is mostly per-op cost): one
    matmul per layer for q, k, their RoPE rotations and v (RoPE's ``rotate_half`` folded into the
    weights as permuted, negated rows), one for SwiGLU's gate and up, fused RMSNorm, and cos/sin
    read from a table of every position."""

    def __init__(self, model, dtype: torch.dtype | None = None, positions: int | None = None):
        cfg, inner = model.config, model.model
        self.heads, self.head_dim = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
        def mm(*w):  # fused (concatenated) weights; a single one is used as it is in fp32, not copied
            w = (torch.cat(w) if len(w) > 1 else w[0]).detach()
            return w if dtype is None else w.to(dtype)

        self.embed, self.head = inner.embed_tokens.weight, mm(model.lm_head.weight)
        self.norm = (inner.norm.weight, inner.norm.variance_epsilon)
        positions = torch.arange(min(positions or cfg.max_position_embeddings, cfg.max_position_embeddings),
                                 device=self.embed.device)
        self.cos, self.sin = (t[0, :, None] for t in inner.rotary_emb(self.embed[:1], positions[None]))  # [L, 1, d]
        self.layers = []
        for layer in inner.layers:
            att, mlp, H = layer.self_attn, layer.mlp, self.heads
            wq, wk = att.q_proj.weight, att.k_proj.weight
            self.layers.append((
                (layer.input_layernorm.weight, layer.input_layernorm.variance_epsilon),
                mm(wq, wk, _rotated(wq, H), _rotated(wk, H), att.v_proj.weight), mm(att.o_proj.weight),
                (layer.post_attention_layernorm.weight, layer.post_attention_layernorm.variance_epsilon),
                mm(mlp.gate_proj.weight, mlp.up_proj.weight), mm(mlp.down_proj.weight)))

    def __call__(self, tok: torch.Tensor, pos: torch.Tensor, cache) -> torch.Tensor:
        """Next-token logits [R, V] for tokens ``tok`` [R] at positions ``pos`` [R]; appends their
        keys and values to ``cache`` (its layers must have ``attend``)."""
        R, H, d = len(tok), self.heads, self.head_dim
        D = H * d
        x = F.embedding(tok, self.embed)  # [R, D]
        cos, sin = self.cos[pos], self.sin[pos]  # [R, 1, d]
        for layer, ((n1, e1), wqkv, wo, (n2, e2), wgu, wd) in zip(cache.layers, self.layers):
            a = F.linear(F.rms_norm(x, (D,), n1, e1), wqkv)  # [R, 5D]: q, k, their rotations, v
            qk = a[:, :2 * D].view(R, 2 * H, d) * cos + a[:, 2 * D:4 * D].view(R, 2 * H, d) * sin
            layer.update(qk[:, H:, None], a[:, 4 * D:].view(R, H, 1, d))
            x = x + F.linear(layer.attend(qk[:, :H, None], d ** -0.5).reshape(R, D), wo)
            gate, up = F.linear(F.rms_norm(x, (D,), n2, e2), wgu).chunk(2, -1)
            x = x + F.linear(F.silu(gate) * up, wd)
        return F.linear(F.rms_norm(x, (D,), *self.norm), self.head)
