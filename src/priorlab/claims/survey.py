"""``priorlab retest --status``: where a long re-test stands in its store, without running anything.

A ``medium`` re-test is hours to days of jobs, spread over interruptions. :func:`survey` walks the
same plan as :func:`~priorlab.claims.retest.run_all` with a runner that only looks each job's run
up in the store: finished (with its wall time), running (and which process holds it), interrupted,
failed or crashed (and the checkpoint a rerun resumes from), or not started; an arm seed whose
prior or base run has not finished yet waits for it. :func:`left` estimates the core time still to
go from the finished runs of the same arm (or prior), or of the same kind, steps and threads, less
what a checkpoint already holds.
"""

from __future__ import annotations

import statistics

from priorlab.claims.base import Claim, Scale
from priorlab.claims.retest import plan, run_all


def _total_steps(cfg) -> int | None:
    """Optimizer steps a run of ``cfg`` takes (an RL, SFT or stage config's ``steps``; a pretraining
    config's tokens over its batch), or None."""
    if (steps := getattr(cfg, "steps", None)) is not None:
        return int(steps)
    pc = getattr(cfg, "pretrain", None)
    return pc.total_steps if pc is not None else None


def _looker(store, steps: dict[str, tuple[int, int | None, int]]):
    """A stage runner for :func:`run_all` that looks jobs up instead of running them; fills
    ``steps[run_dir]`` with (the latest checkpoint's step, the run's steps, the job's threads)."""
    from priorlab import store as S
    from priorlab.checkpoint import latest_checkpoint
    from priorlab.locks import lock_holder
    from priorlab.sweep import JobResult
    from priorlab.sweep import plan as name_runs

    def look(jobs, stage):
        out = []
        for st in name_runs(jobs, store):
            d = st.run_dir
            status = S.run_status(d) if d.exists() else "not started"
            latest = latest_checkpoint(d) if d.exists() else None  # what a rerun resumes from
            ckpt = int(latest.name.rpartition("-")[2]) if latest else 0
            total = _total_steps(st.cfg)
            steps[str(d)] = (ckpt, total, st.job.threads)
            detail = {"running": f"held by {lock_holder(d)}", "not started": "no run in the store"}.get(
                status, f"resumes from step {ckpt} of {total}" if ckpt else "resumes from the start")
            out.append(JobResult(st.job, d, "reused" if status == "finished" else status, detail))
        return out

    return look


def _arm_steps(arm) -> int | None:
    """Steps of ``arm``'s runs, from its config without a prior (for seeds still waiting for one)."""
    from priorlab.config import load_config
    from priorlab.kinds import get_kind

    kind = get_kind(arm.kind)
    return _total_steps(load_config(kind.base_path(arm.preset), list(arm.sets), model=kind.config_model()))


def survey(claims: list[Claim], scale: Scale, store) -> list[dict]:
    """One row per prior and arm x seed the claims need: ``name``, ``kind``, ``spec`` (the prior or
    arm it belongs to), ``status`` (finished, running, interrupted, failed, crashed, not started,
    refused, waiting), ``detail``, ``path``, ``wall_s`` (finished runs), ``steps`` (the run's, when
    known), ``threads`` and ``done`` (the share of the steps a checkpoint holds)."""
    steps: dict[str, tuple[int, int | None, int]] = {}
    _, _, rows = run_all(claims, scale, "local", None, store, False, run=_looker(store, steps))
    out, seen = [], set()
    for r in rows:
        base = r["kind"] == "prior" and r["path"] in seen  # a continuation whose base has not finished
        seen.add(r["path"])
        status = "waiting" if base else ("finished" if r["status"] == "reused" else r["status"])
        detail = "for the prior it continues" if base else r["summary"].partition(": ")[2]
        at, total, threads = (0, None, 1) if base else steps[r["path"]]
        out.append({k: r[k] for k in ("name", "kind", "spec")} | {
            "status": status, "detail": detail, "path": None if base else r["path"], "steps": total,
            "threads": threads,
            "wall_s": r["wall_s"] if status == "finished" else None, "done": min(1.0, at / total) if total else 0.0})
    named = {r["name"] for r in out}
    _, arms = plan(claims, scale)
    for a in arms.values():
        waiting = [s for s in scale.seeds if f"{a.name} seed {s}" not in named]
        total = _arm_steps(a) if waiting else None
        out += [{"name": f"{a.name} seed {s}", "kind": a.kind, "spec": a.name, "status": "waiting",
                 "detail": f"for {a.prior} (and {a.teacher})" if a.teacher else f"for {a.prior}", "path": None,
                 "wall_s": None, "steps": total, "threads": 1, "done": 0.0} for s in waiting]
    return out


def readiness(claims: list[Claim], scale: Scale, rows: list[dict]) -> list[str]:
    """Per claim: how many of its runs are settled (finished, or refused: a rerun would refuse them
    again), and whether it can be judged now (every prior and required arm has a finished run)."""
    out = []
    for c in claims:
        arms, priors = c.arms(scale), {p.name for p in c.priors(scale)}
        mine = [r for r in rows if r["spec"] in priors | {a.name for a in arms}]
        settled = [r for r in mine if r["status"] in ("finished", "refused")]
        needed = priors | {a.name for a in arms if a.required}
        ready = all(any(r["spec"] == n and r["status"] == "finished" for r in mine) for n in needed)
        state = "ready to judge" if ready and len(settled) == len(mine) else (
            "judgeable now, some runs still to go" if ready else "not ready")
        out.append(f"{c.id}: {len(settled)} of {len(mine)} runs settled — {state}")
    return out


def left(rows: list[dict]) -> tuple[float, int, int]:
    """``(core seconds, runs estimated, runs not estimated)`` still to go: each unfinished, unrefused
    run at the mean wall time of the finished runs of its arm or prior (else of the finished runs of
    its kind, number of steps and threads), less the share its checkpoint holds, times its threads
    (a 2-thread prior holds two cores: its wall is not a one-thread replica's)."""
    by_spec: dict[str, list[float]] = {}
    by_shape: dict[tuple, list[float]] = {}
    for r in rows:
        if r["status"] == "finished" and r["wall_s"]:
            by_spec.setdefault(r["spec"], []).append(r["wall_s"])
            by_shape.setdefault((r["kind"], r["steps"], r["threads"]), []).append(r["wall_s"])
    seconds, known, unknown = 0.0, 0, 0
    for r in rows:
        if r["status"] in ("finished", "refused"):
            continue
        like = by_spec.get(r["spec"]) or by_shape.get((r["kind"], r["steps"], r["threads"]))
        if like:
            seconds += statistics.mean(like) * (1 - r["done"]) * r["threads"]
            known += 1
        else:
            unknown += 1
    return seconds, known, unknown


def summary(rows: list[dict], workers: int) -> str:
    """One line: how many runs are in each state and the time left on ``workers`` cores."""
    counts = {s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)}
    seconds, known, unknown = left(rows)
    line = f"{len(rows)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    if known:
        hours = seconds / 3600
        line += (f"; left: ≈ {hours:.1f} core-hours for {known} runs (≈ {hours / workers:.1f} h of wall on "
                 f"{workers} cores), from finished runs of the same arm, or kind, steps and threads")
    if unknown:
        line += f"; {unknown} runs with no finished run like them to estimate from"
    return line
