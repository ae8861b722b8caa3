"""``priorlab retest``: run what the chosen claims need, once, then measure and judge each claim.

Plan: collect every chosen claim's priors and arms at one :class:`~priorlab.claims.base.Scale`
(claims that declare the same prior or arm share it; the same name with different specs is an
error), run the priors, then every arm x seed on its prior (then the arms on those arms), through the run store and the
sweep executors (:mod:`priorlab.sweep`: finished runs with the same config hash are reused,
crashed ones resumed; runs another process holds are waited for). Then each claim measures its
runs, judges them, and lands in ``OUT/claims/<id>/result.json``; ``OUT/report.html`` and
``OUT/verdicts.json`` render them. A claim with a prior or an arm of which no run finished is
``not run`` (the reason names the runs), never judged; when any job or claim did not run, the
report is written and :class:`~priorlab.errors.IncompleteError` raised.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from pathlib import Path

from priorlab.claims.base import CLAIMS, SCALES, Arm, Claim, Evidence, PriorSpec, Scale, prior_replicas, replica
from priorlab.claims.result import ClaimResult
from priorlab.claims.spares import plateaued_in_store, spare_note, spares
from priorlab.config import ConfigError, default_config_path, load_config
from priorlab.errors import IncompleteError


def chosen(ids: list[str] | None) -> list[Claim]:
    """Claim instances for ``ids`` (all registered claims when empty), in registry order."""
    names = sorted(CLAIMS.names(), key=lambda s: int(s[1:]))
    return [CLAIMS.get(i)() for i in (ids or names)]


def _unique(items, kind: str) -> dict:
    out = {}
    for it in items:
        if it.name in out and out[it.name] != it:
            raise ConfigError(f"two claims declare {kind} {it.name!r} differently; give one of them another name")
        out[it.name] = it
    return out


def plan(claims: list[Claim], scale: Scale) -> tuple[dict[str, PriorSpec], dict[str, Arm]]:
    """The distinct priors and arms the claims need."""
    priors = _unique([p for c in claims for p in c.priors(scale)], "prior")
    arms = _unique([a for c in claims for a in c.arms(scale)], "arm")
    for p in priors.values():
        if p.replicated and p.match and p.match[0] in priors and not priors[p.match[0]].replicated:
            raise ConfigError(f"prior {p.name!r} is replicated but matched to {p.match[0]!r}, which is not: "
                              f"replicate both (seed s matches seed s) or neither")
        if not p.replicated and p.base in priors and priors[p.base].replicated:
            raise ConfigError(f"prior {p.name!r} continues {p.base!r}, which is replicated (one prior per seed): "
                              f"replicate {p.name!r} too, so that seed s continues seed s's replica")
    for a in arms.values():
        if a.prior not in priors and a.prior not in arms:
            raise ConfigError(f"arm {a.name!r} runs on prior {a.prior!r}, which no claim declares")
        if a.teacher is not None and a.teacher not in priors:
            raise ConfigError(f"arm {a.name!r} distils from teacher {a.teacher!r}, which no claim declares as a prior")
    return priors, arms


def prior_config(spec: PriorSpec, scale: Scale, base: Path | None = None, match: list[str] = ()):
    """The demo prior config with the scale's and the spec's overrides (continued from ``base``,
    then ``match``: a matched budget's overrides; a continued prior's tokens times ``spec.budget``)."""
    cont = [*scale.continue_sets, f"pretrain.init_from={base}"] if spec.base else []
    cfg = load_config(default_config_path("demo"), [*scale.prior_sets, *cont, *spec.sets, *match])
    if not spec.base or spec.budget == 1:
        return cfg
    tokens = round(cfg.pretrain.tokens * spec.budget)
    return cfg.model_copy(update={"pretrain": cfg.pretrain.model_copy(update={"tokens": tokens})})


def prior_job(spec: PriorSpec, scale: Scale, dirs: dict[str, Path]):
    """The job that makes prior ``spec``; ``dirs``: the run directories of :meth:`PriorSpec.needs`."""
    from priorlab.kinds import get_kind
    from priorlab.sweep import Job

    base = dirs[spec.base] / "model" if spec.base else None
    threads = spec.threads or scale.prior_threads
    if spec.kind != "pretrain":
        k = get_kind(spec.kind)
        cfg = load_config(k.base_path(None), [*scale.stage_sets, *spec.sets, f"{k.checkpoints[0]}={base}"],
                          model=k.config_model())
        return Job(spec.kind, cfg, threads=threads, name=f"prior {spec.name}")
    from priorlab.rlp.matched import matched_sets

    match = matched_sets(dirs[spec.match[0]], spec.match[1]) if spec.match else []
    return Job("pretrain", prior_config(spec, scale, base, match), threads=threads, name=f"prior {spec.name}")


def _run_priors(priors: dict[str, PriorSpec], scale: Scale, run, spare=lambda name: None,
                plateaued=lambda job: False) -> tuple[dict, list]:
    """Priors in dependency order (base priors first, then those made from or matched to them);
    ``({name: JobResult}, [(name, JobResult of a run replaced for it)])``. A prior that finished without
    clicking is replaced by ``spare(name)`` (a spec, or None: no spare left) in a later stage: its
    name then holds the spare's result, and what continues it waits for the spare. ``plateaued(job)``: the
    store already holds that job's run, finished without clicking; its spare then runs in the same
    stage instead of a later one of its own (one core idle while it trains alone)."""
    from priorlab.rl.config import unclicked

    done, replaced, queued = {}, [], {}  # queued: name -> the spare spec standing in for it
    while len(done) < len(priors):
        waiting = {n for n, _ in replaced}
        ready = [n for n, p in priors.items()
                 if n not in done and n not in waiting and all(d in done for d in p.needs())]
        if not ready and not queued:
            raise ConfigError(f"priors {sorted(set(priors) - set(done))} continue from a prior no claim declares")
        jobs, ahead = [], {}  # ahead: name -> the spare of a replica the store knows never clicked
        for n in list(ready):
            failed = next((done[d] for d in priors[n].needs() if not done[d].ok), None)
            if failed is not None:
                ready.remove(n)
                done[n] = failed  # a failed base fails its continuations
                continue
            jobs.append(prior_job(priors[n], scale, {d: done[d].run_dir for d in priors[n].needs()}))
            if plateaued(jobs[-1]) and (stand_in := spare(n)) is not None:
                ahead[n] = stand_in
        queued |= ahead
        jobs += [prior_job(spec, scale, {}) for spec in queued.values()]
        names, queued = ready + list(queued), {}
        for i, (n, r) in enumerate(zip(names, run(jobs, f"priors-{len(done) + len(replaced)}"))):
            if i < len(ready) and n in ahead:  # its spare ran beside it
                replaced.append((n, r))
            elif r.ok and unclicked(r.run_dir / "model") is not None and (stand_in := spare(n)) is not None:
                replaced.append((n, r))
                queued[n] = stand_in
            else:
                done[n] = r
    return done, replaced


def arm_config(arm: Arm, seed: int, prior: Path, teacher: Path | None = None):
    """The arm's config (of its run kind: RL or SFT) for one seed on a prior checkpoint.

    Each seed is evaluated on its own problems (``final.problem_offset = seed x final.n_problems``)
    with its own sampling seed (``final.seed = seed``), so an interval over seeds covers problem
    sampling too; before and after within one seed stay paired (same problems, same draws), and
    so are two arms of one seed with the same ``final`` settings."""
    from priorlab.kinds import get_kind

    kind = get_kind(arm.kind)
    sets = [*arm.sets, f"{kind.seed_field}={seed}", f"prior={prior}"] + ([f"teacher={teacher}"] if teacher else [])
    cfg = load_config(kind.base_path(arm.preset), sets, model=kind.config_model())
    final = cfg.final.model_copy(update={"problem_offset": seed * cfg.final.n_problems, "seed": seed})
    return cfg.model_copy(update={"final": final})


def _prior_dir(name: str, seed: int, priors: dict[str, PriorSpec], prior_dirs: dict[str, Path]) -> Path | None:
    """Prior ``name``'s checkpoint for seed ``seed``: its replica for that seed when replicated."""
    return prior_dirs.get(replica(name, seed) if priors[name].replicated else name)


def _start(arm: Arm, seed: int, priors: dict[str, PriorSpec], prior_dirs: dict[str, Path],
           done: dict[str, dict[int, Path]]) -> Path | None:
    """The checkpoint seed ``seed`` of ``arm`` starts from: its prior's (seed ``seed``'s replica of
    a replicated prior), or its base arm's seed-``seed`` model; None when that run did not finish."""
    if arm.prior not in done:
        return _prior_dir(arm.prior, seed, priors, prior_dirs)
    run = done[arm.prior].get(seed)
    return run and run / "model"


def _run_arms(arms: dict[str, Arm], scale: Scale, priors: dict[str, PriorSpec], prior_dirs: dict[str, Path],
              run) -> list[tuple]:
    """Every arm x seed, in stages: arms on priors first, then arms on those arms' models (seed s
    on seed s); ``[(arm, seed, JobResult)]``. A seed whose prior, base run or teacher did not
    finish is not started; one whose prior never clicked is ``refused`` (its ``run_dir``: that prior's run)."""
    from priorlab.sweep import Job, JobResult

    done: dict[str, dict[int, Path]] = {}
    out: list[tuple] = []
    while len(done) < len(arms):
        ready = [n for n, a in arms.items() if n not in done and (a.prior not in arms or a.prior in done)]
        if not ready:
            raise ConfigError(f"arms {sorted(set(arms) - set(done))} run on arms that form a cycle")
        keys, jobs = [], []
        for n in ready:
            a = arms[n]
            for s in scale.seeds:
                teacher = _prior_dir(a.teacher, s, priors, prior_dirs) if a.teacher else None
                start = _start(a, s, priors, prior_dirs, done)
                if start is None or (a.teacher is not None and teacher is None):
                    continue
                job = Job(a.kind, arm_config(a, s, start, teacher), name=f"{n} seed {s}")
                if why := _refused(job.config, start):
                    out.append((n, s, JobResult(job, start.parent, "refused", why)))
                else:
                    keys.append((n, s))
                    jobs.append(job)
        results = run(jobs, f"arms-{len(done)}")
        done.update({n: {} for n in ready})
        for (n, s), r in zip(keys, results):
            out.append((n, s, r))
            if r.ok:
                done[n][s] = r.run_dir
    return out


def _refused(cfg, start: Path) -> str | None:
    """Why seed ``cfg`` of an arm is not started: its prior never clicked (or lost its click in
    the stage that made it) and the arm does not allow that (``allow_unclicked_prior``). A refusal
    is a property of that prior, not a failure: rerunning would refuse again, so the claim is
    judged on the other seeds and says which."""
    from priorlab.rl.config import unclicked, unclicked_reason

    if getattr(cfg, "allow_unclicked_prior", True) or (info := unclicked(start)) is None:
        return None
    return f"its prior {start} {unclicked_reason(info)}, so this seed is left out of the claim's interval"


def run_all(claims: list[Claim], scale: Scale, executor: str, workers: int | None, store, show: bool,
            address: str | None = None, out: Path | None = None, run=None):
    """Run (or reuse) every prior and arm x seed; returns (prior dirs, arm dirs, one row per job).
    ``run(jobs, stage) -> [JobResult]``: how a stage's jobs run (default: through the store on
    ``executor``; :mod:`priorlab.claims.survey` passes one that only looks them up)."""
    from priorlab.sweep import run_jobs

    priors, arms = plan(claims, scale)

    def through_store(jobs, stage):  # ``workers`` counts cores; jobs are packed into them by their threads
        return run_jobs(jobs, executor=executor, cores=workers, store=store, show=show, address=address,
                        sweep_dir=out and out / f"jobs-{stage}", strict=False)

    run = run or through_store

    replicas = prior_replicas(priors, scale)
    done, replaced = _run_priors({n: r for n, (_, r) in replicas.items()}, scale, run,
                                 spares(replicas, priors, scale), lambda job: plateaued_in_store(job, store))
    prior_dirs = {n: r.run_dir / "model" for n, r in done.items() if r.ok}
    trained = _run_arms(arms, scale, priors, prior_dirs, run)
    arm_dirs: dict[str, dict[int, Path]] = {a: {} for a in arms}
    for a, s, r in trained:
        if r.ok:
            arm_dirs[a][s] = r.run_dir
    spared = {n for n, _ in replaced}
    jobs = ([("prior", f"{_made(r)} (never clicked: seed {_seed(n)} runs on a spare)", None, r, replicas[n][0])
             for n, r in replaced]
            + [("prior", f"{_made(r)} (spare for seed {_seed(n)})" if n in spared else n, None, r, replicas[n][0],
                int(_seed(n)) if n in spared else None) for n, r in done.items()]
            + [(arms[a].kind, a, s, r, a) for a, s, r in trained])
    return prior_dirs, arm_dirs, [_run_row(*j) for j in jobs]


def _made(r) -> str:
    """The prior a job made: its job's name without ``prior``."""
    return r.job.name.removeprefix("prior ")


def _seed(name: str) -> str:
    """The prior seed of replica ``name`` (:func:`~priorlab.claims.base.replica`)."""
    return name.rsplit("@s", 1)[-1]


def _run_row(kind: str, name: str, seed: int | None, r, spec: str, spare_for: int | None = None) -> dict:
    """One job as the report lists it; ``spec`` (the prior or arm name, a replica's prior) says
    which claims it serves; ``spare_for``: the prior seed a spare replica stands in for."""
    return ({"name": name + (f" seed {seed}" if seed is not None else ""), "kind": kind, "spec": spec,
             "path": str(r.run_dir), "summary": "" if r.ok else f"{r.status}: {r.error}",
             "reused": r.status == "reused", "wall_s": _wall(r), "status": r.status}
            | ({"spare_for": spare_for} if spare_for is not None else {}))


def _failed(rows: list[dict], refused: bool = False) -> list[str]:
    """``"KIND NAME: STATUS: error"`` for every job among ``rows`` that did not finish (with
    ``refused``: every job not started because its prior never clicked)."""
    return [f"{r['kind']} {r['name']}: {r['summary']}" for r in rows
            if r["summary"] and (r.get("status") == "refused") == refused]


def _missing(claim: Claim, ev: Evidence) -> list[str]:
    """The claim's priors and required arms of which no run finished."""
    return ([f"prior {n}" for n in prior_replicas({p.name: p for p in claim.priors(ev.scale)}, ev.scale)
             if n not in ev.priors]
            + [f"arm {a.name}" for a in claim.arms(ev.scale) if a.required and not ev.arms.get(a.name)])


def not_run(claim: Claim, ev: Evidence, runs: list[dict], missing: list[str]) -> ClaimResult:
    """A claim whose runs are missing: no measurement, no verdict, the reason (which runs, why)."""
    failed, refused = _failed(runs), _failed(runs, refused=True)
    why = "; ".join(failed + refused) or "no job was started for them"
    fix = ("rerun the re-test to complete them" if failed or not refused else
           "a prior that never clicked (or lost its click) is refused on every rerun: see docs/pretraining.md")
    return ClaimResult(
        id=claim.id, title=claim.title, statement=claim.statement, source=dict(claim.source),
        statistic=claim.statistic, verdict="not run", reason=f"no finished run of {', '.join(missing)} ({why}); "
        f"{fix}", effect=None, ci_low=None, ci_high=None, seeds=0,
        scale=ev.scale.name, runs=runs, next_steps=list(claim.next_steps),
        notes=list(claim.notes) + spare_note(runs))


def _wall(r) -> float:
    """A job's wall time; for a reused run, the time it took when it was made (``run.json``)."""
    from priorlab.store import read_record

    return float(r.wall_s or (r.status == "reused" and (read_record(r.run_dir) or {}).get("wall_s")) or 0.0)


def judge_claim(claim: Claim, ev: Evidence, runs: list[dict]) -> ClaimResult:
    """Measure and judge one claim; a failure in either is ``instrument failed`` with its reason."""
    t0 = time.perf_counter()
    ev.out.mkdir(parents=True, exist_ok=True)
    rows, figures = [], []
    try:
        rows, figures = claim.measure(ev)
        v = claim.judge(rows)
        head = v.primary
        judged = dict(verdict=v.verdict, reason=v.reason, effect=head.effect, ci_low=head.ci_low,
                      ci_high=head.ci_high, seeds=head.units, parts=[dataclasses.asdict(p) for p in v.parts],
                      positive_control=v.positive_control, negative_control=v.negative_control, mde=head.mde)
    except Exception as e:  # noqa: BLE001 - a broken claim must not sink the others' report
        (ev.out / "error.txt").write_text(traceback.format_exc())
        judged = dict(verdict="instrument failed", reason=f"measurement failed: {type(e).__name__}: {e} "
                                                     f"(traceback in {ev.out / 'error.txt'})",
                      effect=None, ci_low=None, ci_high=None, seeds=0)
    return ClaimResult(
        id=claim.id, title=claim.title, statement=claim.statement, source=dict(claim.source),
        statistic=claim.statistic, scale=ev.scale.name, runs=runs, figures=[str(f) for f in figures], table=rows,
        paper_effect=claim.paper_effect, next_steps=list(claim.next_steps), wall_s=time.perf_counter() - t0,
        notes=list(claim.notes) + spare_note(runs) + [horizon_note(claim, ev.scale)], **judged)


def horizon_note(claim: Claim, scale: Scale) -> str:
    """The RL horizon the claim's paper needs, beside what this scale's first RL arm runs."""
    need = (f"RL horizon the paper's effect needs: {claim.horizon.steps} steps, {claim.horizon.epochs:g} epochs "
            f"of the prompt pool ({claim.horizon.source})")
    arm = next((a for a in claim.arms(scale) if a.kind == "rl"), None)
    if arm is None:
        return need
    cfg = arm_config(arm, 0, Path("prior"))
    pool = cfg.data.n_prompts * cfg.data.cells
    return (f"{need}; this scale runs {cfg.steps} steps, {cfg.steps * cfg.rollout.prompts_per_step / pool:.3g} "
            f"epochs of a {pool}-prompt pool (arm {arm.name})")


def retest(ids: list[str] | None, scale_name: str, out: Path, executor: str = "local", workers: int | None = None,
           store=None, show: bool = True, address: str | None = None) -> list[ClaimResult]:
    """Run, measure, judge and report the chosen claims; returns their results."""
    from priorlab.report.html import write_report
    from priorlab.report.meta import collect_meta

    if scale_name not in SCALES:
        from priorlab.registry import did_you_mean

        raise ConfigError(f"--scale {scale_name!r}: unknown.{did_you_mean(scale_name, list(SCALES))} "
                          f"Scales: {', '.join(SCALES)}.")
    scale, claims, t0, started = SCALES[scale_name], chosen(ids), time.time(), time.strftime("%Y-%m-%d %H:%M:%S")
    prior_dirs, arm_dirs, rows = run_all(claims, scale, executor, workers, store, show, address, out)
    results = []
    for c in claims:
        ev = Evidence(prior_dirs, arm_dirs, out / "claims" / c.id, scale)
        mine = {p.name for p in c.priors(scale)} | {a.name for a in c.arms(scale)}
        runs = [{k: v for k, v in r.items() if k != "spec"} for r in rows if r["spec"] in mine]
        if missing := _missing(c, ev):
            result = not_run(c, ev, runs, missing)
        else:
            result = judge_claim(c, ev, runs)
            if failed := _failed(runs):
                result.notes.append("runs that did not finish: " + "; ".join(failed))
        if refused := _failed(runs, refused=True):
            result.notes.append("seeds not run: " + "; ".join(refused))
        result.save(ev.out / "result.json")
        results.append(result)
    breakdown = [{k: r[k] for k in ("name", "kind", "wall_s", "reused")} for r in rows]
    meta = collect_meta(scale.name, started, time.time() - t0, breakdown)
    if failed := _failed(rows):
        meta["note"] = f"{len(failed)} run(s) did not finish: " + "; ".join(failed)
    path = write_report(results, out, meta)
    skipped = [r.id for r in results if r.verdict == "not run"]
    if failed or skipped:
        which = f" ({', '.join(skipped)})" if skipped else ""
        then = ("Rerun the same command to reuse the finished runs and resume the others" if failed else
                "Every job finished or was refused: each claim's reason says what it lacks")
        raise IncompleteError(f"{len(skipped)} of {len(results)} claims not run{which}, {len(failed)} of {len(rows)} "
                              f"jobs did not finish; report: {path}. {then}")
    return results
