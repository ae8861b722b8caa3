"""Typed SFT configuration (``priorlab sft``): one model, overridden by YAML presets and ``--set``.

An SFT run fine-tunes a prior on (prompt, completion) pairs, the loss on completion tokens only:
completions sampled from a teacher checkpoint (``data.source: teacher``; ``data.filter: none``
keeps them all, sequence-level distillation; ``verified`` keeps those the world's verifier accepts,
rejection-sampling fine-tuning, as DeepSeek-R1's distillation data was made) or demonstrations
rendered by the world (``data.source: corpus``, in the formats, depths and contexts of
``data.corpus``, by :mod:`priorlab.corpus`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from priorlab.config import ConfigError, CorpusConfig, EvalConfig, Strict, preset_path
from priorlab.config_checks import check_weights
from priorlab.registry import did_you_mean
from priorlab.rl.config import BAND_EVAL_HELP, OptimConfig, _final_eval


class SFTDataConfig(Strict):
    """What the prior is fine-tuned on, and the band its ``band`` evaluation covers."""

    source: Literal["teacher", "corpus"] = Field("teacher", description="teacher samples or world-rendered demos")
    filter: Literal["none", "verified"] = Field(
        "none", description="teacher samples kept: all (distillation) or those the verifier accepts")
    split: str = Field("rl", description="split of the teacher's prompts (and of the band evaluation)")
    depths: list[int] = Field(default_factory=lambda: [4, 5], min_length=1, description="the teacher's depth band")
    contexts: list[str] | None = Field(None, description="default: the prior's pretraining contexts")
    n_prompts: int = Field(256, ge=1, description="teacher prompts per (depth, context)")
    samples_per_prompt: int = Field(4, ge=1, description="teacher completions per prompt")
    temperature: float = Field(1.0, gt=0, description="teacher sampling temperature")
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1, description="default: 1.5x the longest gold solution + 16")
    corpus: CorpusConfig = Field(default_factory=CorpusConfig,
                                 description="source corpus: formats, depths, contexts and seed of the demos "
                                             "(pretrain-split problems, as priorlab.corpus renders them)")
    corpus_tokens: int = Field(200_000, ge=1, description="source corpus: words of demonstrations to render")
    batch_size: int = Field(16, ge=1, description="sequences per optimizer step")

    @model_validator(mode="after")
    def _check(self) -> "SFTDataConfig":
        from priorlab.worlds import FORMATS

        if self.filter != "none" and self.source != "teacher":
            raise ValueError(f"data.filter={self.filter}: filters teacher samples; set data.filter=none with "
                             f"data.source={self.source}")
        if self.source == "corpus":
            check_weights(self.corpus.formats, "data.corpus.formats", FORMATS.names())
            check_weights(self.corpus.depths, "data.corpus.depths")
            check_weights(self.corpus.contexts, "data.corpus.contexts")
        return self


class StageConfig(Strict):
    """What a training stage on a prior checkpoint has besides its data (SFT, RLP): the prior, seed,
    threads, steps, optimizer, RL's before/after evaluation, precision and checkpoints."""

    prior: str | None = Field(None, description="prior checkpoint (HF directory); --prior sets it")
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="torch threads; default: free cores")
    steps: int = Field(100, ge=1, description="training steps")
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(lr=1e-4))
    final: EvalConfig = Field(default_factory=_final_eval, description="before/after eval of summary.json")
    band_eval: bool = Field(True, description=BAND_EVAL_HELP)
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 on CUDA with bf16 and on CPUs with native bf16, else fp32")
    checkpoint_every: int = Field(25, ge=1, description="training steps between checkpoints")
    allow_unclicked_prior: bool = Field(False, description="accept a prior that never left the loss plateau")

    @model_validator(mode="after")
    def _splits(self) -> "StageConfig":
        from priorlab.worlds import SPLIT_BUCKETS

        for field, split in [("data.split", self.data.split)] + [("final.splits", s) for s in self.final.splits]:
            if split not in SPLIT_BUCKETS:
                raise ValueError(f"{field}: unknown split {split!r}.{did_you_mean(split, list(SPLIT_BUCKETS))}")
        return self


class SFTConfig(StageConfig):
    """Everything that defines an SFT run on top of a prior checkpoint."""

    teacher: str | None = Field(None, description="teacher checkpoint (data.source=teacher); --teacher sets it")
    data: SFTDataConfig = Field(default_factory=SFTDataConfig)


def sft_config_path(config: str | None) -> Path:
    """An SFT preset name (``distill``, ``rft``, ``demos``; default ``distill``) or a YAML file."""
    return preset_path("sft", config, "distill")


def check_inputs(cfg: SFTConfig) -> None:
    """Fail early, in one line, on a bad prior (:func:`priorlab.rl.config.check_prior`), a teacher
    that is missing or not a checkpoint, or one of another world or vocabulary than the prior."""
    from priorlab.rl.config import check_prior

    check_prior(cfg)
    if cfg.data.source == "corpus":
        if cfg.teacher:
            raise ConfigError(f"teacher: {cfg.teacher} is set but data.source=corpus trains on world-rendered "
                              f"demonstrations; drop --teacher or set data.source=teacher")
        return check_corpus(cfg)
    if not cfg.teacher:
        raise ConfigError("teacher: data.source=teacher needs a teacher checkpoint; pass --teacher RUN/model "
                          "(or set data.source=corpus)")
    if not (Path(cfg.teacher) / "config.json").exists():
        raise ConfigError(f"teacher: {cfg.teacher!r} is not a model directory (config.json + safetensors); "
                          f"pass --teacher RUN/model")
    from priorlab.evaluate import checkpoint_meta
    from priorlab.model import check_model_dir
    from priorlab.tokenizer import load_tokenizer

    check_model_dir(cfg.teacher)
    world, prior_world = checkpoint_meta(cfg.teacher).get("world"), checkpoint_meta(cfg.prior).get("world")
    if world != prior_world:
        raise ConfigError(f"teacher: {cfg.teacher} is of world {json.dumps(world)}, the prior of "
                          f"{json.dumps(prior_world)}; distil from a checkpoint of the prior's world")
    if load_tokenizer(cfg.teacher).get_vocab() != load_tokenizer(cfg.prior).get_vocab():
        raise ConfigError(f"teacher: {cfg.teacher} has another vocabulary than the prior {cfg.prior}; distil "
                          f"from a checkpoint with the prior's tokenizer")


def check_corpus(cfg) -> None:
    """The depths and contexts of ``cfg.data.corpus`` (SFT's demonstrations, RLP's documents) are
    ones the world of ``cfg.prior`` has."""
    from priorlab.config import check_depths
    from priorlab.evaluate import world_for

    world = world_for(cfg.prior)
    try:
        check_depths(world, "data.corpus.depths", cfg.data.corpus.depths)
    except ValueError as e:
        raise ConfigError(f"{e} (the prior's world, {cfg.prior}/priorlab.json)") from None
    bad = [c for c in cfg.data.corpus.contexts if c not in world.contexts]
    if bad:
        raise ConfigError(f"data.corpus.contexts: unknown context {bad[0]!r} for the prior's world {world.name!r}."
                          f"{did_you_mean(bad[0], world.contexts)} Known: {', '.join(world.contexts)}.")
