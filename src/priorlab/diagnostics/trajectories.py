"""Distinct reasoning trajectories per problem: how many different ways a model solves or fails it.

Source: Matsutani et al., "RL squeezes, SFT expands" (arXiv 2509.21128; shared/research/
more-systems.md §10): RL compresses the *incorrect* trajectories of a model, SFT expands the
*correct* ones. The paper clusters 256 samples per problem by text similarity; a world with a
verifier needs no clustering: a completion's **trajectory** is read off the verifier's parsed
trace (:attr:`priorlab.worlds.base.Verdict.steps`):

    (format, ((target, status), ...))

the detected format and the exact sequence of the nodes it computed, in the order written, each
with the verifier's status (``ok``, ``wrong_value``, ``wrong_parents``, ``extra``). Two completions
that compute the same nodes in the same order with the same errors share a trajectory, whatever
their surface tokens; a node skipped, reordered, repeated or miscomputed makes another one. An
answer-only completion has no steps: its trajectory is ``(format, ())``.

A trajectory is *correct* when its completion is verified (the lab's strict metric), else
incorrect; the counts are of distinct trajectories among a problem's correct (incorrect) samples.

Distinct counts grow with the number of samples counted, so two models with different accuracy
are compared at a matched number of incorrect (or correct) samples: :func:`rarefied` is the
expected number of distinct trajectories in m samples drawn without replacement from a model's
own (Hurlbert's rarefaction, 1971).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from priorlab.passk import pass_at_k
from priorlab.worlds.base import Verdict

Trajectory = tuple[str, tuple[tuple[str, str], ...]]


def trajectory(v: Verdict) -> Trajectory:
    """The trajectory of one verified completion: its format and its parsed steps in order."""
    return v.format, tuple((s["target"], s["status"]) for s in v.steps)


def count_trajectories(items: Iterable[tuple[str, Trajectory, bool]]) -> dict[str, dict[str, int]]:
    """``{problem: {"correct", "incorrect", "samples"}}`` from ``(problem, trajectory, correct)``
    triples: distinct trajectories among the problem's correct and incorrect samples, and its
    sample count (problems in first-seen order)."""
    seen: dict[str, tuple[set, set, list]] = {}
    for problem, traj, correct in items:
        good, bad, n = seen.setdefault(problem, (set(), set(), [0]))
        (good if correct else bad).add(traj)
        n[0] += 1
    return {p: {"correct": len(g), "incorrect": len(b), "samples": n[0]} for p, (g, b, n) in seen.items()}


def multiplicities(items: Iterable[tuple[str, Trajectory, bool]], correct: bool) -> dict[str, Counter]:
    """``{problem: Counter(trajectory -> samples)}`` over the correct (or incorrect) samples."""
    out: dict[str, Counter] = {}
    for problem, traj, ok in items:
        if ok == correct:
            out.setdefault(problem, Counter())[traj] += 1
    return out


def rarefied(counts: Iterable[int], m: int) -> float:
    """Expected distinct trajectories among ``m`` of the N = sum(counts) samples drawn without
    replacement: sum over trajectories of 1 − C(N − n_i, m) / C(N, m) (Hurlbert 1971), i.e. of
    the chance that m draws include trajectory i — the unbiased pass@m with n_i "correct"."""
    counts = list(counts)
    n = sum(counts)
    if not 0 <= m <= n:
        raise ValueError(f"cannot draw {m} of {n} samples")
    return float(sum(pass_at_k(n, c, m) for c in counts)) if m else 0.0


def record_trajectories(world, records: list[dict], key) -> list[tuple[str, Trajectory, bool]]:
    """``(key(record), trajectory, verified)`` per completion record (``samples.parquet`` rows of
    :func:`priorlab.evaluate.sample_and_verify`): each completion is verified again against its
    problem (regenerated from split, index, depth and context) to recover the parsed trace the
    records do not store."""
    out, problems = [], {}
    for r in records:
        at = (r["split"], r["index"], r["depth"], r["context"])
        problem = problems.get(at) or problems.setdefault(at, world.problem(*at))
        v = world.verify(problem, r["text"], bool(r["truncated"]))
        out.append((key(r), trajectory(v), bool(v.verified)))
    return out
