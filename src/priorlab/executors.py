"""Where a sweep's jobs run (:mod:`priorlab.sweep` drives them): one attempt of a job in its own
``python -m priorlab.store`` process, the ``local`` (a thread pool of such processes) and ``ray``
executors, and stopping their job processes on Ctrl-C or SIGTERM (interrupted runs resume)."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from priorlab import store as S
from priorlab.config import ConfigError

RUNNING: set[subprocess.Popen] = set()  # job processes started by this process


def interrupt(procs, grace_s: float = 30.0) -> None:
    """SIGINT to running job processes (each records ``interrupted`` in its ``run.json``), then
    kill what is still alive after ``grace_s`` (it shows as ``crashed``; both resume)."""
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for p in alive:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While running jobs, SIGTERM (a scheduler's stop, ``timeout``, ``kill``) stops them as Ctrl-C
    does: job processes run in their own sessions, so without this they would outlive this process
    and keep their cores and run locks. Only in the main thread (signal handlers live there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def attempt(payload: dict, log_path: str, threads: int) -> dict:
    """One attempt of a job in a fresh ``python -m priorlab.store`` process (the executors call
    this locally or inside a Ray task); returns ``{"status", "error"}``."""
    env = os.environ | {v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"--- attempt at {S._now()} on {S.HOST}, {threads} threads\n")
        log.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "priorlab.store"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log, env=env, text=True, start_new_session=True)
        RUNNING.add(proc)
        try:
            out, _ = proc.communicate(json.dumps(payload))
        except BaseException:
            interrupt([proc])
            raise
        finally:
            RUNNING.discard(proc)
        log.write(out)
    wall = {"wall_s": time.perf_counter() - t0}
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if lines:
        return json.loads(lines[-1]) | wall
    tail = Path(log_path).read_text().splitlines()[-3:]
    return wall | {"status": "failed", "error": f"exit code {proc.returncode} without a result; last lines of "
                                                f"{log_path}: " + " | ".join(tail)}


class LocalExecutor:
    """Job processes on this machine within ``cores``: the driver starts a job while the threads
    of the running ones leave room for its own (:func:`priorlab.sweep.fits`)."""

    def __init__(self, cores: int):
        self.cores = cores
        self.pool = cf.ThreadPoolExecutor(max_workers=cores)

    def submit(self, payload: dict, log: str, threads: int, gpus: float) -> cf.Future:
        return self.pool.submit(attempt, payload, log, threads)

    def close(self, cancel: bool = False) -> None:
        if cancel:
            self.pool.shutdown(wait=False, cancel_futures=True)
            interrupt(list(RUNNING))
        self.pool.shutdown(wait=True)


class RayExecutor:
    """Ray tasks (``num_cpus=threads``, ``num_gpus=gpus``) on the cluster at ``address``, or on a
    local instance with ``num_cpus`` CPUs started here (and stopped by :meth:`close`)."""

    def __init__(self, address: str | None, num_cpus: int | None):
        try:
            import ray
        except ImportError:
            raise ConfigError("executor ray: the ray package is not installed; pip install -e \".[ray]\"") from None
        self.ray, self.started, self.refs = ray, False, []
        if not ray.is_initialized():
            kw = {"address": address} if address else {"num_cpus": num_cpus, "include_dashboard": False}
            ray.init(log_to_driver=False, **kw)
            self.started = True
        self.cpus = ray.cluster_resources().get("CPU", 0)
        self.cores = None  # Ray queues tasks until a node has their resources
        self.task = ray.remote(max_retries=0)(attempt)

    def submit(self, payload: dict, log: str, threads: int, gpus: float) -> cf.Future:
        if threads > self.cpus:
            raise ConfigError(f"a job asks for {threads} CPUs (threads) but the Ray cluster has {self.cpus:g}")
        ref = self.task.options(num_cpus=threads, num_gpus=gpus).remote(payload, log, threads)
        self.refs.append(ref)
        return ref.future()

    def close(self, cancel: bool = False) -> None:
        if cancel:  # Ray kills the tasks' workers and their job processes: the runs show as crashed
            for ref in self.refs:
                self.ray.cancel(ref, force=True)
        if self.started:
            self.ray.shutdown()
