"""A constructed example report (made-up numbers, not measurements) to preview the layout and to
check it in a browser: one claim per verdict, one without control, figures or estimate.

``python benchmarks/check_report.py`` renders it and screenshots it (docs/img/report.png).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.claims.result import ClaimResult
from priorlab.plots import plt, save

NOTE = "Constructed example: every number on this page is made up to show the layout; nothing was measured."


def _passk_figure(out: Path, path: str, rng: np.random.Generator) -> str:
    """Made-up pass@k curves of a prior and its RL descendant crossing at k≈16 (log2 axis)."""
    ks = 2 ** np.arange(0, 9)
    base = 1 - 0.82 * np.exp(-0.045 * ks) + rng.normal(0, 0.004, ks.size)
    rl = 0.42 + 0.2 * (1 - np.exp(-0.2 * ks)) + rng.normal(0, 0.004, ks.size)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for y, label, colour in ((base, "prior", "#3b5bdb"), (rl, "after RL", "#c2255c")):
        ax.plot(ks, y, "-o", ms=3, color=colour, label=label)
        ax.fill_between(ks, y - 0.03, y + 0.03, color=colour, alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="k (samples)", ylabel="verified pass@k", ylim=(0, 1.02), title="made-up pass@k, depths 4-5")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save(fig, out / path)
    return path


def _arms_figure(out: Path, path: str, rng: np.random.Generator) -> str:
    """Made-up Δ pass@1 per reward arm and seed (dots) with means (bars)."""
    arms = ["correct", "format", "random", "inverse"]
    means = [0.11, 0.04, 0.01, -0.06]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (arm, m) in enumerate(zip(arms, means)):
        ax.bar(i, m, color="#adb5bd", width=0.6)
        ax.plot(i + rng.uniform(-0.15, 0.15, 3), m + rng.normal(0, 0.015, 3), "o", color="#1f2328", ms=4)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(arms)), arms)
    ax.set(ylabel="Δ verified pass@1", title="made-up reward arms, 3 seeds each")
    ax.grid(axis="y", alpha=0.3)
    save(fig, out / path)
    return path


def _runs(claim: str, seeds: int, rng: np.random.Generator) -> list[dict]:
    runs = [{"name": "prior/demo", "kind": "prior", "path": "runs/prior-demo", "reused": True,
             "summary": "demo prior, 0.82M params, 2M tokens", "wall_s": 312.0}]
    runs += [{"name": f"{claim}/rl-seed{s}", "kind": "rl", "path": f"claims/{claim}/rl-seed{s}", "reused": False,
              "summary": f"GRPO 60 steps, verified reward, seed {s}", "wall_s": float(rng.uniform(150, 210))}
             for s in range(seeds)]
    return runs + [{"name": f"{claim}/passk", "kind": "diagnostic", "path": f"claims/{claim}/passk",
                    "reused": False, "summary": "pass@k, 64 problems x 256 samples", "wall_s": 41.5}]


# id: (title, statement, source, statistic)
CLAIMS = {
    "C1": ("RL narrows what the prior can solve at large k",
           ("Base models reach higher pass@k than their RLVR-trained versions when k is large: RL improves "
            "sampling efficiency but does not add reasoning the base model lacks."),
           {"arxiv": "2504.13837", "date": "2025-04", "authors": "Yue et al.",
            "title": "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs "
                     "Beyond the Base Model?"},
           "pass@256(prior) − pass@256(RL), verified, held-out eval, depths 4–5"),
    "C2": ("Spurious rewards need the right prior",
           ("Random or incorrect rewards improve models whose prior already holds a useful strategy "
            "(code reasoning) and not others."),
           {"arxiv": "2506.10947", "date": "2025-06", "authors": "Shao et al.",
            "title": "Spurious Rewards: Rethinking Training Signals in RLVR"},
           "Δ verified pass@1 (after − before), random reward, prior with 20% code format"),
    "C3": ("RL updates a small subnetwork",
           "RL fine-tuning changes <30% of parameters & the update is nearly full-rank (\"sparse but not low-rank\").",
           {"arxiv": "2505.11711", "date": "2025-05", "authors": "Mukherjee et al.",
            "title": "Reinforcement Learning Finetunes Small Subnetworks in Large Language Models"},
           "fraction of parameters with |Δ| > 1e-5 (bf16), RL vs prior"),
}


def _claim(cid: str, verdict: str, reason: str, ci: tuple, seeds: int, rng: np.random.Generator,
           **rest) -> ClaimResult:
    """``ci``: (effect, low, high); ``rest``: figures, table, control, next_steps, wall_s, notes."""
    title, statement, source, statistic = CLAIMS[cid]
    return ClaimResult(id=cid, title=title, statement=statement, source=source, statistic=statistic,
                       verdict=verdict, reason=reason, effect=ci[0], ci_low=ci[1], ci_high=ci[2], seeds=seeds,
                       scale="small", runs=_runs(cid, seeds, rng), **rest)


def example_results(out: str | Path, seed: int = 0) -> list[ClaimResult]:
    """Three made-up :class:`ClaimResult` s with figures written under ``out/claims/<id>/``."""
    out, rng = Path(out), np.random.default_rng(seed)
    for c in ("C1", "C2"):
        (out / "claims" / c).mkdir(parents=True, exist_ok=True)
    c1 = _claim("C1", "holds", "pass@256 is 0.081 lower after RL, 95% CI [0.043, 0.12] excludes 0 over 3 seeds; "
                               "the curves cross at k = 16.", (0.081, 0.043, 0.12), 3, rng,
                figures=[_passk_figure(out, "claims/C1/passk.png", rng)],
                table=[{"arm": arm, "seed": s, "k": k, "pass_at_k": round(float(rng.uniform(0.3, 0.95)), 3)}
                       for arm in ("prior", "rl") for s in range(3) for k in (1, 256)],
                negative_control={"description": "RL with a random reward (same steps and seeds)", "detected": False,
                                  "effect": 0.004, "ci_low": -0.02, "ci_high": 0.028},
                positive_control={"description": "an arm collapsed onto 4 prompts", "detected": True,
                                  "effect": 0.21, "ci_low": 0.12, "ci_high": 0.3},
                parts=[{"name": "pass@256: base − RL", "statistic": "pass@256(base) − pass@256(RL)", "effect": 0.081,
                        "ci_low": 0.043, "ci_high": 0.12, "verdict": "holds", "reason": "CI above 0", "level": 0.95},
                       {"name": "pass@1: RL − base", "statistic": "pass@1(RL) − pass@1(base)", "effect": 0.2,
                        "ci_low": 0.1, "ci_high": 0.3, "verdict": "holds", "reason": "Holm", "level": 0.95}],
                mde=0.05, paper_effect=0.052,
                next_steps=["Repeat at depth 6 (out of the RL distribution).", "Add a prior with 10x more tokens."],
                wall_s=1260.0, notes=["k stops at 256, not 1024 as in the paper."])
    c2 = _claim("C2", "contradicted", "the random reward lowers pass@1 by 0.031, 95% CI [−0.052, −0.01]; the paper "
                                      "predicts a gain for a code-holding prior.", (-0.031, -0.052, -0.01), 3, rng,
                figures=[_arms_figure(out, "claims/C2/arms.png", rng)],
                table=[{"reward": r, "seed": s, "delta_pass1": round(float(rng.normal(0.02, 0.03)), 3)}
                       for r in ("correct", "random") for s in range(3)],
                negative_control={"description": "the same random reward on a prior without code", "detected": False,
                                  "effect": -0.012, "ci_low": -0.04, "ci_high": 0.016},
                mde=0.03, paper_effect=0.214,
                next_steps=["Sweep the code share of the prior: 0, 5, 20, 50%."], wall_s=980.0)
    c3 = _claim("C3", "underpowered", "the runs diverged before step 20 on 2 of 3 seeds; no estimate.",
                (None, None, None), 1, rng, next_steps=["Lower the learning rate to 1e-5 and rerun 3 seeds."],
                wall_s=410.0, notes=["Only one seed finished."])
    return [c1, c2, c3]


def example_meta() -> dict:
    """Made-up run metadata matching :func:`example_results`."""
    return {"scale": "small", "started": "2025-01-01T09:00:00", "wall_s": 2650.0, "version": "example",
            "commit": None, "machine": {"cores": 2, "device": "cpu"}, "command": "priorlab retest --scale small",
            "note": NOTE}
