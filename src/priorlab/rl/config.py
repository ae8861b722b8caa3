"""Typed RL configuration (``priorlab rl``): one model, overridden by YAML presets and ``--set``.

Each field that names a registered piece (``algo.advantage``, ``algo.loss``, ``reward.weights``)
is checked against its registry up front, so a typo fails before any work with "did you mean".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from priorlab.config import ConfigError, EvalConfig, Strict, preset_path
from priorlab.config_checks import check_weights
from priorlab.errors import InputDataError
from priorlab.registry import did_you_mean


class RLDataConfig(Strict):
    """Which problems RL trains on: a depth band of one split, optionally filtered by difficulty."""

    split: str = "rl"
    depths: list[int] = Field(default_factory=lambda: [4, 5], min_length=1, description="the RL depth band")
    contexts: list[str] | None = Field(None, description="default: the prior's pretraining contexts")
    n_prompts: int = Field(256, ge=1, description="pool size per (depth, context) before filtering")
    epochs: float | None = Field(
        None, gt=0, description="size the pool for this many passes over it in the run: replaces n_prompts by "
                                "ceil(steps x rollout.prompts_per_step / (epochs x depths x contexts)), contexts "
                                "counted as len(data.contexts), or 1 where they default to the prior's; before a "
                                "pass_rate filter (a filtered pool is passed over more often)")
    pass_rate: tuple[float, float] | None = Field(
        None, description="keep prompts whose prior pass rate lies in [lo, hi] (edge of competence)")
    probe_samples: int = Field(16, ge=1, description="samples per pool prompt to measure the prior's pass rate")
    one_shot: int | None = Field(None, ge=0, description="train on this single pool problem only")
    labels: Literal["majority", "perturbed"] = Field(
        "majority", description="wrong labels for the incorrect_label reward: the prior's majority wrong "
                                "answer, or the true answer shifted by a seeded offset")

    @property
    def cells(self) -> int:
        """(depth, context) cells of the pool, contexts counted as 1 where they default to the prior's."""
        return len(self.depths) * len(self.contexts or [None])

    @model_validator(mode="after")
    def _check(self) -> "RLDataConfig":
        if self.pass_rate is not None and not 0 <= self.pass_rate[0] <= self.pass_rate[1] <= 1:
            raise ValueError(f"data.pass_rate: need 0 <= lo <= hi <= 1, got {list(self.pass_rate)}")
        return self


class RolloutConfig(Strict):
    prompts_per_step: int = Field(16, ge=1)
    group_size: int = Field(8, ge=1, description="G samples per prompt")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1, description="default: 1.5x the longest gold solution + 16")
    mask_truncated: bool = Field(False, description="drop completions that hit max_new_tokens from the loss")


class AlgoConfig(Strict):
    """Advantage estimator x policy loss x update schedule."""

    advantage: str = "grpo"
    advantage_args: dict[str, Any] = Field(default_factory=dict, description="e.g. {lam: 0.1} for w_reinforce")
    loss: str = "clipped"
    eps_low: float = Field(0.2, ge=0)
    eps_high: float = Field(0.2, ge=0)
    kl_coef: float = Field(0.0, ge=0, description="k3 KL to the prior in the loss")
    entropy_coef: float = Field(0.0, description="entropy bonus (subtracted from the loss)")
    agg: Literal["token_mean", "seq_mean_token_mean", "constant"] = "token_mean"
    normaliser: float | None = Field(None, gt=0, description="constant aggregation: default sequences x max_new_tokens")
    mini_batches: int = Field(4, ge=1, description="optimizer steps per rollout batch and epoch")
    epochs: int = Field(1, ge=1, description="passes over each rollout batch")
    micro_batch_size: int | None = Field(None, ge=1, description="sequences per forward (gradient accumulation)")
    value_coef: float = Field(1.0, gt=0, description="PPO critic: value-loss weight")
    value_clip: float | None = Field(0.2, gt=0, description="PPO critic: clip values around the rollout's")
    critic_lr: float = Field(1e-4, gt=0)

    @model_validator(mode="after")
    def _known(self) -> "AlgoConfig":
        from priorlab.rl.advantages import ADVANTAGES
        from priorlab.rl.losses import LOSSES

        for field, name, reg in (("algo.advantage", self.advantage, ADVANTAGES), ("algo.loss", self.loss, LOSSES)):
            if name not in reg:
                raise ValueError(f"{field}: unknown {reg.kind} {name!r}.{did_you_mean(name, reg.names())} "
                                 f"Known: {', '.join(reg.names())}.")
        return self


class RewardConfig(Strict):
    weights: dict[str, float] = Field(default_factory=lambda: {"correct": 1.0},
                                      description="registered reward -> weight (summed where they apply)")
    args: dict[str, Any] = Field(default_factory=dict, description="extra reward arguments, e.g. {gamma: 0.5}")

    @model_validator(mode="after")
    def _known(self) -> "RewardConfig":
        from priorlab.rl.rewards import REWARDS

        check_weights(self.weights, "reward.weights", REWARDS.names())
        return self


class OptimConfig(Strict):
    lr: float = Field(3e-5, gt=0, description="measured on the demo prior: 3e-5 beat 1e-5 and 1e-4 (docs/rl.md)")
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    warmup_steps: int = Field(0, ge=0, description="optimizer steps of linear warm-up, then constant")
    update_fraction: float | None = Field(
        None, gt=0, le=1, description="let only this share of each parameter tensor's entries change (a mask "
                                      "seeded by the run seed and the parameter name); the rest stay exactly equal")

    @model_validator(mode="after")
    def _masked(self) -> "OptimConfig":
        if self.update_fraction is not None and self.weight_decay > 0:
            raise ValueError(f"optim.update_fraction={self.update_fraction} with optim.weight_decay="
                             f"{self.weight_decay}: decay would move the masked entries too; set optim.weight_decay=0")
        return self


class ProbeEvalConfig(Strict):
    """A small periodic eval on a fixed subset (the eval split at the band's depths)."""

    every: int = Field(10, ge=0, description="RL steps between evals (0 = off)")
    n_problems: int = Field(16, ge=1, description="problems per band depth")
    n_samples: int = Field(8, ge=1)


class CritiqueConfig(Strict):
    """Critique-GRPO (arXiv 2506.03106, :mod:`priorlab.rl.refine`): refinements of failed prompts."""

    enabled: bool = Field(False, description="refine every prompt whose group holds no verified sample")
    kind: Literal["none", "answer", "step", "gold"] = Field(
        "step", description="the critique: none (right/wrong), answer (the gold answer), step (the first wrong "
                            "step with its expected values); gold places the gold trace itself (a label-leak control)")
    gamma: float = Field(0.1, gt=0, description="shaping f(p) = p / (p + gamma) of refinement tokens")
    loss: Literal["shaped_offpolicy", "reinforce"] = Field(
        "shaped_offpolicy", description="loss on refinement tokens: shaped_offpolicy, -A f(p) (the paper's), or "
                                        "reinforce, -A log p (their advantage-weighted likelihood); the shaping's "
                                        "gradient in log p is gamma p / (p + gamma)^2, about p / gamma, so it cannot "
                                        "raise a token the policy gives p << gamma")
    refinements: int = Field(4, ge=1, description="refinements per failed prompt, one from each of its first "
                                                  "samples; the best enters the group (<= rollout.group_size)")


def _final_eval() -> EvalConfig:
    return EvalConfig(splits=["eval"], depths=[2, 3, 4, 5, 6], n_problems=32, n_samples=32)


#: ``band_eval``'s help (RL and the stages that share its before/after evaluation).
BAND_EVAL_HELP = ("also evaluate before/after on the training band (problems of the RL pool, "
                  "before/ and after/band); false: the held-out final evaluation only")


class RLConfig(Strict):
    """Everything that defines an RL run on top of a prior checkpoint."""

    prior: str | None = Field(None, description="prior checkpoint (HF directory); --prior sets it")
    seed: int = 0
    steps: int = Field(100, ge=1, description="rollout batches")
    data: RLDataConfig = Field(default_factory=RLDataConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    algo: AlgoConfig = Field(default_factory=AlgoConfig)
    reward: RewardConfig = Field(default_factory=RewardConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    probe: ProbeEvalConfig = Field(default_factory=ProbeEvalConfig)
    critique: CritiqueConfig = Field(default_factory=CritiqueConfig)
    final: EvalConfig = Field(default_factory=_final_eval, description="before/after eval of summary.json")
    band_eval: bool = Field(True, description=BAND_EVAL_HELP)
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="update precision; auto: bf16 on CUDA with bf16 and on CPUs with native bf16 "
                            "(AMX, AVX512-BF16), else fp32; old log-probs recomputed in it so the first ratio is 1")
    threads: int | None = Field(None, ge=1, description="torch threads; default: free cores")
    checkpoint_every: int = Field(25, ge=1, description="RL steps between checkpoints")
    kl_every: int = Field(1, ge=0, description="RL steps between KL-to-prior measurements when algo.kl_coef "
                                               "is 0 (0 = never): a no-grad forward of the prior, ~30% of an update")
    allow_unclicked_prior: bool = Field(False, description="accept a prior that never left the loss plateau "
                                                           "(clicked: false), to study plateaued priors")

    @model_validator(mode="after")
    def _cross(self) -> "RLConfig":
        from priorlab.worlds import SPLIT_BUCKETS

        for field, split in [("data.split", self.data.split)] + [("final.splits", s) for s in self.final.splits]:
            if split not in SPLIT_BUCKETS:
                raise ValueError(f"{field}: unknown split {split!r}.{did_you_mean(split, list(SPLIT_BUCKETS))}")
        _check_group(self.algo.advantage, self.rollout.group_size)
        if self.critique.enabled and self.critique.refinements > self.rollout.group_size:
            raise ValueError(f"critique.refinements={self.critique.refinements}: one refinement per failed sample, "
                             f"and a group holds rollout.group_size={self.rollout.group_size}; lower it")
        if self.data.epochs is not None:
            self.data.n_prompts = math.ceil(self.steps * self.rollout.prompts_per_step
                                            / (self.data.epochs * self.data.cells))
        batch = self.rollout.prompts_per_step * self.rollout.group_size
        if self.algo.mini_batches > batch:
            raise ValueError(f"algo.mini_batches={self.algo.mini_batches} exceeds the rollout batch of {batch} "
                             f"completions (rollout.prompts_per_step x rollout.group_size)")
        return self


def _check_group(advantage: str, group_size: int) -> None:
    """A group-relative estimator (``advantages.group_relative``) needs >= 2 samples per prompt."""
    from priorlab.rl.advantages import ADVANTAGES

    if group_size < 2 and getattr(ADVANTAGES.get(advantage), "group_relative", False):
        others = [n for n in ADVANTAGES.names() if not getattr(ADVANTAGES.get(n), "group_relative", False)]
        raise ValueError(f"rollout.group_size={group_size}: algo.advantage={advantage} compares the samples of one "
                         f"prompt, so every advantage would be 0 and nothing would be learned; set "
                         f"rollout.group_size >= 2 or use an estimator without a group baseline ({', '.join(others)})")


def rl_config_path(config: str | None) -> Path:
    """An RL preset name (``grpo``, ``ppo``, ...; default ``grpo``) or a YAML file -> its path."""
    return preset_path("rl", config, "grpo")


def check_prior(cfg: RLConfig) -> None:
    """Fail early (before any evaluation or sampling) when ``cfg.prior`` is not a loadable model
    directory, is a priorlab prior that never clicked (:mod:`priorlab.click`) and the run does not
    allow it, or when the depths and contexts asked of it are not ones its world has."""
    if not cfg.prior or not (Path(cfg.prior) / "config.json").exists():  # before torch is imported (seconds)
        raise ConfigError(f"prior: {cfg.prior!r} is not a model directory (config.json + safetensors); "
                          f"pass --prior RUN/model")
    if not cfg.allow_unclicked_prior and (info := unclicked(cfg.prior)) is not None:
        raise ConfigError(f"prior: {cfg.prior} {unclicked_reason(info)}; see its run's metrics.jsonl. "
                          + ("Train it again with fewer steps or a lower learning rate, or start from its prior"
                             if info.get("click_lost") else "Pretrain longer (--set pretrain.tokens=...) or with "
                             "another recipe") + ", or pass --set allow_unclicked_prior=true to study such a prior")
    _check_world(cfg)


def unclicked(prior: str | Path) -> dict | None:
    """The ``priorlab.json`` of a priorlab prior that never clicked (:mod:`priorlab.click`), else
    None (it clicked, was not probed, or is not a priorlab prior); torch-free."""
    meta = Path(prior) / "priorlab.json"
    if not meta.exists():
        return None
    try:
        info = json.loads(meta.read_text())
    except ValueError:
        raise InputDataError(f"prior: {meta} is not valid JSON; re-save the prior or pass another") from None
    return info if isinstance(info, dict) and info.get("clicked") is False else None


def unclicked_reason(info: dict) -> str:
    """Why a prior whose ``priorlab.json`` is ``info`` (``clicked: false``) is refused, in words."""
    if lost := info.get("click_lost"):
        why = (f"{lost['why']}: it stopped writing them" if lost.get("why") else
               f"trace accuracy {lost.get('trace_acc')} < {info.get('click_threshold')}")
        return f"lost its click in its {lost.get('stage')} stage (clicked: false; {why} on the click probe at its end)"
    return (f"never clicked: it never left the loss plateau (clicked: false, trace accuracy below "
            f"{info.get('click_threshold')} at every probe)")


def check_critique(cfg: RLConfig) -> None:
    """With critiques on, the prior's tokenizer must read them: the critique markers must be tokens
    (they come with refinement documents in pretraining); a gold trace needs none."""
    from priorlab.tokenizer import load_tokenizer
    from priorlab.worlds.formats import CRITIQUE_TOKENS

    if not cfg.critique.enabled or cfg.critique.kind == "gold":
        return
    vocab = load_tokenizer(cfg.prior).get_vocab()
    missing = [t for t in CRITIQUE_TOKENS if t not in vocab]
    if missing:
        raise ConfigError(f"critique.enabled: the prior {cfg.prior} has no token {missing[0]} (it was pretrained "
                          f"without refinement documents); pretrain or continue it with corpus.refine.share > 0, "
                          f"or set critique.kind=gold")


def _check_world(cfg: RLConfig) -> None:
    """The prior loads, and its world has the depths and contexts the run asks for."""
    from priorlab.config import check_depths
    from priorlab.evaluate import world_for
    from priorlab.model import check_model_dir

    check_model_dir(cfg.prior)
    world = world_for(cfg.prior)
    try:
        for field, depths in (("data.depths", cfg.data.depths), ("final.depths", cfg.final.depths or [])):
            check_depths(world, field, depths)
    except ValueError as e:
        raise ConfigError(f"{e} (the prior's world, {cfg.prior}/priorlab.json)") from None
    for field, contexts in (("data.contexts", cfg.data.contexts), ("final.contexts", cfg.final.contexts)):
        bad = [c for c in contexts or [] if c not in world.contexts]
        if bad:
            raise ConfigError(f"{field}: unknown context {bad[0]!r} for the prior's world {world.name!r}."
                              f"{did_you_mean(bad[0], world.contexts)} Known: {', '.join(world.contexts)}.")
