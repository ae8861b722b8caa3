"""One decode step of priorlab's Llama without transformers' per-module machinery.

At decode time a priorlab prior (0.82M parameters, d = 128) spends more of each step in module
calls, argument plumbing and mask handling than in its matmuls: one token per row, a few hundred
rows. :class:`LeanDecoder` holds the projection weights as plain tensors and runs the arithmetic
of ``LlamaForCausalLM.forward`` for one new token per row — the model's own RMSNorm and rotary
modules and transformers' ``apply_rotary_pos_emb``, attention through the sampler's shared-prompt
cache (``sampling._PromptLayer.attend``), SwiGLU — in the same order and dtypes, so it samples
what the model's forward samples (tests/test_sampling.py; under autocast it casts where the
model's forward casts). Models it does not cover (another architecture, biases, grouped KV heads)
decode through the model's forward as before: :func:`lean_decoder` returns None for them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


def lean_decoder(model, dtype: torch.dtype | None = None) -> LeanDecoder | None:
    """A :class:`LeanDecoder` for ``model`` if it is a plain Llama this step reproduces, else None;
    ``dtype``: the autocast dtype it will run under (its matmul weights are cast once, here)."""
    cfg = getattr(model, "config", None)
    if type(model).__name__ != "LlamaForCausalLM" or cfg is None:
        return None
    heads = cfg.num_attention_heads
    plain = (getattr(cfg, "hidden_act", None) == "silu" and not getattr(cfg, "attention_bias", False)
             and not getattr(cfg, "mlp_bias", False) and getattr(cfg, "pretraining_tp", 1) == 1
             and getattr(cfg, "num_key_value_heads", heads) == heads
             and getattr(cfg, "head_dim", cfg.hidden_size // heads) * heads == cfg.hidden_size)
    return LeanDecoder(model, dtype) if plain else None


class LeanDecoder:
    """The decode step of a :func:`lean_decoder`-checked Llama. The weights are read once: as they
    are, or cast to ``dtype`` once for a step that runs under that autocast dtype (autocast would
    re-cast them at every step, to the same values); they must not change while it is in use,
    which holds inside one ``sampling.sample`` call."""

    def __init__(self, model, dtype: torch.dtype | None = None):
        cfg, inner = model.config, model.model
        self.heads, self.head_dim = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
        mm = (lambda w: w.detach()) if dtype is None else (lambda w: w.detach().to(dtype))
        self.embed, self.rotary, self.norm = inner.embed_tokens.weight, inner.rotary_emb, inner.norm
        self.head = mm(model.lm_head.weight)
        self.layers = [(layer.input_layernorm, *(mm(p.weight) for p in (
            layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj, layer.self_attn.o_proj)),
            layer.post_attention_layernorm,
            *(mm(p.weight) for p in (layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj)))
            for layer in inner.layers]

    def __call__(self, tok: torch.Tensor, pos: torch.Tensor, cache) -> torch.Tensor:
        """Next-token logits [R, V] for tokens ``tok`` [R] at positions ``pos`` [R]; appends their
        keys and values to ``cache`` (its layers must have ``attend``)."""
        R, H, d = len(tok), self.heads, self.head_dim
        x = F.embedding(tok, self.embed)  # [R, D]
        cos, sin = self.rotary(x, pos[:, None])  # [R, 1, d]
        for layer, (ln1, wq, wk, wv, wo, ln2, wg, wu, wd) in zip(cache.layers, self.layers):
            h = ln1(x)
            q, k = apply_rotary_pos_emb(F.linear(h, wq).view(R, H, 1, d), F.linear(h, wk).view(R, H, 1, d), cos, sin)
            layer.update(k, F.linear(h, wv).view(R, H, 1, d))
            x = x + F.linear(layer.attend(q, d ** -0.5).reshape(R, H * d), wo)
            h = ln2(x)
            x = x + F.linear(F.silu(F.linear(h, wg)) * F.linear(h, wu), wd)
        return F.linear(self.norm(x), self.head)
