"""Numbers claims take from finished RL runs: pass@k before/after, format shares, gains.

Every RL run evaluates the prior (``before/``) and the final policy (``after/``) on the same
problems with the same sampling seeds (``priorlab.rl.trainer``), so a gain is a paired
difference and two arms of one seed share their ``before`` exactly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from priorlab.diagnostics.passk_compare import correct_counts
from priorlab.diagnostics.rundir import read_samples
from priorlab.passk import pass_at_k_many


@lru_cache(maxsize=256)
def _samples(path: str) -> tuple[dict, ...]:
    return tuple(read_samples(path))


def records(run: Path, when: str, which: str = "eval", split: str | None = None,
            depths: tuple[int, ...] | None = None) -> list[dict]:
    """Completion records of ``run/{before,after}/{band,eval}``, filtered by split and depth."""
    rows = _samples(str(Path(run) / when / which / "samples.parquet"))
    return [r for r in rows if (split is None or r["split"] == split) and (depths is None or r["depth"] in depths)]


def pass_k(recs: list[dict], k: int, metric: str = "verified") -> float:
    """Mean over problems of the unbiased pass@k (k is capped at the samples per problem)."""
    counts, n = correct_counts(recs, metric)
    return float(pass_at_k_many(n, np.array(list(counts.values())), min(k, n)).mean())


def n_samples(recs: list[dict]) -> int:
    """Samples per problem (every problem has the same n)."""
    return correct_counts(recs, "verified")[1]


def share(recs: list[dict], fmt: str) -> float:
    """Share of completions whose detected format is ``fmt``."""
    return float(np.mean([r["format"] == fmt for r in recs])) if recs else float("nan")


def shares(recs: list[dict]) -> dict[str, float]:
    """``{format: share}`` over completions."""
    names = sorted({r["format"] for r in recs})
    return {f: share(recs, f) for f in names}


def format_accuracy(recs: list[dict], metric: str = "answer") -> dict[str, float]:
    """``{format: mean metric}`` over the completions in each format."""
    out = {}
    for f in sorted({r["format"] for r in recs}):
        sel = [bool(r[metric]) for r in recs if r["format"] == f]
        out[f] = float(np.mean(sel))
    return out


def by_seed(rows: list[dict], value: str = "gain", **where) -> dict[int, float]:
    """``{seed: row[value]}`` over rows matching every ``key=value`` in ``where``."""
    return {r["seed"]: r[value] for r in rows if all(r.get(k) == v for k, v in where.items())}


def paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    """Per-seed differences a − b over the seeds both have."""
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]
