"""Priors, arms and figures several claims share (so ``retest`` runs each one once).

An arm's identity is its prior, preset and ``--set`` list; two claims that declare the same
arm get the same runs. The shared evaluation (``final``) is the held-out ``eval`` split on the
RL band, ``scale.n_problems`` problems per depth and ``scale.n_large`` samples each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.claims.base import Arm, Horizon, PriorSpec, Scale
from priorlab.claims.stats import seed_ci
from priorlab.plots import plt, save

BAND = (4, 5)

#: The demo prior: 70% step-by-step / 30% answer-only, depths 1-5, the from-scratch recipe (docs/demo.md).
DEMO = PriorSpec("demo", (), "the demo prior: formats steps 0.7 / answer 0.3, depths 1-5 (a fifth at depth 1), "
                 "9M tokens, a slip-free modulus-7 first third")


def scratch(name: str, about: str, *sets: str) -> PriorSpec:
    """A composition trained from scratch, once per seed (:attr:`PriorSpec.replicated`), with the demo
    prior's recipe (``configs/demo.yaml``; docs/pretraining.md, "The click study", "A smaller modulus",
    "A slip-free phase"): a fifth of the problem documents at depth 1 (one step line), the first third of
    the rows at modulus 7 (the composition's formats, the world's arithmetic mod 7) with every document
    right (the composition's slips are in the other two thirds, as asked), 9M tokens. Eager it clicked
    at least 9 of 10 seeds of each of five compositions, 48 of 50 (demo, answer-heavy, rare-accurate 10
    each, code-accurate and three formats 9); with the phase's slips 45 of 50 (rare-accurate 6)."""
    return PriorSpec(name, sets, about + "; from scratch, one prior per seed (its modulus-7 first third "
                     "slip-free)", replicated=True)


def variant(name: str, about: str, *sets: str, budget: float = 1.0) -> PriorSpec:
    """The demo prior continued on another mix (a mid-training stage), once per seed
    (:attr:`PriorSpec.replicated`): replica ``s`` continues it with the seed's data order and documents."""
    return PriorSpec(name, sets, about, base=DEMO.name, budget=budget, replicated=True)


#: The note of a claim on a composition prior made by :func:`scratch`: what its interval covers.
SCRATCH_NOTE = ("Replicated from-scratch prior (since 2026-12-07, session 36): the composition is trained from "
                "scratch once per seed with the demo recipe (pretrain.seed = corpus.seed = s; claims.common.scratch) "
                "and seed s's arms run on replica s, so the interval covers the variance between priors of the "
                "composition, not only RL's and the problems'. Before, it was the demo prior continued on the mix "
                "for 2M tokens (a mid-training stage: another history and more training than the demo prior).")


#: The note of a claim on a :func:`variant` prior: what its interval covers.
VARIANT_NOTE = ("Replicated variant prior (since 2026-12-07): the variant is the demo prior continued once "
                "per seed (pretrain.seed = corpus.seed = s: the seed's data order and documents) and seed s's arms "
                "run on (or distil from) replica s, so the interval covers the variance between two continuations "
                "of the recipe, not only RL's and the problems'. The demo prior they continue is one run: the claim "
                "is conditional on it. Before, the variant was one prior and the interval over RL seeds and "
                "problems only.")


#: C1's accurate-dominant prior, as Qwen2.5-Math: the dominant format (code, 65%) is the accurate
#: one; the minority step-by-step documents carry slips (80% of operations right).
CODE_ACCURATE = scratch("code-accurate", "formats code 0.65 (always right) / steps 0.35 (80% of operations right)",
                        "corpus.formats={code: 0.65, steps: 0.35}", "corpus.format_accuracy={steps: 0.8}")
#: The dominant format is answer-only, at chance; the step-by-step minority is accurate.
ANSWER_HEAVY = scratch("answer-heavy", "formats steps 0.3 / answer 0.7: the dominant format is answer-only, at chance",
                       "corpus.formats={steps: 0.3, answer: 0.7}")


def final_sets(scale: Scale, depths=BAND, splits=("eval",)) -> tuple[str, ...]:
    """``final`` eval overrides shared by the arms of every claim at this scale. No claim reads the
    band evaluation (the RL pool's own problems, ``before/band``, ``after/band``), so arms skip it
    (``band_eval=false``): at ``small`` it was ≈ 15% of the RL job time (docs/claims.md)."""
    return (f"final.splits=[{','.join(splits)}]", f"final.depths=[{','.join(map(str, depths))}]",
            f"final.n_problems={scale.n_problems}", f"final.n_samples={scale.n_large}", "band_eval=false")


def evaluated_items(scale: Scale) -> int:
    """Items per (split, depth) that the seeds' evaluations cover: seed s is evaluated on items
    s·n .. s·n + n − 1 (``retest.arm_config``: ``final.problem_offset = seed × n_problems``)."""
    return scale.n_problems * (max(scale.seeds) + 1)


#: The shared GRPO arm (C4, C6's baseline, C7) runs C4's horizon: Yue et al.'s pass@256 shrinks
#: between step 150 and 450 (Table 2).
GRPO_HORIZON = Horizon(450, 30.0, "Yue et al. Table 2: GRPO steps 150 and 450")


def arm(scale: Scale, name: str, prior: PriorSpec | Arm, *sets: str, preset: str = "grpo", about: str = "",
        depths=BAND, horizon: Horizon | None = None, required: bool = True) -> Arm:
    """An RL arm on ``prior`` (a prior, or an arm whose models it continues) with the scale's shared
    overrides, then ``sets``; at a scale with ``horizons`` the RL runs ``horizon.steps`` steps over a
    pool sized for ``horizon.epochs`` passes (``data.epochs``; the claim's horizon, or :data:`GRPO_HORIZON`).
    ``required``: see :class:`Arm`."""
    h = horizon or GRPO_HORIZON
    steps = (f"steps={h.steps}", f"data.epochs={h.epochs:g}") if scale.horizons else ()
    return Arm(name, prior.name, tuple(scale.rl_sets) + steps + final_sets(scale, depths) + tuple(sets), preset,
               about, required=required)


def sft_base(scale: Scale, preset: str):
    """The SFT config an arm of ``preset`` starts from at ``scale`` (the preset under the scale's
    ``sft_sets``): what an arm scales its own steps or data from."""
    from priorlab.config import load_config
    from priorlab.kinds import get_kind

    kind = get_kind("sft")
    return load_config(kind.base_path(preset), list(scale.sft_sets), model=kind.config_model())


def sft_arm(scale: Scale, name: str, prior: PriorSpec, preset: str, *sets: str, teacher: PriorSpec | None = None,
            about: str = "", depths=BAND) -> Arm:
    """An SFT arm (``priorlab sft -c preset``) on ``prior`` with the scale's SFT overrides, the shared
    ``final`` evaluation at ``depths`` (paired with the RL arms that evaluate there), then ``sets``;
    ``teacher``: the prior whose samples it is fine-tuned on."""
    return Arm(name, prior.name, tuple(scale.sft_sets) + final_sets(scale, depths) + tuple(sets), preset, about,
               kind="sft", teacher=teacher and teacher.name)


def grpo_correct(scale: Scale, prior: PriorSpec = DEMO, name: str = "grpo-correct") -> Arm:
    return arm(scale, name, prior, about="GRPO, verified reward, eps 0.2, 4 optimizer steps per batch",
               horizon=GRPO_HORIZON)


#: Shao et al. train 150-300 steps; random rewards gain after a "random walk" period.
RANDOM_HORIZON = Horizon(200, 10.0, "Shao et al. §A.1: 150-300 steps")


def random_reward(scale: Scale, prior: PriorSpec = DEMO, *sets: str, name: str = "random") -> Arm:
    return arm(scale, name, prior, "reward.weights={random: 1.0}", "reward.args={gamma: 0.5}", *sets,
               about="GRPO, Bernoulli(0.5) reward independent of the completion", horizon=RANDOM_HORIZON)


def plot_arms(rows: list[dict], value: str, path: Path, title: str, ylabel: str, order: list[str] | None = None,
              key: str = "arm") -> Path:
    """One column per arm (or per ``key``): each seed (or row) a dot, the mean with its 95% t-interval over them."""
    names = order or sorted({r[key] for r in rows})
    fig, ax = plt.subplots(figsize=(max(5.5, 1.6 + 1.3 * len(names)), 3.8))
    for i, name in enumerate(names):
        vals = [r[value] for r in rows if r[key] == name and r[value] is not None]
        if not vals:
            continue
        jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), vals, s=18, color="0.55", zorder=2)
        mean, lo, hi = seed_ci(vals)
        err = None if np.isnan(lo) else [[mean - lo], [hi - mean]]
        ax.errorbar([i], [mean], yerr=err, fmt="o", color="C0", ms=7, capsize=5, lw=2, zorder=3)
    ax.axhline(0, color="0.3", lw=0.8, ls="--")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def plot_curves(curves: dict[str, list[tuple[int, list[float]]]], path: Path, title: str,
                ylabel: str = "pass@k") -> Path:
    """pass@k vs k (log2) per model: mean over seeds with the 95% t-band."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, pts) in enumerate(curves.items()):
        ks = [k for k, _ in pts]
        stats = [seed_ci(v) for _, v in pts]
        mean = [s[0] for s in stats]
        ax.plot(ks, mean, "-o", ms=3, color=f"C{i}", label=name)
        lo, hi = [s[1] for s in stats], [s[2] for s in stats]
        if not any(np.isnan(lo)):
            ax.fill_between(ks, lo, hi, color=f"C{i}", alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)
