"""Typed RLP configuration (``priorlab rlp``): RL as a pretraining objective on a prior's corpus.

An RLP run continues a prior on world-rendered documents (``data.corpus``, as
``pretrain.corpus``): at ``rollout.prompts_per_step`` sampled positions per step the model
samples ``rollout.group_size`` thoughts of at most ``rollout.max_new_tokens`` tokens after
``<think>``, each rewarded by the information gain it brings to the next ``rlp.target_tokens``
document tokens over an EMA of the weights that does not think (arXiv 2510.01265). Thought
sampling, advantages and the clipped surrogate are RL's (``rollout``, ``algo``:
:mod:`priorlab.rl.update`); the before/after evaluation is RL's (``data`` band and ``final``).
"""

from __future__ import annotations

from pathlib import Path
from pydantic import Field, model_validator

from priorlab.config import CorpusConfig, Strict, preset_path
from priorlab.config_checks import check_weights
from priorlab.rl.config import AlgoConfig, RolloutConfig, _check_group
from priorlab.sft.config import StageConfig


class RLPDataConfig(Strict):
    """The documents RLP reads, and the band its ``band`` evaluation covers (RL's fields)."""

    corpus: CorpusConfig = Field(default_factory=CorpusConfig,
                                 description="documents: formats, depths, contexts and seed (pretrain-split "
                                             "problems, as priorlab.corpus renders them for pretraining)")
    corpus_tokens: int = Field(200_000, ge=1, description="words of documents to render")
    split: str = Field("rl", description="split of the band evaluation (the RL band a later GRPO trains on)")
    depths: list[int] = Field(default_factory=lambda: [4, 5], min_length=1, description="the band's depths")
    contexts: list[str] | None = Field(None, description="band contexts; default: the prior's pretraining contexts")
    n_prompts: int = Field(256, ge=1, description="band pool per (depth, context), as RL's data.n_prompts")


class ObjectiveConfig(Strict):
    """The information-gain reward and its EMA baseline."""

    target_tokens: int = Field(1, ge=1, description="document tokens after the position that the thought must "
                                                    "help predict (1: the paper's next token)")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="EMA baseline: φ ← d·φ + (1 − d)·θ after each step")
    ntp_coef: float = Field(0.0, ge=0, description="0: no next-token loss (the paper); > 0: after each RLP "
                                                   "update one more optimizer step on ntp_coef × the step's "
                                                   "documents' next-token loss (solution tokens)")


def _rlp_rollout() -> RolloutConfig:
    return RolloutConfig(prompts_per_step=16, group_size=8, temperature=0.7, max_new_tokens=16)


def _rlp_algo() -> AlgoConfig:
    return AlgoConfig(advantage="rloo", loss="clipped", mini_batches=1, agg="seq_mean_token_mean")


class RLPConfig(StageConfig):
    """Everything that defines an RLP run on top of a prior checkpoint (``steps``: RLP steps, one
    batch of positions x thoughts each)."""

    data: RLPDataConfig = Field(default_factory=RLPDataConfig)
    rollout: RolloutConfig = Field(default_factory=_rlp_rollout,
                                   description="prompts_per_step: positions per step; group_size: thoughts per "
                                               "position; max_new_tokens: thought length; temperature (0.7, "
                                               "the paper's)")
    algo: AlgoConfig = Field(default_factory=_rlp_algo, description="rloo = the paper's G/(G−1)·(r − mean r)")
    rlp: ObjectiveConfig = Field(default_factory=ObjectiveConfig)

    @model_validator(mode="after")
    def _cross(self) -> "RLPConfig":
        from priorlab.worlds import FORMATS

        check_weights(self.data.corpus.formats, "data.corpus.formats", FORMATS.names())
        check_weights(self.data.corpus.depths, "data.corpus.depths")
        check_weights(self.data.corpus.contexts, "data.corpus.contexts")
        _check_group(self.algo.advantage, self.rollout.group_size)
        if self.rollout.max_new_tokens is None:
            raise ValueError("rollout.max_new_tokens: the thought length; set it, e.g. rollout.max_new_tokens=16")
        if self.algo.mini_batches > self.rollout.prompts_per_step * self.rollout.group_size:
            raise ValueError(f"algo.mini_batches={self.algo.mini_batches} exceeds the thoughts per step "
                             f"(rollout.prompts_per_step x rollout.group_size)")
        return self


def rlp_config_path(config: str | None) -> Path:
    """An RLP preset name (default ``rlp``) or a YAML file -> its path."""
    return preset_path("rlp", config, "rlp")


def check_inputs(cfg: RLPConfig) -> None:
    """Fail early, in one line, on a bad prior (:func:`priorlab.rl.config.check_prior`), one whose
    world has no fixed vocabulary to pretrain on, or corpus depths / contexts its world lacks."""
    from priorlab.config import ConfigError
    from priorlab.evaluate import world_for
    from priorlab.rl.config import check_prior
    from priorlab.sft.config import check_corpus

    check_prior(cfg)
    if not world_for(cfg.prior).pretrainable:
        raise ConfigError(f"prior: {cfg.prior} is of a world without a fixed vocabulary; RLP continues pretraining "
                          f"and needs a procedural world's prior (world.name=arith_dag)")
    check_corpus(cfg)
