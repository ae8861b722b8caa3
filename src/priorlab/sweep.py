"""Run many store runs: ``run_jobs(jobs, executor="local" | "ray")`` (``priorlab sweep`` calls it).

Every job is a store run (:mod:`priorlab.store`): a finished run with the same config hash is
returned as ``reused`` without starting anything; an unfinished one resumes from its latest
checkpoint. A job runs ``python -m priorlab.store`` in a fresh process with ``OMP_NUM_THREADS``
and torch threads = ``job.threads``, its output appended to ``RUN_DIR/job.log``. A failed
attempt is retried up to ``retries`` times (each retry resumes), then reported with its error
(in the results, in ``SWEEP_DIR/sweep.json`` and at the end), never dropped. Stages with
dependencies (priors, then RL on them) are two calls.

A job whose run directory another process holds (a second sweep or re-test on the same store)
is ``waiting``: polled until the holder lets go, then reused when it finished there, or taken
over (resumed here) when it crashed or failed; with ``wait=False`` it ends as ``elsewhere``
(the holder's pid and host in its error). Neither is a failure, and neither is written to the
run's ``run.json``. A sweep in which any job did not finish or get reused ends with
:class:`~priorlab.errors.IncompleteError` once ``sweep.json`` is written.

Executors (:mod:`priorlab.executors`): ``local`` = job processes packed by their threads into
``cores`` (default: ``workers`` × the largest job's threads; ``workers`` default: free cores //
that): jobs of one thread count run ``workers`` at a time, and in a mix a 2-thread job runs alone on
2 cores while one-thread jobs run two at a time; ``ray`` = Ray tasks with ``num_cpus=threads``,
``num_gpus=gpus`` on the cluster at ``address`` (``auto`` for the one this machine belongs to), or
on a local instance of ``cores`` CPUs started for the call.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from priorlab import store as S
from priorlab.config import ConfigError
from priorlab.errors import IncompleteError
from priorlab.executors import LocalExecutor, RayExecutor, sigterm_as_interrupt
from priorlab.kinds import get_kind
from priorlab.locks import is_locked, lock_holder

DONE = ("finished", "reused")


@dataclass
class Job:
    """One run to make: ``config`` (dict or the kind's config model) of ``kind``, with its
    resources: torch ``threads`` (= CPUs asked of the executor) and ``gpus`` (Ray only)."""

    kind: str
    config: dict | BaseModel
    threads: int = 1
    gpus: float = 0
    name: str | None = None


@dataclass
class JobResult:
    """``status``: finished (ran now), reused (had finished before), failed (``error``),
    elsewhere (another process holds the run; ``error`` names it) or interrupted."""

    job: Job
    run_dir: Path
    status: str
    error: str | None = None
    wall_s: float = 0.0
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """Whether the run is there to use (finished now or before)."""
        return self.status in DONE


def incomplete(statuses: list[str]) -> str | None:
    """``"2 failed, 1 elsewhere"`` for the jobs that did not finish and were not reused, or None."""
    left = [s for s in statuses if s not in DONE]
    return ", ".join(f"{left.count(s)} {s}" for s in dict.fromkeys(left)) or None


@dataclass
class _State:
    job: Job
    cfg: BaseModel
    run_dir: Path
    status: str = "queued"
    attempts: int = 0
    error: str | None = None
    started: float | None = None
    wall_s: float = 0.0
    future: object = field(default=None, repr=False)


def default_workers(jobs: list[Job]) -> int:
    """Free cores (affinity minus load, :func:`priorlab.runtime.free_cores`) // the largest job's threads."""
    from priorlab.runtime import free_cores

    return max(1, free_cores() // max([j.threads for j in jobs] + [1]))


def plan(jobs: list[Job], store: str | Path | None) -> list[_State]:
    """Validate every job's config and name its run directory, before anything runs."""
    root, states, seen = S.store_root(store), [], {}
    for i, job in enumerate(jobs):
        if job.threads < 1 or job.gpus < 0:
            raise ConfigError(f"job {job.name or i}: threads must be >= 1 and gpus >= 0")
        cfg = S.with_threads(job.kind, S.as_config(job.kind, job.config), job.threads)
        rid = S.run_id(job.kind, cfg)
        if rid in seen:
            raise ConfigError(f"jobs {seen[rid]!r} and {job.name or rid!r} are the same run {rid} (a field that does "
                              f"not change the run, e.g. threads, varies between them)")
        seen[rid] = job.name or rid
        states.append(_State(job, cfg, root / rid))
    return states


def run_jobs(jobs: list[Job], executor: str = "local", workers: int | None = None, retries: int = 1,
             store: str | Path | None = None, show: bool = True, address: str | None = None,
             sweep_dir: str | Path | None = None, wait: bool = True, strict: bool = True,
             cores: int | None = None) -> list[JobResult]:
    """Run ``jobs`` in the store on ``executor``; one :class:`JobResult` per job, in order.

    ``workers``: jobs of the largest thread count at a time (default :func:`default_workers`);
    ``cores`` (instead of ``workers``): the cores to pack jobs into by their threads, the local
    pool's and a local Ray instance's (default workers x the largest job's threads; see
    :func:`fits`). ``retries``: extra attempts of a failed job.
    ``sweep_dir``: where ``sweep.json`` (one row per job, updated as jobs end) is written.
    ``wait``: wait for jobs another process holds (else they end as ``elsewhere``). ``strict``:
    raise :class:`IncompleteError` when a job did not finish (after writing the record);
    without it the caller reads the statuses.
    """
    if executor not in ("local", "ray"):
        raise ConfigError(f"executor: unknown executor {executor!r}; use local or ray")
    states = plan(jobs, store)
    root = S.store_root(store)
    for st in states:
        status = S.run_status(st.run_dir)
        if status == "finished":
            st.status = "reused"
        elif status == "running":
            _elsewhere(st, lock_holder(st.run_dir) or "another process", wait)
    todo = [st for st in states if st.status in ("queued", "waiting")]
    threads = max([st.job.threads for st in todo] + [1])
    workers = workers or (max(1, cores // threads) if cores else default_workers([st.job for st in todo]))
    cores = cores or workers * threads
    ex = None
    if todo:
        ex = LocalExecutor(cores) if executor == "local" else RayExecutor(address, cores)
    record = SweepRecord(sweep_dir, executor, workers, root, cores)
    try:
        with sigterm_as_interrupt(), LiveView(show) as view:
            _drive(ex, states, retries, root, wait, lambda: (view(states), record.write(states)))
    except BaseException as e:  # Ctrl-C, or the executor failed: stop the jobs, keep the record true
        why = "the sweep was interrupted" if isinstance(e, KeyboardInterrupt) else f"the sweep stopped ({e})"
        for st in states:
            if st.status in ("queued", "running", "waiting"):
                st.status, st.error = "interrupted", f"{why}; rerun it to resume"
        record.write(states)
        if ex:
            ex.close(cancel=True)
        raise
    if ex:
        ex.close()
    record.write(states)
    if show:
        report(states, record.path)
    if strict and (left := incomplete([st.status for st in states])):
        raise IncompleteError(f"{left} of {len(states)} jobs (the others finished or were reused); "
                              f"{'record: ' + str(record.path) if record.path else 'errors above'}. Rerun "
                              f"the same sweep to reuse the finished runs and resume or wait for the others")
    return [JobResult(st.job, st.run_dir, st.status, st.error, round(st.wall_s, 2), st.attempts) for st in states]


def _elsewhere(st: _State, holder: str, wait: bool) -> None:
    """``st``'s run is held by ``holder`` (``pid N on HOST since T``): wait for it, or report it."""
    st.status, st.error = "waiting" if wait else "elsewhere", f"running elsewhere: {holder}"


def _take_back(states: list[_State], queue: list[_State]) -> None:
    """Waiting jobs whose holder let go: reused when the run finished there, else queued to take
    it over (it crashed, failed or was interrupted there; it resumes here)."""
    for st in states:
        if st.status == "waiting" and not is_locked(st.run_dir):
            if S.run_status(st.run_dir) == "finished":
                st.status, st.error = "reused", None
            else:
                st.status, st.error = "queued", None
                queue.append(st)


def fits(queue: list[_State], running: list[_State], cores: int | None) -> int | None:
    """Index of the first queued job whose threads fit in the cores the ``running`` jobs leave
    free (any job fits an idle pool, even one larger than it; ``cores`` None: the executor queues by
    itself, so the first), or None. A job that does not fit lets a smaller one behind it start."""
    if not queue:
        return None
    if cores is None or not running:
        return 0
    free = cores - sum(st.job.threads for st in running)
    return next((i for i, st in enumerate(queue) if st.job.threads <= free), None)


def _drive(ex, states: list[_State], retries: int, root: Path, wait: bool, refresh) -> None:
    """Submit (packed into ``ex.cores`` by threads, :func:`fits`), wait, retry failed attempts
    (each resumes), take back jobs other processes held, until every job has ended."""
    queue, pending = [st for st in states if st.status == "queued"], {}

    def submit(st: _State) -> None:
        payload = {"kind": st.job.kind, "kind_module": get_kind(st.job.kind).module,
                   "config": st.cfg.model_dump(mode="json"), "store": str(root), "threads": st.job.threads}
        st.status, st.attempts, st.started = "running", st.attempts + 1, time.perf_counter()
        pending[ex.submit(payload, str(st.run_dir / "job.log"), st.job.threads, st.job.gpus)] = st

    while queue or pending or any(st.status == "waiting" for st in states):
        _take_back(states, queue)
        while (i := fits(queue, list(pending.values()), ex.cores)) is not None:
            submit(queue.pop(i))
        refresh()
        if not pending:  # only jobs other processes hold: poll their locks
            time.sleep(0.5)
        done, _ = cf.wait(list(pending), timeout=0.5, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            st = pending.pop(fut)
            try:
                res = fut.result()
            except Exception as e:  # the executor itself failed (e.g. a Ray worker died)
                res = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
            st.wall_s += res.get("wall_s", time.perf_counter() - st.started)
            st.status, st.error = res["status"], res.get("error")
            if st.status == "elsewhere":  # claimed by another process since the check: not an attempt
                st.attempts -= 1
                _elsewhere(st, st.error, wait)
            elif st.status == "failed" and st.attempts <= retries:
                queue.insert(0, st)
                st.status = "queued"
    refresh()


class SweepRecord:
    """``SWEEP_DIR/sweep.json``: the settings and one row per job (rewritten as jobs end)."""

    def __init__(self, sweep_dir, executor: str, workers: int, root: Path, cores: int):
        self.path = Path(sweep_dir) / "sweep.json" if sweep_dir else None
        self.head = {"executor": executor, "workers": workers, "cores": cores, "store": str(root),
                     "started_at": S._now()}

    def write(self, states: list[_State]) -> None:
        if self.path is None:
            return
        rows = [{"name": st.job.name, "kind": st.job.kind, "run_id": st.run_dir.name, "run_dir": str(st.run_dir),
                 "status": st.status, "attempts": st.attempts, "wall_s": round(st.wall_s, 2), "error": st.error,
                 "threads": st.job.threads, "gpus": st.job.gpus} for st in states]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.head | {"updated_at": S._now(), "jobs": rows}, indent=2))


#: job statuses in the order the live table lists them, with their colours
ORDER = {"running": "yellow", "waiting": "yellow", "failed": "red", "elsewhere": "magenta", "interrupted": "red",
         "queued": "white", "finished": "green", "reused": "cyan"}


def _table(states: list[_State], limit: int = 40):
    from rich.table import Table

    counts = {s: sum(st.status == s for st in states) for s in ORDER}
    rest = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s not in DONE)
    table = Table(title=f"sweep: {counts['finished'] + counts['reused']}/{len(states)} done "
                        f"({counts['reused']} reused)" + (f", {rest}" if rest else ""), title_justify="left")
    for col in ("job", "run", "status", "attempt", "wall"):
        table.add_column(col, overflow="fold")
    order = sorted(states, key=lambda st: list(ORDER).index(st.status))
    for st in order[:limit]:
        wall = st.wall_s + (time.perf_counter() - st.started if st.status == "running" else 0)
        status = f"[{ORDER[st.status]}]{st.status}[/]" + (f" ({st.error})" if st.status == "waiting" else "")
        table.add_row(st.job.name or "", st.run_dir.name, status, str(st.attempts),
                      f"{wall:.0f}s" if st.attempts else "")
    if len(order) > limit:
        table.caption = f"... {len(order) - limit} more"
    return table


class LiveView:
    """The jobs as they run, or nothing when ``show`` is off: on a terminal a live rich table
    (refreshed by the driver); otherwise (a log file, hours of a re-test under ``nohup``) one
    timestamped line per job that changes status, then the final table."""

    def __init__(self, show: bool):
        self.live = self.console = None
        self.seen: dict[Path, tuple[str, int]] = {}
        self.last: list[_State] = []
        if show:
            from rich import get_console
            from rich.live import Live

            self.console = get_console()
            if self.console.is_terminal or self.console.is_jupyter:
                self.live = Live(console=self.console, refresh_per_second=2, transient=False)

    def __enter__(self):
        if self.live:
            self.live.__enter__()
        return self.update

    def update(self, states: list[_State]) -> None:
        if self.live:
            self.live.update(_table(states))
        elif self.console:
            self.last = states
            for line in changes(states, self.seen):
                self.console.print(line, soft_wrap=True, markup=False, highlight=False)

    def __exit__(self, *exc):
        if self.live:
            self.live.__exit__(*exc)
        elif self.console and self.last:
            self.console.print(_table(self.last))


def changes(states: list[_State], seen: dict[Path, tuple[str, int]]) -> list[str]:
    """Log lines for the jobs whose (status, attempt) changed since ``seen`` (updated in place):
    on the first call one line of counts, not a line per job already reused or queued."""
    first = not seen
    done = sum(st.status in DONE for st in states)
    stamp, lines = time.strftime("%H:%M:%S"), []
    for st in states:
        now = (st.status, st.attempts)
        if seen.get(st.run_dir) == now:
            continue
        seen[st.run_dir] = now
        if first and st.status in ("reused", "queued"):
            continue
        what = {"finished": f" in {st.wall_s:.0f} s", "running": f" (attempt {st.attempts})" if st.attempts > 1 else ""}
        tail = what.get(st.status, f": {st.error}" if st.error else "")
        lines.append(f"{stamp} {st.status} {st.job.name or st.run_dir.name} ({st.run_dir.name}){tail} "
                     f"[{done}/{len(states)} done]")
    if first:
        reused = sum(st.status == "reused" for st in states)
        lines.insert(0, f"{stamp} sweep of {len(states)} jobs: {reused} reused, {len(states) - reused} to run")
    return lines


def report(states: list[_State], path: Path | None) -> None:
    """The jobs that did not finish, with their errors (and where the full record is)."""
    from rich import get_console
    from rich.markup import escape

    console = get_console()
    for st in states:
        if st.status not in DONE:
            console.print(f"[bold {ORDER[st.status]}]{st.status}[/] {escape(st.job.name or st.run_dir.name)} "
                          f"({st.attempts} attempts): {escape(str(st.error))}  [dim]log: {st.run_dir / 'job.log'}[/]",
                          soft_wrap=True)
    if path:
        console.print(f"sweep record: {path}")
