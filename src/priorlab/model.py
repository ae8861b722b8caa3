"""Model presets: Hugging Face ``LlamaForCausalLM`` configs sized for controlled priors.

Checkpoints are plain HF directories (``config.json`` + ``model.safetensors`` + tokenizer), so
``AutoModelForCausalLM.from_pretrained(dir)`` loads them anywhere.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import torch
from transformers import AttentionInterface, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

from priorlab.errors import CheckpointError, first_line

#: The attention every priorlab model runs: transformers' SDPA, in fp32 for bf16 inputs on CPU.
ATTENTION = "priorlab_sdpa"


def sdpa_fp32_on_cpu(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention [B, H, L, d], but in fp32 under CPU autocast.

    Under bf16 autocast torch's CPU flash attention runs in bf16, and there its forward + backward
    is ~3.7x slower than in fp32 (measured on this project's CPU at the RL update's shape
    [64, 8, 107, 32]: 0.23 vs 0.06 s per layer, 45% of a bf16 update), while the matmuls around
    it are 3x faster in bf16. So autocast is switched off around the call (RoPE already hands it
    fp32 query and key); the projections that follow cast back to bf16 as before. CUDA and
    plain fp32 go through unchanged."""
    if hasattr(key, "attend"):  # the sampler's shared-prompt cache (sampling._PromptLayer)
        return key.attend(query, kwargs.get("scaling") or query.shape[-1] ** -0.5), None
    if query.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    with torch.autocast("cpu", enabled=False):
        return sdpa_attention_forward(module, query.float(), key.float(), value.float(), attention_mask, **kwargs)


AttentionInterface.register(ATTENTION, sdpa_fp32_on_cpu)
AttentionMaskInterface.register(ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])  # unregistered: no mask at all

#: name -> (d_model, n_layers, n_heads, d_ff). "demo" is the 0.82M-parameter prior of
#: shared/research/world-feasibility.md; "tiny" is for tests.
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (32, 2, 2, 64),
    "demo": (128, 4, 4, 352),
    "small": (256, 6, 8, 704),
    "base": (512, 8, 8, 1408),
}


def build_model(cfg, tokenizer, max_positions: int = 1024) -> LlamaForCausalLM:
    """A freshly initialised Llama from a :class:`priorlab.config.ModelConfig`."""
    d, n_layers, n_heads, d_ff = PRESETS[cfg.preset]
    d = cfg.d_model or d
    n_layers = cfg.n_layers or n_layers
    n_heads = cfg.n_heads or n_heads
    d_ff = cfg.d_ff or d_ff
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=d, intermediate_size=d_ff,
        num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_heads,
        max_position_embeddings=max_positions, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=cfg.tie_embeddings, initializer_range=cfg.init_std, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        attn_implementation=ATTENTION,
    )
    return LlamaForCausalLM(config)


def check_model_dir(path: str | Path) -> Path:
    """``path`` if it holds an HF model: a ``config.json`` that parses and weight files whose
    headers do (read without loading a tensor); else a :class:`~priorlab.errors.CheckpointError`
    naming the file, so a truncated or foreign directory fails before any work."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not (p / "config.json").is_file():
        why = "it does not exist" if not p.exists() else "it is a file" if not p.is_dir() else "no config.json"
        raise CheckpointError(f"{p} is not a model directory ({why}); expected config.json + safetensors, "
                              f"e.g. RUN/model")
    try:
        json.loads((p / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{p / 'config.json'}: not valid JSON ({e}); the checkpoint is truncated or "
                              f"corrupt, copy it again") from None
    weights = sorted(p.glob("*.safetensors"))
    if not weights and not any(p.glob("pytorch_model*.bin")):
        raise CheckpointError(f"{p} is not a model directory (no *.safetensors weights next to config.json)")
    for w in weights:
        try:
            with safe_open(str(w), "pt"):
                pass
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"{w}: not a readable safetensors file ({e}); the checkpoint is truncated or "
                                  f"corrupt, copy it again") from None
    return p


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Any local HF causal LM directory (checked by :func:`check_model_dir`), in fp32, eval mode,
    on ``device``; what transformers still refuses is a :class:`~priorlab.errors.CheckpointError`."""
    quiet_hf()
    check_model_dir(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation=ATTENTION)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: transformers cannot load this model ({first_line(e)}); pass an HF "
                              f"causal LM directory") from None
    return model.to(device).eval()


#: transformers' deprecation notices: ``deprecate_kwarg`` ("`x` is deprecated and will be removed
#: in version N") and the ``warning_once`` of renamed arguments ("... are deprecated. Use ...").
HF_DEPRECATION = r"`[^`]+` (is|are) deprecated"


def quiet_hf() -> None:
    """Keep transformers' chatter out of the user's output: no per-file tqdm bars (priorlab shows
    its own progress) and no deprecation notices, which are for priorlab to act on, not the user
    (tests/test_sampling.py runs a sampling call with warnings as errors). Other warnings, e.g.
    weights a checkpoint lacks, still show."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=HF_DEPRECATION, category=FutureWarning)
    for handler in hf_logging.get_logger().handlers:
        if not any(isinstance(f, _NoDeprecation) for f in handler.filters):
            handler.addFilter(_NoDeprecation())


class _NoDeprecation(logging.Filter):
    """Drops transformers' logged deprecation notices (:data:`HF_DEPRECATION`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        import re

        return re.match(HF_DEPRECATION, record.getMessage()) is None


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
