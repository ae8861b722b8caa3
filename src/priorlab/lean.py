"""One decode step of priorlab's Llama without transformers' per-module machinery.

At decode time a priorlab prior (0.82M parameters, d = 128) spends more of each step in module
calls, argument plumbing and mask handling than in its matmuls: one token per row, a few hundred
rows. :class:`LeanDecoder` holds the weights as plain tensors and runs the arithmetic of
``LlamaForCausalLM.forward`` for one new token per row — RMSNorm in fp32, RoPE at each row's
position, attention through the sampler's shared-prompt cache (``sampling._PromptLayer.attend``),
SwiGLU — with the same ops in the same order and dtypes, so it samples what the model's forward
samples (tests/test_sampling.py; under autocast it casts where the model's forward casts).
Models it does not cover (another architecture, biases, scaled RoPE, grouped KV heads) decode
through the model's forward as before: :func:`lean_decoder` returns None for them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
             and getattr(cfg, "head_dim", cfg.hidden_size // heads) * heads == cfg.hidden_size
             and (getattr(cfg, "rope_scaling", None) or {}).get("rope_type", "default") == "default"
             and getattr(model.model.rotary_emb, "attention_scaling", 1.0) == 1.0)
    return LeanDecoder(model, dtype) if plain else None


class LeanDecoder:
    """The decode step of a :func:`lean_decoder`-checked Llama. The weights are read once: as they
    are, or cast to ``dtype`` once for a step that runs under that autocast dtype (autocast would
    re-cast them at every step, to the same values); they must not change while it is in use,
    which holds inside one ``sampling.sample`` call."""

    def __init__(self, model, dtype: torch.dtype | None = None):
        cfg, inner = model.config, model.model
        self.heads, self.eps = cfg.num_attention_heads, cfg.rms_norm_eps
        self.head_dim = cfg.hidden_size // self.heads
        self.inv_freq = inner.rotary_emb.inv_freq.float()
        mm = (lambda w: w.detach()) if dtype is None else (lambda w: w.detach().to(dtype))
        self.embed, self.norm, self.head = inner.embed_tokens.weight, inner.norm.weight, mm(model.lm_head.weight)
        self.layers = [(layer.input_layernorm.weight, *(mm(p.weight) for p in (
            layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj, layer.self_attn.o_proj)),
            layer.post_attention_layernorm.weight,
            *(mm(p.weight) for p in (layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj)))
            for layer in inner.layers]

    def __call__(self, tok: torch.Tensor, pos: torch.Tensor, cache) -> torch.Tensor:
        """Next-token logits [R, V] for tokens ``tok`` [R] at positions ``pos`` [R]; appends their
        keys and values to ``cache`` (its layers must have ``attend``)."""
        R, H, d = len(tok), self.heads, self.head_dim
        x = F.embedding(tok, self.embed)  # [R, D]
        cos, sin = self._rope(pos, x.dtype)
        for layer, (ln1, wq, wk, wv, wo, ln2, wg, wu, wd) in zip(cache.layers, self.layers):
            h = _rms_norm(x, ln1, self.eps)
            q = _rotate(F.linear(h, wq).view(R, H, 1, d), cos, sin)
            k = _rotate(F.linear(h, wk).view(R, H, 1, d), cos, sin)
            layer.update(k, F.linear(h, wv).view(R, H, 1, d))
            x = x + F.linear(layer.attend(q, d ** -0.5).reshape(R, H * d), wo)
            h = _rms_norm(x, ln2, self.eps)
            x = x + F.linear(F.silu(F.linear(h, wg)) * F.linear(h, wu), wd)
        return F.linear(_rms_norm(x, self.norm, self.eps), self.head)

    def _rope(self, pos: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [R, 1, 1, d] at positions ``pos`` [R], as ``LlamaRotaryEmbedding`` computes them."""
        with torch.autocast(pos.device.type, enabled=False):
            freqs = pos.reshape(-1, 1).float() * self.inv_freq.to(pos.device)
            emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype)[:, None, None], emb.sin().to(dtype)[:, None, None]


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``LlamaRMSNorm``: normalised in fp32, scaled in the input's dtype."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on [R, H, 1, d] (``apply_rotary_pos_emb``: x·cos + rotate_half(x)·sin)."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin
