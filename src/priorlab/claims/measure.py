"""Numbers claims take from finished RL runs, per evaluation problem.

Every RL run evaluates the prior (``before/``) and the final policy (``after/``) on the same
problems with the same sampling seeds (``priorlab.rl.trainer``), so a per-problem change is a
*paired* difference (documented as such wherever a statistic uses it). Different seeds may or
may not share problems (``final.problem_offset``): values are keyed by the problem's identity
(:func:`key`), and :mod:`priorlab.claims.stats.bootstrap` resamples problems within each seed
and shares a problem's weight across the seeds that have it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from priorlab.diagnostics.passk_compare import correct_counts
from priorlab.diagnostics.rundir import read_samples
from priorlab.evaluate import problem_key
from priorlab.passk import pass_at_k


@lru_cache(maxsize=256)
def _samples(path: str) -> tuple[dict, ...]:
    return tuple(read_samples(path))


def records(run: Path, when: str, which: str = "eval", split: str | None = None,
            depths: tuple[int, ...] | None = None) -> list[dict]:
    """Completion records of ``run/{before,after}/{band,eval}``, filtered by split and depth."""
    rows = _samples(str(Path(run) / when / which / "samples.parquet"))
    return [r for r in rows if (split is None or r["split"] == split) and (depths is None or r["depth"] in depths)]


def key(rec: dict) -> str:
    """A problem's identity as a string: ``split/context/depth/index``."""
    return "/".join(map(str, problem_key(rec)))


def by_problem(recs: list[dict]) -> dict[str, list[dict]]:
    """``{problem: [records]}`` in first-seen order."""
    out: dict[str, list[dict]] = {}
    for r in recs:
        out.setdefault(key(r), []).append(r)
    return out


def problem_pass(recs: list[dict], k: int, metric: str = "verified") -> dict[str, float]:
    """``{problem: unbiased pass@k}`` (k capped at the samples per problem)."""
    return {p: pass_at_k(len(rs), sum(bool(r[metric]) for r in rs), min(k, len(rs)))
            for p, rs in by_problem(recs).items()}


def problem_share(recs: list[dict], fmt: str) -> dict[str, float]:
    """``{problem: share of its completions in format fmt}``."""
    return {p: float(np.mean([r["format"] == fmt for r in rs])) for p, rs in by_problem(recs).items()}


def problem_rows(base: dict, values: dict[str, dict[str, float]], depth_of: dict[str, int] | None = None) -> list[dict]:
    """One row per problem: ``base | {"problem", "depth", name: values[name][problem]}`` over the
    problems every ``values[name]`` has."""
    common = set.intersection(*(set(v) for v in values.values())) if values else set()
    return [base | {"problem": p, "depth": (depth_of or {}).get(p, int(p.split("/")[2]))}
            | {name: v[p] for name, v in values.items()} for p in sorted(common)]


def change(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per-problem after − before (paired: same problems, same sampling seeds)."""
    return {p: after[p] - before[p] for p in before if p in after}


def pass_k(recs: list[dict], k: int, metric: str = "verified") -> float:
    """Mean over problems of the unbiased pass@k (k is capped at the samples per problem)."""
    return float(np.mean(list(problem_pass(recs, k, metric).values())))


def n_samples(recs: list[dict]) -> int:
    """Samples per problem (every problem has the same n)."""
    return correct_counts(recs, "verified")[1]


def halves(recs: list[dict]) -> tuple[list[dict], list[dict]]:
    """The samples of every problem split by sample index into its lower and upper half (disjoint
    sampling seeds of the same model on the same problems); a half split again gives quarters."""
    idx = sorted({r["sample"] for r in recs})
    cut = idx[len(idx) // 2] if idx else 0
    return [r for r in recs if r["sample"] < cut], [r for r in recs if r["sample"] >= cut]


def share(recs: list[dict], fmt: str) -> float:
    """Share of completions whose detected format is ``fmt``."""
    return float(np.mean([r["format"] == fmt for r in recs])) if recs else float("nan")


def shares(recs: list[dict]) -> dict[str, float]:
    """``{format: share}`` over completions."""
    return {f: share(recs, f) for f in sorted({r["format"] for r in recs})}


def format_accuracy(recs: list[dict], metric: str = "answer") -> dict[str, float]:
    """``{format: mean metric}`` over the completions in each format."""
    return {f: float(np.mean([bool(r[metric]) for r in recs if r["format"] == f]))
            for f in sorted({r["format"] for r in recs})}


def seed_means(rows: list[dict], value: str, **where) -> dict[int, float]:
    """``{seed: mean of row[value]}`` over rows matching ``where`` (a per-seed summary for figures)."""
    out: dict[int, list[float]] = {}
    for r in rows:
        if all(r.get(k) == v for k, v in where.items()) and r.get(value) is not None:
            out.setdefault(r["seed"], []).append(r[value])
    return {s: float(np.mean(v)) for s, v in sorted(out.items())}
