"""Calibration of stated confidence: accuracy, Brier, ECE, AUROC, reliability diagram.

Definitions follow RLCR (Damani et al., arXiv 2507.16806), as read in their
``eval/eval_utils.py`` (shared/research/claims.md §6), for confidences ``q`` [N] in [0, 1]
and correctness ``c`` [N] in {0, 1}:

- Brier = mean((q − c)²).
- ECE: 10 equal-width bins on [0, 1] whose outer edges are extended to ±∞ (so stray values
  below 0 or above 1 land in the end bins); bin b holds ``lo_b <= q < hi_b`` (the last bin
  also holds 1.0); ``ECE = Σ_b (n_b / N) · |mean q_b − mean c_b|``.
- AUROC of q as a score for c: the Mann–Whitney statistic (probability that a random correct
  item gets a higher q than a random wrong one, ties counting ½), computed from average ranks;
  0.5 when only one class is present (RLCR's constant-confidence RLVR models score 0.5 too).

Completions without a confidence count as ``q = 0`` (RLCR's ``confidence_extractor``);
:func:`calibration_rows` reports how many had one (``conf_rate``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _arrays(q, c) -> tuple[np.ndarray, np.ndarray]:
    q, c = np.asarray(q, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if q.shape != c.shape or q.ndim != 1:
        raise ValueError(f"confidence and correctness must be 1-D of equal length, got {q.shape} and {c.shape}")
    return q, c


def reliability_bins(q, c, n_bins: int = 10) -> list[dict]:
    """Per bin: ``{bin, lo, hi, n, mean_q, mean_c}`` (means NaN in an empty bin)."""
    q, c = _arrays(q, c)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.digitize(q, edges[1:-1])  # interior edges only: the outer bins reach ±inf
    rows = []
    for b in range(n_bins):
        sel = which == b
        n = int(sel.sum())
        rows.append({"bin": b, "lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n,
                     "mean_q": float(q[sel].mean()) if n else float("nan"),
                     "mean_c": float(c[sel].mean()) if n else float("nan")})
    return rows


def ece(q, c, n_bins: int = 10) -> float:
    """Expected calibration error (module docstring); NaN for no items."""
    bins = reliability_bins(q, c, n_bins)
    total = sum(b["n"] for b in bins)
    if not total:
        return float("nan")
    return float(sum(b["n"] / total * abs(b["mean_q"] - b["mean_c"]) for b in bins if b["n"]))


def auroc(q, c) -> float:
    """Rank-based AUROC of score ``q`` for label ``c`` (ties ½); 0.5 if one class is absent."""
    q, c = _arrays(q, c)
    pos = c > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return 0.5
    order = np.argsort(q, kind="mergesort")
    ranks = np.empty(len(q))
    ranks[order] = np.arange(1, len(q) + 1)
    _, inverse, counts = np.unique(q, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]  # average rank within ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibration_metrics(q, c, n_bins: int = 10) -> dict:
    """``{n, accuracy, brier, ece, auroc, mean_confidence}`` (all unitless)."""
    q, c = _arrays(q, c)
    if not len(q):
        nan = float("nan")
        return {"n": 0, "accuracy": nan, "brier": nan, "ece": nan, "auroc": nan, "mean_confidence": nan}
    return {"n": len(q), "accuracy": float(c.mean()), "brier": float(np.mean((q - c) ** 2)),
            "ece": ece(q, c, n_bins), "auroc": auroc(q, c), "mean_confidence": float(q.mean())}


def calibration_rows(records: list[dict], metric: str = "answer", by: tuple[str, ...] = ("split", "depth"),
                     n_bins: int = 10) -> list[dict]:
    """Metrics per group of :func:`priorlab.evaluate.sample_and_verify` records.

    ``metric`` is the correctness field ("answer" or "verified"); a record's ``confidence``
    (None = not stated, counted as 0) is the confidence. Rows: the ``by`` fields, ``metric``,
    ``conf_rate`` (share that stated one) and :func:`calibration_metrics`.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    rows = []
    for key, recs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        q = [r["confidence"] if r["confidence"] is not None else 0.0 for r in recs]
        rows.append(dict(zip(by, key)) | {"metric": metric,
                                          "conf_rate": float(np.mean([r["confidence"] is not None for r in recs]))}
                    | calibration_metrics(q, [bool(r[metric]) for r in recs], n_bins))
    return rows


def plot_reliability(curves: dict[str, tuple], path: str | Path, n_bins: int = 10) -> Path:
    """Reliability diagram: mean correctness vs mean confidence per bin, one line per
    ``{label: (q, c)}``, marker area ∝ items in the bin; the diagonal is perfect calibration."""
    from priorlab.plots import plt, save

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    for label, (q, c) in curves.items():
        bins = [b for b in reliability_bins(q, c, n_bins) if b["n"]]
        m = calibration_metrics(q, c, n_bins)
        total = sum(b["n"] for b in bins)
        (line,) = ax.plot([b["mean_q"] for b in bins], [b["mean_c"] for b in bins], "-", lw=1)
        ax.scatter([b["mean_q"] for b in bins], [b["mean_c"] for b in bins], color=line.get_color(),
                   s=[10 + 300 * b["n"] / total for b in bins], alpha=0.7,
                   label=f"{label}: ECE {m['ece']:.3f}, Brier {m['brier']:.3f}, AUROC {m['auroc']:.2f}")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean confidence in bin", ylabel="accuracy in bin",
           title=f"reliability ({n_bins} equal-width bins)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save(fig, path)
