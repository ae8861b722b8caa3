"""What a claim is: priors and RL arms to run, a measurement over those runs, a verdict rule.

A :class:`Claim` never runs anything itself. It declares, for a :class:`Scale`, the priors
(:class:`PriorSpec`: ``--set`` overrides of the demo prior config) and the arms (:class:`Arm`:
an RL or SFT preset plus overrides, run once per seed, on a prior or on another arm) it needs; ``priorlab retest``
collects the declarations of every chosen claim, runs each distinct job once (identical
specs are shared between claims), and hands the finished run directories to
:meth:`Claim.measure` (tidy rows, one per arm x seed x evaluation problem) and
:meth:`Claim.judge` (parts, controls and the verdict from those rows,
:mod:`priorlab.claims.stats`). ``judge`` is a pure function of the table, so a doctored table
or a control changes the verdict in a test without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from priorlab.claims.stats import Verdict
from priorlab.registry import Registry


@dataclass(frozen=True)
class Scale:
    """How big every run of a retest is.

    ``prior_sets``, ``rl_sets`` and ``sft_sets`` are ``--set`` overrides applied to every prior,
    every RL arm and every SFT arm before the claim's own; ``continue_sets`` (a continued prior's budget,
    learning rate and no first phase) before a continued prior's own; ``stage_sets`` before the own of a prior made by
    another run kind (:attr:`PriorSpec.kind`, e.g. an RLP stage); ``n_large`` is the sample count per
    problem for pass@k claims
    (k runs up to it); ``prior_threads`` the torch threads of a prior job; ``spare_seeds`` the prior seeds
    that stand in, in order, for a from-scratch replica that never clicked (RL seed s then runs on the
    spare: a claim keeps as many clicked priors as it has seeds while spares last). With ``horizons``
    every arm runs the RL horizon its claim declares (:attr:`Claim.horizon`) instead of the
    ``steps`` in ``rl_sets``.
    """

    name: str
    seeds: tuple[int, ...]
    prior_sets: tuple[str, ...]
    rl_sets: tuple[str, ...]
    n_large: int
    n_problems: int
    continue_sets: tuple[str, ...] = ()
    prior_threads: int = 1
    horizons: bool = False
    sft_sets: tuple[str, ...] = ()
    stage_sets: tuple[str, ...] = ()
    spare_seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Horizon:
    """The RL horizon a paper's effect needs: ``steps`` and ``epochs`` of its prompt pool."""

    steps: int
    epochs: float
    source: str = ""


#: A continued prior (:attr:`PriorSpec.base`): 2M tokens at a quarter of the demo learning rate, on its
#: own mix from the first row (the demo recipe's modulus-7 first phase is for a prior from scratch: it
#: would spend a third of a continuation on another world's arithmetic). A mid-training stage on another
#: mix; a composition trained from scratch on the demo recipe (claims.common.scratch) is the other way.
CONTINUE = ("pretrain.tokens=2000000", "pretrain.lr=0.0005", "pretrain.warmup_steps=20", "corpus.curriculum.share=0")

#: A prior stage made by another run kind (RLP) evaluates itself briefly: the claims measure it after RL.
STAGE_EVAL = ("final.depths=[4,5]", "final.n_problems=8", "final.n_samples=8", "data.n_prompts=64", "band_eval=false")

SCALES: dict[str, Scale] = {
    # CI and smoke tests: a tiny model, two RL steps; numbers mean nothing (its priors never click,
    # so a prior's own evaluation is cut to 2 depths x 4 x 4: at the demo's 6 x 32 x 64 it was 90%
    # of a tiny prior job, every completion running to its token limit; and no teacher sample is ever
    # verified, so SFT keeps them all: a verified filter would stop on its empty set).
    "tiny": Scale("tiny", (0, 1, 2), (
        "model.preset=tiny", "pretrain.tokens=16384", "pretrain.batch_size=8", "pretrain.seq_len=160",
        "pretrain.warmup_steps=2", "pretrain.checkpoint_every=8", "pretrain.precision=fp32",
        "eval.depths=[2, 3]", "eval.n_problems=4", "eval.n_samples=4"), (
        "steps=2", "rollout.prompts_per_step=2", "rollout.group_size=4", "data.n_prompts=8",
        "probe.every=1", "probe.n_problems=2", "probe.n_samples=2", "checkpoint_every=2", "kl_every=0",
        "allow_unclicked_prior=true"),
        n_large=8, n_problems=3, continue_sets=("pretrain.tokens=8192", "corpus.curriculum.share=0"), sft_sets=(
            "steps=2", "data.n_prompts=2", "data.samples_per_prompt=2", "data.batch_size=4", "data.filter=none",
            "data.corpus_tokens=2000", "checkpoint_every=2", "allow_unclicked_prior=true"), stage_sets=(
            *STAGE_EVAL, "steps=2", "rollout.prompts_per_step=2", "rollout.group_size=2", "rollout.max_new_tokens=4",
            "data.corpus_tokens=2000", "data.n_prompts=8", "final.n_problems=2", "final.n_samples=2",
            "checkpoint_every=2", "allow_unclicked_prior=true")),
    # 3 seeds, 30 RL steps: ≈ 3.3 h on 2 cores from an empty store, ≈ 1.7 h of it the 24 from-scratch
    # replicas of eight compositions (AMX Xeon, 2026-12-07; 98 min measured for the claims on the demo
    # prior while four of them were continued variants; docs/claims.md). A single prior runs with 2
    # threads: the demo prior is then exactly docs/demo.md's; replicas one thread each, two at a time
    # (PriorSpec.threads).
    "small": Scale("small", (0, 1, 2), ("eval.n_problems=16", "eval.n_samples=16"), (
        "steps=30", "data.n_prompts=128", "probe.every=10", "checkpoint_every=30", "kl_every=0"),
        n_large=64, n_problems=24, continue_sets=CONTINUE, prior_threads=2, spare_seeds=(3, 4, 5),
        sft_sets=("steps=60", "checkpoint_every=60"),
        stage_sets=("steps=60", "rollout.prompts_per_step=8", *STAGE_EVAL)),
    # The papers' horizons (each claim's Claim.horizon), 5 seeds, n = 256 (cost: docs/claims.md).
    "medium": Scale("medium", (0, 1, 2, 3, 4), ("eval.n_problems=16", "eval.n_samples=16"), (
        "probe.every=25", "checkpoint_every=50", "kl_every=0"),  # the pool: each claim's horizon (data.epochs)
        n_large=256, n_problems=32, continue_sets=CONTINUE, prior_threads=2, spare_seeds=(5, 6, 7),
        horizons=True,
        stage_sets=("steps=300", *STAGE_EVAL)),
    # What a GPU afternoon buys: 5 seeds, 150 steps, n = 256.
    "full": Scale("full", (0, 1, 2, 3, 4), (), ("steps=150", "probe.every=10", "checkpoint_every=50"),
                  n_large=256, n_problems=64, continue_sets=CONTINUE, prior_threads=2, spare_seeds=(5, 6, 7),
                  stage_sets=("steps=1000",)),
}


@dataclass(frozen=True)
class PriorSpec:
    """A prior to pretrain: overrides of the demo config (``src/priorlab/configs/demo.yaml``).

    With ``base``, the prior named there is continued on this corpus mix
    (``pretrain.init_from``, the scale's ``continue_sets``): a mid-training stage. With
    ``match = (prior, budget)`` that continuation reads the tokens (``budget = "tokens"``) or
    spends the FLOPs (``"flops"``) of the finished RLP prior named there, on its documents
    (:func:`priorlab.rlp.matched.matched_sets`). ``kind`` other than ``pretrain`` makes the prior
    with that run kind from ``base`` (its default preset, the scale's ``stage_sets``, ``sets``):
    ``rlp``, an RLP stage.

    ``replicated`` priors are made once per scale seed: from scratch (``pretrain.seed`` and
    ``corpus.seed`` set to it: another initialisation, data order and document sample), or with
    ``base`` continued from it with the seed's data order and documents (a matched one matched to
    the seed's replica of ``match``, which must be replicated too). RL seed ``s`` runs on replica
    ``s``: the unit of replication is then a (prior seed, RL seed) pair, so an interval over seeds
    covers the variance between priors. Replicas come several at a time, so each trains at
    ``threads=1`` beside the others: at the demo model's size one thread does as much as two
    (docs/performance.md, "Priors side by side"); from scratch with ``pretrain.compile=auto``
    (compiled on a CPU with a C++ compiler: 1.3-1.45x; compiled demo-mix priors clicked 9 of 10
    at 9M, docs/performance.md, "Do compiled priors click?").
    ``threads`` None: the scale's ``prior_threads``. ``budget`` scales a continued prior's token
    budget (the scale's ``continue_sets``): a teacher that must be stronger than the prior it
    continues trains on ``budget`` times the tokens of a plain variant, at every scale alike.
    """

    name: str
    sets: tuple[str, ...] = ()
    about: str = ""
    base: str | None = None
    kind: str = "pretrain"
    match: tuple[str, str] | None = None
    replicated: bool = False
    threads: int | None = None
    budget: float = 1.0

    def needs(self) -> list[str]:
        """The priors this one is made from or matched to."""
        return [n for n in (self.base, self.match and self.match[0]) if n]

    def replicas(self, scale: Scale, replicated: frozenset[str] = frozenset()) -> list["PriorSpec"]:
        """The priors to train: one per scale seed when replicated, else this one; each with the
        seed's :data:`SEEDS` (from scratch compiled where it pays),
        matched to seed ``s``'s replica of ``match``, continued from seed ``s``'s replica of ``base``
        when ``base`` is among ``replicated`` (the names of the plan's replicated priors)."""
        if not self.replicated:
            return [self]
        return [self.replica_at(s, replicated) for s in scale.seeds]

    def replica_at(self, s: int, replicated: frozenset[str] = frozenset()) -> "PriorSpec":
        """This (replicated) prior's replica for prior seed ``s`` (:meth:`replicas`)."""
        scratch = (*SEEDS["pretrain"], "pretrain.compile=auto") if self.from_scratch else ()
        return replace(self, name=replica(self.name, s), about=f"{self.about} (prior seed {s})", replicated=False,
                       sets=(*self.sets, *(f.format(s=s) for f in scratch or SEEDS[self.kind])), threads=1,
                       base=replica(self.base, s) if self.base in replicated else self.base,
                       match=self.match and (replica(self.match[0], s), self.match[1]))

    @property
    def from_scratch(self) -> bool:
        """Pretrained from a fresh initialisation (not continued, matched or made by another run kind)."""
        return self.base is None and self.kind == "pretrain" and self.match is None


#: The seeds of a replica, by run kind: its initialisation (from scratch), data order, document sample and
#: (RLP) thought draws; a matched continuation reads its RLP replica's documents.
SEEDS = {"pretrain": ("pretrain.seed={s}", "corpus.seed={s}"), "rlp": ("seed={s}", "data.corpus.seed={s}")}


def replica(name: str, seed: int) -> str:
    """The name of prior ``name``'s replica for ``seed``."""
    return f"{name}@s{seed}"


def prior_replicas(priors: dict[str, PriorSpec], scale: Scale) -> dict[str, tuple[str, PriorSpec]]:
    """Every prior to train for the declared ``priors``: ``{name: (declared prior, spec)}``, a
    replicated prior's seed ``s`` continuing seed ``s``'s replica of a replicated base."""
    replicated = frozenset(n for n, p in priors.items() if p.replicated)
    return {r.name: (p.name, r) for p in priors.values() for r in p.replicas(scale, replicated)}


@dataclass(frozen=True)
class Arm:
    """An arm: ``priorlab KIND -c PRESET --set ...`` (``kind`` ``rl`` or ``sft``), once per seed.

    ``prior`` names a :class:`PriorSpec`, or another arm: seed s then starts from that arm's
    seed-s model (a second stage: GRPO after distillation). ``teacher`` (kind ``sft``) names the
    prior whose checkpoint the student is fine-tuned on the samples of. ``required=False``: only
    some parts read the arm, so the claim is judged without it (those parts count the seeds it
    has) instead of being ``not run`` when none of its seeds finished."""

    name: str
    prior: str
    sets: tuple[str, ...] = ()
    preset: str = "grpo"
    about: str = ""
    kind: str = "rl"
    teacher: str | None = None
    required: bool = True


@dataclass
class Evidence:
    """Finished runs handed to :meth:`Claim.measure`.

    ``priors[name]`` is the prior's HF directory (a replicated prior's under each replica's name,
    :func:`replica`); ``arms[name]`` maps seed -> run directory;
    ``out`` is the claim's own output directory (figures go there).
    """

    priors: dict[str, Path]
    arms: dict[str, dict[int, Path]]
    out: Path
    scale: Scale
    extra: dict = field(default_factory=dict)


class Claim:
    """Base class; subclasses set the class attributes and implement the four methods."""

    id: str = ""
    title: str = ""
    statement: str = ""
    source: dict = {}
    statistic: str = ""
    control: str = ""
    #: The paper's effect in the units of the primary part (None: not retrieved; see notes).
    paper_effect: float | None = None
    #: The RL horizon the paper's effect needs (the ``medium`` scale runs it).
    horizon: Horizon = Horizon(30, 1.0)
    #: The unit of replication: the rows' column the bootstrap resamples (RL seed by default).
    unit: str = "seed"
    next_steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def priors(self, scale: Scale) -> list[PriorSpec]:
        raise NotImplementedError

    def arms(self, scale: Scale) -> list[Arm]:
        raise NotImplementedError

    def measure(self, ev: Evidence) -> tuple[list[dict], list[Path]]:
        """Tidy rows (one per arm x seed, or per k) and the figure files written to ``ev.out``."""
        raise NotImplementedError

    def judge(self, rows: list[dict]) -> Verdict:
        """Parts, controls and verdict from the rows alone (pure: tests feed constructed tables)."""
        raise NotImplementedError


CLAIMS: Registry[type[Claim]] = Registry("claim")
