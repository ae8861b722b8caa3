"""Solution formats over RL: shares and accuracy per step, and who gained from a format switch.

Source: Shao et al., "Spurious Rewards" (arXiv 2506.10947; shared/research/claims.md §1): RLVR
moves the format mix (code share rises), and the *partial-contribution score* attributes the
accuracy gain to format-switch subsets. For subsets d of D (all paired completions) by
``format_before → format_after`` (e.g. ``steps→steps``, ``answer→steps``):

    C_d = Σ_{x∈d} (correct_after(x) − correct_before(x)) / Σ_{x∈D} (correct_after(x) − correct_before(x))

The C_d of one split sum to 1; C_d is NaN when the total gain is 0 (``delta`` still says how
many completions a subset gained or lost). 95% CIs: percentile bootstrap over the split's
problems (a drawn problem brings all its paired samples), C_d recomputed as a ratio of the
resampled sums; resamples whose total gain is 0 are left out.

**Pairing.** ``before/`` and ``after/`` of an RL run sample the same problems with the same
sampling seeds (one random stream per (problem, sample index); :func:`priorlab.sampling.sample`),
so sample j of problem i before and after is one paired draw x: the key is
``(split, context, depth, index, sample)``. Records are those of
:func:`priorlab.evaluate.sample_and_verify` (``samples.parquet``).

Over steps, shares and per-format verified accuracy come from the ``kind: train`` rows of
``metrics.jsonl`` (``share_<format>``, ``acc_<format>``, of that step's rollouts) and the
``kind: probe`` rows (verified pass@1 on a fixed eval subset, all formats).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.diagnostics import DiagnosticInputError
from priorlab.evaluate import problem_key
from priorlab.passk import bootstrap_weights, percentile_ci


def format_trajectory(rows: list[dict]) -> list[dict]:
    """Per RL step and format, from ``metrics.jsonl`` rows.

    Rows ``{step, source, format, share, verified_acc}``: source "rollouts" (one row per format
    with a ``share_<format>`` key; ``verified_acc`` None when the step had no sample in that
    format) or "probe" (format "all", share 1.0, verified_acc = ``probe_verified``). Shares and
    accuracies are fractions in [0, 1].
    """
    out = []
    for r in rows:
        if r.get("kind") == "train":
            out += [{"step": r["step"], "source": "rollouts", "format": k.removeprefix("share_"), "share": v,
                     "verified_acc": r.get(f"acc_{k.removeprefix('share_')}")}
                    for k, v in r.items() if k.startswith("share_")]
        elif r.get("kind") == "probe" and "probe_verified" in r:
            out.append({"step": r["step"], "source": "probe", "format": "all", "share": 1.0,
                        "verified_acc": r["probe_verified"]})
    if not out:
        raise DiagnosticInputError("metrics.jsonl holds no train or probe rows with format shares")
    return out


def _paired(before: list[dict], after: list[dict]) -> list[tuple[dict, dict]]:
    """``[(before, after)]`` matched on (problem key, sample index); same key sets required."""
    b = {problem_key(r) + (r["sample"],): r for r in before}
    a = {problem_key(r) + (r["sample"],): r for r in after}
    if set(a) != set(b) or len(a) != len(after) or len(b) != len(before):
        odd = sorted(set(a) ^ set(b))
        raise DiagnosticInputError(
            f"before and after records are not paired draws ({len(before)} vs {len(after)} records"
            + (f", e.g. {odd[0]} only in one" if odd else ", repeated (problem, sample) keys")
            + "); use the before/ and after/ samples of one RL run")
    return [(b[k], a[k]) for k in sorted(b)]


def partial_contribution(before: list[dict], after: list[dict], metric: str = "verified",
                         n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """C_d per split and format-switch subset (module docstring).

    Rows ``{split, format_before, format_after, n, n_correct_before, n_correct_after, delta,
    total_delta, contribution, ci_low, ci_high, share}``: ``n`` paired completions in the
    subset, ``delta`` = Σ_d (after − before) in completions, ``total_delta`` = the same over the
    split, ``contribution`` = C_d (NaN if ``total_delta`` is 0), ``ci_low``/``ci_high`` its 95%
    bootstrap CI over problems (``n_boot`` resamples from ``np.random.default_rng(seed)`` per
    split; NaN when no resample has a nonzero total gain), ``share`` = n / split size.
    """
    groups: dict[tuple, list[int]] = {}
    gains: dict[str, dict[tuple, dict[tuple, int]]] = {}  # split -> problem -> subset -> delta
    for rb, ra in _paired(before, after):
        d = (rb["format"], ra["format"])
        c = groups.setdefault((rb["split"],) + d, [0, 0, 0])
        c[0] += 1
        c[1] += bool(rb[metric])
        c[2] += bool(ra[metric])
        per_problem = gains.setdefault(rb["split"], {}).setdefault(problem_key(rb), {})
        per_problem[d] = per_problem.get(d, 0) + bool(ra[metric]) - bool(rb[metric])
    cis = {split: _contribution_cis(g, n_boot, seed) for split, g in gains.items()}
    rows = []
    for (split, fb, fa), (n, cb, ca) in sorted(groups.items()):
        n_split = sum(v[0] for k, v in groups.items() if k[0] == split)
        total = sum(sum(p.values()) for p in gains[split].values())
        lo, hi = cis[split][(fb, fa)]
        rows.append({"split": split, "format_before": fb, "format_after": fa, "n": n, "n_correct_before": cb,
                     "n_correct_after": ca, "delta": ca - cb, "total_delta": total,
                     "contribution": (ca - cb) / total + 0.0 if total else float("nan"),
                     "ci_low": lo, "ci_high": hi, "share": n / n_split})
    return rows


def _contribution_cis(gains: dict[tuple, dict[tuple, int]], n_boot: int, seed: int) -> dict[tuple, tuple]:
    """``{subset: (ci_low, ci_high)}`` of C_d from per-problem gains ``{problem: {subset: delta}}``."""
    subsets = sorted({d for g in gains.values() for d in g})
    delta = np.array([[g.get(d, 0) for d in subsets] for g in gains.values()], dtype=np.float64)  # [P, S]
    sums = bootstrap_weights(len(delta), n_boot, seed) @ delta  # [R, S]
    total = sums.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total != 0, sums / total, np.nan)
    return {d: percentile_ci(share[:, j]) for j, d in enumerate(subsets)}


def plot_formats(trajectory: list[dict], contributions: list[dict], path: str | Path) -> Path:
    """Three panels: format shares vs RL step; verified accuracy per format vs step (probe
    pass@1 as markers); C_d per format-switch subset, one bar group per split."""
    from priorlab.plots import plt, save

    fig, ax = plt.subplots(1, 3, figsize=(16, 4))
    roll = [r for r in trajectory if r["source"] == "rollouts"]
    for f in dict.fromkeys(r["format"] for r in roll):
        sel = [r for r in roll if r["format"] == f]
        if any(r["share"] for r in sel):
            ax[0].plot([r["step"] for r in sel], [r["share"] for r in sel], label=f)
            pts = [(r["step"], r["verified_acc"]) for r in sel if r["verified_acc"] is not None]
            if pts:
                ax[1].plot(*zip(*pts), label=f)
    probe = [r for r in trajectory if r["source"] == "probe"]
    if probe:
        ax[1].plot([r["step"] for r in probe], [r["verified_acc"] for r in probe], "ko", ms=4, label="probe (all)")
    ax[0].set(xlabel="RL step", ylabel="share of rollouts", ylim=(-0.02, 1.02), title="format shares")
    ax[1].set(xlabel="RL step", ylabel="verified accuracy", ylim=(-0.02, 1.02), title="verified accuracy per format")
    subsets = sorted({(r["format_before"], r["format_after"]) for r in contributions})
    splits = sorted({r["split"] for r in contributions})
    width = 0.8 / max(1, len(splits))
    for i, s in enumerate(splits):
        rows = {(r["format_before"], r["format_after"]): r for r in contributions if r["split"] == s}
        val = np.array([rows[d]["contribution"] if d in rows else np.nan for d in subsets])
        err = np.array([[val[j] - rows[d]["ci_low"], rows[d]["ci_high"] - val[j]] if d in rows else [np.nan] * 2
                        for j, d in enumerate(subsets)]).T
        ax[2].bar(np.arange(len(subsets)) + i * width, val, width, yerr=np.clip(err, 0, None), capsize=2,
                  error_kw={"lw": 0.8}, label=s)
    ax[2].set_xticks(np.arange(len(subsets)) + width * (len(splits) - 1) / 2, [f"{a}→{b}" for a, b in subsets],
                     rotation=45, ha="right", fontsize=8)
    ax[2].axhline(0, color="grey", lw=0.8)
    ax[2].set(ylabel="C_d (share of the gain)", title="partial contribution per format switch (95% CI)")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    return save(fig, path)
