"""Calibration of stated confidence: accuracy, Brier, ECE, AUROC, reliability diagram.

Definitions follow RLCR (Damani et al., arXiv 2507.16806), as read in their
``eval/eval_utils.py`` (shared/research/claims.md §6), for confidences ``q`` [N] in [0, 1]
and correctness ``c`` [N] in {0, 1}:

- Brier = mean((q − c)²).
- ECE: 10 equal-width bins on [0, 1] whose outer edges are extended to ±∞ (so stray values
  below 0 or above 1 land in the end bins); bin b holds ``lo_b <= q < hi_b`` (the last bin
  also holds 1.0); ``ECE = Σ_b (n_b / N) · |mean q_b − mean c_b|``.
- AUROC of q as a score for c: the Mann–Whitney statistic (probability that a random correct
  item gets a higher q than a random wrong one, ties counting ½); 0.5 when only one class is
  present (RLCR's constant-confidence RLVR models score 0.5 too).

Completions without a confidence count as ``q = 0`` (RLCR's ``confidence_extractor``);
:func:`calibration_rows` reports how many had one (``conf_rate``).

Every metric is computed from per-unit sufficient statistics (counts and sums per ECE bin and
per distinct q value), so that weighting the units (problems) by how often a bootstrap resample
drew them gives every resample's metrics in a few matrix products: 95% CIs are percentile
bootstraps over problems (all samples of a drawn problem come along).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MEASURES = ("accuracy", "brier", "ece", "auroc", "mean_confidence", "conf_rate")


def _arrays(q, c) -> tuple[np.ndarray, np.ndarray]:
    q, c = np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if q.shape != c.shape or q.ndim != 1:
        raise ValueError(f"confidence and correctness must be 1-D of equal length, got {q.shape} and {c.shape}")
    return q, c


def _edges(n_bins: int) -> np.ndarray:
    """Bin edges b / n_bins: exact decimals (``np.linspace`` gives 0.30000000000000004, which
    would put a stated 30% into the bin below)."""
    return np.arange(n_bins + 1) / n_bins


def _bin_of(q: np.ndarray, n_bins: int) -> np.ndarray:
    """ECE bin index [N] of each q; interior edges only, so the outer bins reach ±inf."""
    return np.digitize(q, _edges(n_bins)[1:-1])


def sufficient_stats(q, c, unit, n_bins: int = 10, stated=None) -> dict[str, np.ndarray]:
    """Per-unit statistics [U, ...] of items with confidence ``q`` [N], correctness ``c`` [N],
    unit index ``unit`` [N] (ints 0..U−1, e.g. the problem) and ``stated`` [N] (had a confidence;
    default all): ``n`` [U], ``correct``, ``sum_q``, ``sq_err`` (Σ (q−c)²), ``stated`` [U];
    ``bin_n``, ``bin_q``, ``bin_c`` [U, n_bins]; ``pos``, ``neg`` [U, L] counts of correct /
    wrong items at each of the L distinct q values (ascending)."""
    q, c = _arrays(q, c)
    unit = np.asarray(unit, dtype=np.int64)
    n_units = int(unit.max()) + 1 if len(unit) else 0
    stated = np.ones(len(q)) if stated is None else np.asarray(stated, dtype=np.float64)
    levels, level = np.unique(q, return_inverse=True)
    b = _bin_of(q, n_bins)

    def per_unit(w):
        return np.bincount(unit, weights=w, minlength=n_units)

    def per_cell(col, n_cols, w):
        out = np.zeros((n_units, n_cols))
        np.add.at(out, (unit, col), w)
        return out

    return {"n": per_unit(np.ones(len(q))), "correct": per_unit(c), "sum_q": per_unit(q),
            "sq_err": per_unit((q - c) ** 2), "stated": per_unit(stated),
            "bin_n": per_cell(b, n_bins, np.ones(len(q))), "bin_q": per_cell(b, n_bins, q),
            "bin_c": per_cell(b, n_bins, c), "pos": per_cell(level, len(levels), c),
            "neg": per_cell(level, len(levels), 1 - c)}


def metrics_from_stats(stats: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every measure of :data:`MEASURES` plus ``n`` for unit weights ``weights`` [R, U] (row r =
    one resample; ones = the data as is) -> ``{measure: [R]}`` (NaN where a row has no item)."""
    w = np.asarray(weights, dtype=np.float64)
    s = {k: w @ v for k, v in stats.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        n = s["n"]
        ece = np.abs(s["bin_q"] - s["bin_c"]).sum(axis=1) / n  # Σ_b n_b/N·|mean q_b − mean c_b|
        n_pos, n_neg = s["pos"].sum(axis=1), s["neg"].sum(axis=1)
        below = np.cumsum(s["neg"], axis=1) - s["neg"]  # wrong items with a strictly lower q
        wins = (s["pos"] * (below + 0.5 * s["neg"])).sum(axis=1)
        auroc = np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), 0.5)
        return {"n": n, "accuracy": s["correct"] / n, "brier": s["sq_err"] / n, "ece": ece,
                "auroc": np.where(n > 0, auroc, np.nan), "mean_confidence": s["sum_q"] / n,
                "conf_rate": s["stated"] / n}


def _one(q, c, n_bins: int) -> dict[str, float]:
    q, c = _arrays(q, c)
    m = metrics_from_stats(sufficient_stats(q, c, np.zeros(len(q), int), n_bins), np.ones((1, 1)))
    return {k: float(v[0]) for k, v in m.items()}


def reliability_bins(q, c, n_bins: int = 10) -> list[dict]:
    """Per bin: ``{bin, lo, hi, n, mean_q, mean_c}`` (means NaN in an empty bin)."""
    q, c = _arrays(q, c)
    s = sufficient_stats(q, c, np.zeros(len(q), int), n_bins) if len(q) else None
    edges = _edges(n_bins)
    rows = []
    for b in range(n_bins):
        n = int(s["bin_n"][0, b]) if s else 0
        rows.append({"bin": b, "lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n,
                     "mean_q": float(s["bin_q"][0, b] / n) if n else float("nan"),
                     "mean_c": float(s["bin_c"][0, b] / n) if n else float("nan")})
    return rows


def ece(q, c, n_bins: int = 10) -> float:
    """Expected calibration error (module docstring); NaN for no items."""
    return _one(q, c, n_bins)["ece"] if len(q) else float("nan")


def auroc(q, c) -> float:
    """Mann–Whitney AUROC of score ``q`` for label ``c`` (ties ½); 0.5 if one class is absent."""
    return _one(q, c, 10)["auroc"] if len(q) else 0.5


def calibration_metrics(q, c, n_bins: int = 10) -> dict:
    """``{n, accuracy, brier, ece, auroc, mean_confidence}`` (all unitless)."""
    q, c = _arrays(q, c)
    if not len(q):
        nan = float("nan")
        return {"n": 0, "accuracy": nan, "brier": nan, "ece": nan, "auroc": nan, "mean_confidence": nan}
    m = _one(q, c, n_bins)
    return {"n": len(q)} | {k: m[k] for k in ("accuracy", "brier", "ece", "auroc", "mean_confidence")}


def calibration_rows(records: list[dict], metric: str = "answer", by: tuple[str, ...] = ("split", "depth"),
                     n_bins: int = 10, n_boot: int = 0, seed: int = 0) -> list[dict]:
    """Metrics per group of :func:`priorlab.evaluate.sample_and_verify` records.

    ``metric`` is the correctness field ("answer" or "verified"); a record's ``confidence``
    (None = not stated, counted as 0) is the confidence. Rows: the ``by`` fields, ``metric``,
    ``n`` (completions), ``n_problems`` and every measure of :data:`MEASURES` (``conf_rate`` =
    share that stated a confidence). With ``n_boot`` > 0 also ``<measure>_ci_low`` and
    ``<measure>_ci_high``: 95% percentile bootstrap over the group's problems
    (:func:`priorlab.evaluate.problem_key`), ``n_boot`` resamples from
    ``np.random.default_rng(seed)`` in every group, so groups over the same problems (one per
    model) share their resamples.
    """
    from priorlab.evaluate import problem_key
    from priorlab.passk import bootstrap_weights, percentile_ci

    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    rows = []
    for key, recs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        units = {k: i for i, k in enumerate(sorted({problem_key(r) for r in recs}))}
        stats = sufficient_stats([r["confidence"] if r["confidence"] is not None else 0.0 for r in recs],
                                 [bool(r[metric]) for r in recs], [units[problem_key(r)] for r in recs], n_bins,
                                 [r["confidence"] is not None for r in recs])
        point = metrics_from_stats(stats, np.ones((1, len(units))))
        row = dict(zip(by, key)) | {"metric": metric, "n": len(recs), "n_problems": len(units)}
        row |= {m: float(point[m][0]) for m in MEASURES}
        if n_boot:
            boot = metrics_from_stats(stats, bootstrap_weights(len(units), n_boot, seed))
            for m in MEASURES:
                row[f"{m}_ci_low"], row[f"{m}_ci_high"] = percentile_ci(boot[m])
        rows.append(row)
    return rows


def plot_reliability(curves: dict[str, tuple], path: str | Path, n_bins: int = 10) -> Path:
    """Reliability diagrams, one panel per ``{label: (q, c)}``: accuracy in each equal-width bin
    (a bar over the bin), the bin's (mean confidence, accuracy) as a dot, its item count above
    the bar; the dotted diagonal is perfect calibration. Titles give ECE, Brier, AUROC."""
    from priorlab.plots import plt, save

    cols = min(len(curves), 3)
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.6 * rows), squeeze=False)
    for ax, (label, (q, c)) in zip(axes.flat, curves.items()):
        bins = [b for b in reliability_bins(q, c, n_bins) if b["n"]]
        m = calibration_metrics(q, c, n_bins)
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
        ax.bar([b["lo"] for b in bins], [b["mean_c"] for b in bins], width=1 / n_bins, align="edge",
               color="C0", alpha=0.3, edgecolor="C0")
        ax.plot([b["mean_q"] for b in bins], [b["mean_c"] for b in bins], "o", color="C3", ms=4)
        for b in bins:
            ax.annotate(str(b["n"]), (b["lo"] + 0.5 / n_bins, b["mean_c"]), xytext=(0, 3),
                        textcoords="offset points", ha="center", fontsize=7)
        short = label if len(label) <= 48 else "…" + label[-47:]
        ax.set(xlim=(0, 1), ylim=(0, 1.1), xlabel="stated confidence", ylabel="accuracy in bin")
        ax.set_title(f"{short}\nacc {m['accuracy']:.2f}, mean q {m['mean_confidence']:.2f}, ECE {m['ece']:.3f}, "
                     f"Brier {m['brier']:.3f}, AUROC {m['auroc']:.2f}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    fig.suptitle(f"reliability ({n_bins} equal-width bins; numbers = completions per bin)", fontsize=9)
    return save(fig, path)
