"""Model presets: Hugging Face ``LlamaForCausalLM`` configs sized for controlled priors.

Checkpoints are plain HF directories (``config.json`` + ``model.safetensors`` + tokenizer), so
``AutoModelForCausalLM.from_pretrained(dir)`` loads them anywhere.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

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
    if d % n_heads:
        raise ValueError(f"model.d_model={d} is not divisible by model.n_heads={n_heads}")
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=d, intermediate_size=d_ff,
        num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_heads,
        max_position_embeddings=max_positions, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=cfg.tie_embeddings, initializer_range=cfg.init_std, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Any local HF causal LM directory, in fp32, eval mode, on ``device``."""
    quiet_hf()
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
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
