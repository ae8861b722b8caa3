"""Typed configuration: one source of truth, overridden by YAML files and ``--set a.b=c``.

``load_config(path, sets)`` validates everything up front and raises :class:`ConfigError`
whose message names the file, the dotted field, the problem and the fix.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from priorlab.config_checks import check_corpus, check_weights
from priorlab.errors import ConfigError  # noqa: F401  (re-exported: priorlab.config.ConfigError)
from priorlab.overrides import apply_sets, first_error
from priorlab.registry import did_you_mean

#: Validation context: ``--set`` overrides are still to be merged (:func:`load_config`), so the
#: normalisations that compare fields (``CorpusConfig._one_spelling_of_no_slips``) wait for them.
OVERRIDES_FOLLOW = "overrides_follow"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class WorldConfig(BaseModel):
    """``name`` picks a registered world; other keys are that world's own knobs."""

    model_config = ConfigDict(extra="allow")
    name: str = "arith_dag"
    seed: int = 0

    @model_validator(mode="after")
    def _known(self) -> "WorldConfig":
        from priorlab.worlds import WORLDS

        if self.name not in WORLDS:
            raise ValueError(f"world.name: unknown world {self.name!r}."
                             f"{did_you_mean(self.name, WORLDS.names())} Known: {', '.join(WORLDS.names())}.")
        knobs = WORLDS.get(self.name).Config
        try:
            knobs(**(self.model_extra or {}))
        except ValidationError as e:
            raise ValueError("world." + first_error(e, knobs)) from None
        return self

    def build(self):
        from priorlab.worlds import make_world

        return make_world(self.name, seed=self.seed, **(self.model_extra or {}))

    def changed(self, knobs: dict[str, Any]) -> "WorldConfig":
        """This world with ``knobs`` changed (``corpus.curriculum.world``: a first phase's world)."""
        return WorldConfig(**(self.model_dump() | knobs))


class ContaminationConfig(Strict):
    """Put eval items (with solutions) into the pretraining corpus, on purpose."""

    split: str = "eval-contaminated"
    n_items: int = Field(0, ge=0, description="items per depth (indices 0..n_items-1)")
    repeats: int = Field(1, ge=1, description="copies of each item in the corpus")
    format: str = "steps"
    depths: list[int] | None = Field(None, description="default: the corpus depths")
    whole_document: bool = Field(False, description="train on the question tokens of contaminated documents "
                                 "too, as web-scale pretraining trains on every word of a leaked benchmark "
                                 "(Wu et al.'s tiny-model re-test plants questions and solutions verbatim); "
                                 "off, they are trained like every other document, on the solution only")


class RefineDocsConfig(Strict):
    """Refinement documents (Critique-GRPO's corpus, docs/rl.md): the question, a wrong attempt
    (``World.wrong_solution``), the verifier's critique of it, then the correct solution in the
    steps format; the loss covers only that solution (what follows the last ``<sol>``)."""

    share: float = Field(0.0, ge=0.0, lt=1.0, description="share of documents replaced by refinement documents "
                                                          "(0.05-0.1 teaches a prior to read critiques)")
    critiques: dict[str, float] = Field(default_factory=lambda: {"none": 1.0, "answer": 1.0, "step": 1.0},
                                        description="critique kind -> weight")

    @model_validator(mode="after")
    def _kinds(self) -> "RefineDocsConfig":
        from priorlab.worlds.critique import KINDS

        check_weights(self.critiques, "corpus.refine.critiques", list(KINDS))
        return self


class CurriculumConfig(Strict):
    """A first phase of pretraining: ``share`` of the corpus's rows hold documents drawn with ``depths``
    and ``formats`` (the rest as the corpus's), served first in their own seeded order; ``share`` 0: none."""

    share: float = Field(0.0, ge=0.0, lt=1.0, description="share of the corpus's rows served first")
    depths: dict[int, float] = Field(default_factory=lambda: {1: 1.0, 2: 1.0},
                                     description="depth weights of the first phase's documents")
    formats: dict[str, float] | None = Field(None, description="format weights of the first phase's documents "
                                             "({steps: 1.0}: a trace-only warm-up); None: the corpus's")
    world: dict[str, Any] = Field(default_factory=dict, description="the world's knobs changed for the first phase's "
                                  "documents ({modulus: 7}: a smaller-modulus phase); its vocabulary must be the world's "
                                  "or part of it")
    format_accuracy: dict[str, float] | None = Field(
        None, description="per-operation accuracy of the first phase's documents, as corpus.format_accuracy "
                          "({}: every one right, a slip-free phase); None: the corpus's (a value equal to "
                          "it resolves to None: same documents, same store hash)")


class CorpusConfig(Strict):
    seed: int = 0
    formats: dict[str, float] = Field(default_factory=lambda: {"steps": 0.7, "answer": 0.3})
    depths: dict[int, float] = Field(default_factory=lambda: {2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0})
    contexts: dict[str, float] = Field(default_factory=lambda: {"letters": 1.0})
    confidence_prob: float = Field(0.0, ge=0.0, le=1.0, description="share of documents with a <conf> field")
    confidence_op_acc: dict[str, float] | None = Field(
        None, description="what a document's <conf> field states. None: a value drawn uniformly from "
                          "50..100%, independent of the problem (nothing to learn). {format: p}: p ** depth, "
                          "the chance that an author whose every operation is right with probability p "
                          "(per solution format) gets the whole answer right, i.e. what a calibrated solver "
                          "of that depth and format states; every corpus format needs an entry")
    confidence_noise: float = Field(
        0.0, ge=0.0, le=0.5, description="with confidence_op_acc: std of Gaussian noise added to p ** depth "
                                         "(clipped to [0, 1]) before rounding to a 10% token, so the stated "
                                         "value varies between documents around the calibrated one and RL "
                                         "has neighbouring confidences to sample")
    contamination: ContaminationConfig = Field(default_factory=ContaminationConfig)
    facts: float = Field(0.0, ge=0.0, lt=1.0, description="share of the corpus's tokens given to operation-fact "
                                                          "drills, one fact per document (`a op b <sol> c`); not a "
                                                          "solution format. Measured: 35% drills did not make the "
                                                          "traces click earlier (docs/pretraining.md)")
    format_accuracy: dict[str, float] | None = Field(
        None, description="per-operation accuracy of each format's documents, e.g. {code: 0.95, steps: 0.7}: each "
                          "operation of a document in that format is wrong with probability 1 - p (a uniformly "
                          "drawn wrong value, carried into later steps and the answer, as an author's slip "
                          "would be); formats not listed are always right; None: every document is right")
    refine: RefineDocsConfig = Field(default_factory=RefineDocsConfig)
    thoughts: float = Field(0.0, ge=0.0, le=1.0, description="share of documents (every format; never refinement, "
                            "contaminated or drill documents) that carry a thought: <think> the steps-format "
                            "trace </think> inserted before a uniformly drawn token of the solution. The verifier "
                            "skips well-formed thoughts; a prior that has read them has a channel RL during "
                            "pretraining can reward (docs/rlp.md)")
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    drawn_orders: float = Field(0.0, ge=0.0, le=1.0, description="share of documents whose trace lists its "
                                "operations in a valid order drawn for that document instead of the prompt's "
                                "(several exist with world.branches=2; a chain has one), so a prior learns more "
                                "than one correct path per problem")

    @model_validator(mode="after")
    def _noise_needs_op_acc(self) -> "CorpusConfig":
        if self.confidence_noise and self.confidence_op_acc is None:
            raise ValueError("corpus.confidence_noise: acts only with corpus.confidence_op_acc (the default "
                             "uniform confidence is noise already); set both or neither")
        return self

    @model_validator(mode="after")
    def _one_spelling_of_no_slips(self, info: ValidationInfo) -> "CorpusConfig":
        """Documents that one config makes have one resolved config and one store hash: a format accuracy
        that changes no document is kept as None (``{}`` for the corpus: no slips either way; the first
        phase's when equal to what it inherits). Not while ``--set`` overrides are still to come
        (:func:`load_config`): the demo config's slip-free phase (``{}``, equal to its slip-free
        corpus's) must stay slip-free under a composition's overrides that add slips."""
        if (info.context or {}).get(OVERRIDES_FOLLOW):
            return self
        if self.format_accuracy == {}:
            self.format_accuracy = None
        if self.curriculum.format_accuracy == (self.format_accuracy or {}):  # a copy: the phase may be shared
            self.curriculum = self.curriculum.model_copy(update={"format_accuracy": None})
        return self


class ModelConfig(Strict):
    preset: str = "demo"
    d_model: int | None = Field(None, ge=8)
    n_layers: int | None = Field(None, ge=1)
    n_heads: int | None = Field(None, ge=1)
    d_ff: int | None = Field(None, ge=8)
    tie_embeddings: bool = Field(False, description="share input embedding and output head")
    init_std: float = Field(0.02, gt=0, description="std of the normal initialisation (HF initializer_range)")

    @field_validator("preset")
    @classmethod
    def _preset(cls, v: str) -> str:
        from priorlab.model import PRESETS

        if v not in PRESETS:
            raise ValueError(f"unknown preset {v!r}.{did_you_mean(v, list(PRESETS))} Known: {', '.join(PRESETS)}.")
        return v

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelConfig":
        from priorlab.model import PRESETS

        d, _, heads, _ = PRESETS[self.preset]
        d, heads = self.d_model or d, self.n_heads or heads
        if d % heads:
            raise ValueError(f"model.n_heads={heads} does not divide model.d_model={d} (each head gets d_model / "
                             f"n_heads dimensions); pick n_heads among {[h for h in range(1, d + 1) if d % h == 0]}")
        return self


class PretrainConfig(Strict):
    tokens: int = Field(6_000_000, gt=0, description="training budget in tokens (rows x seq_len)")
    batch_size: int = Field(16, ge=1)
    seq_len: int = Field(256, ge=32)
    lr: float = Field(2e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = Field(0.1, ge=0)
    warmup_steps: int = Field(50, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    grad_clip: float = Field(1.0, gt=0)
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    compile: Literal["auto"] | bool = Field(
        False, description="torch.compile the training forward/backward (1.45x faster on CPU, another draw of "
                           "the same seed: docs/performance.md); auto = on CPU for runs of at least "
                           "runtime.COMPILE_MIN_STEPS steps when a C++ compiler is found; true (or on) = any "
                           "device; false (or off, the default) = eager")
    seed: int = 0
    checkpoint_every: int = Field(250, ge=1, description="steps between checkpoints")
    log_every: int = Field(10, ge=1)
    threads: int | None = Field(None, ge=1, description="torch threads; default: free cores")
    init_from: str | None = Field(
        None, description="start from this priorlab checkpoint's weights instead of a fresh initialisation (a "
                          "continued / mid-training stage on this corpus; same world, tokenizer and model "
                          "shape; fresh optimizer and schedule)")
    probe_every: int = Field(100, ge=0, description="steps between plateau probes (priorlab.click); 0 = no probe, "
                                                    "clicked is then null")
    click_threshold: float = Field(0.5, gt=0, le=1, description="trace accuracy at which the prior counts as "
                                                                "clicked (left the loss plateau)")

    @property
    def total_steps(self) -> int:
        """Optimizer steps the budget makes: tokens over a step's rows x seq_len (at least 1)."""
        return max(1, self.tokens // (self.batch_size * self.seq_len))


class EvalConfig(Strict):
    splits: list[str] = Field(default_factory=lambda: ["eval"])
    depths: list[int] | None = Field(None, description="default: the world's eval depths (arith_dag: 2-7)")
    contexts: list[str] | None = Field(None, description="default: the corpus contexts")
    n_problems: int = Field(32, ge=1, description="problems per (split, depth, context)")
    problem_offset: int = Field(0, ge=0, description="index of the first problem of each (split, depth, context): "
                                                     "disjoint problem sets per RL seed")
    n_samples: int = Field(64, ge=1, description="completions per problem (n >= largest k)")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1, description="default: 1.5x the gold length + 16")
    seed: int = 0
    bootstrap: int = Field(1000, ge=10)
    max_rows: int = Field(1024, ge=1, description="sampler rows per chunk")


class PriorConfig(Strict):
    """Everything that defines a prior and its evaluation."""

    world: WorldConfig = Field(default_factory=WorldConfig)
    corpus: CorpusConfig = Field(default_factory=CorpusConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _cross(self) -> "PriorConfig":
        from priorlab.worlds import SPLIT_BUCKETS

        world = self.world.build()
        c = self.corpus
        if world.pretrainable:  # a dataset or reasoning-gym world only evaluates: no corpus to check
            check_corpus(c, self.world, world)
        fields = [("eval.depths", self.eval.depths or [])]
        if world.pretrainable:
            fields += [("corpus.depths", c.depths), ("corpus.contamination.depths", c.contamination.depths or [])]
        for field, depths in fields:
            check_depths(world, field, depths)
        for s in self.eval.splits:
            if s not in SPLIT_BUCKETS:
                raise ValueError(f"eval.splits: unknown split {s!r}.{did_you_mean(s, list(SPLIT_BUCKETS))}")
        for ctx in self.eval.contexts or []:
            if ctx not in world.contexts:
                raise ValueError(f"eval.contexts: unknown context {ctx!r}.{did_you_mean(ctx, world.contexts)}")
        return self


def check_depths(world, field: str, depths) -> None:
    """Every depth is one the world has items at (else a message naming ``field`` and the fix)."""
    have = world.depths
    bad = [d for d in depths if int(d) not in have]
    if bad:
        span = f"{have[0]}..{have[-1]}" if have == list(range(have[0], have[-1] + 1)) else ", ".join(map(str, have))
        raise ValueError(f"{field}: depth {bad[0]} out of range for world {world.name!r} (its depths: {span}); "
                         f"pick depths from those (e.g. --depths {have[0]})"
                         + (" or raise world.max_depth" if world.pretrainable else ""))


def default_config_path(name: str = "demo") -> Path:
    return Path(str(resources.files("priorlab") / "configs" / f"{name}.yaml"))


def preset_path(group: str, config: str | None, default: str) -> Path:
    """A preset of ``configs/<group>/`` (``rl``: grpo, ppo, ...; ``sft``: distill, ...; default
    ``default``) or a YAML file -> its path; anything else is a ConfigError listing the presets."""
    path = Path(config or default)
    if path.exists():
        return path
    presets = sorted(p.stem for p in default_config_path(f"{group}/{default}").parent.glob("*.yaml"))
    if path.suffix or path.name not in presets:
        raise ConfigError(f"--config {config}: no such file and no {group.upper()} preset of that name."
                          f"{did_you_mean(path.name, presets)} Presets: {', '.join(presets)}.")
    return default_config_path(f"{group}/{path.name}")


def read_yaml(path: str | Path, what: str) -> dict:
    """The mapping in YAML file ``path`` ({} when empty); a missing file, a syntax error (its
    line and column) or another top level is a one-line :class:`ConfigError` naming ``what``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {p} " + ("is a directory; give a YAML file" if p.is_dir() else "does not exist"))
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p}: not valid YAML ({why}{at})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file; give a YAML {what}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got a {type(data).__name__}")
    return data


def load_config(path: str | Path | None = None, sets: list[str] = (), model=PriorConfig):
    """Validate YAML ``path`` (or the defaults), then apply ``--set`` overrides and re-validate."""
    where = str(path) if path else "defaults"
    data = read_yaml(path, "config file") if path is not None else {}
    try:
        cfg = model.model_validate(data, context={OVERRIDES_FOLLOW: bool(sets)})
        if sets:
            merged = cfg.model_dump()
            apply_sets(merged, sets)
            where += " + --set " + " ".join(sets)
            cfg = model.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(f"config error ({where}): {first_error(e, model)}. "
                          f"Fix it in the YAML file or with --set FIELD=VALUE.") from None
    return cfg


def config_text(cfg: BaseModel) -> str:
    """``cfg`` as the YAML a run directory's ``config.yaml`` holds (and ``--config`` reads back)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
