"""A process pool for verifiers that must run in a process's main thread.

math-verify bounds its parsing and comparison with ``signal.alarm``, which works only in the main
thread of a process (in a thread it raises, or the timeout is silently lost); reasoning-gym scorers
may call sympy on model output. Checks therefore run in worker processes, where each task executes
in the worker's main thread. The pool starts once per worker count (``forkserver`` where the
platform has it, else ``spawn``: never ``fork`` from a process that holds torch threads) and is
reused by every world and call.

A backstop timeout guards against a check that hangs where no signal can interrupt it: the
chunk's items come back as ``None`` (the worlds count them as wrong) and the pool is killed and
restarted for the remaining chunks. Like every spawn/forkserver pool, workers re-import the main
module: a script must keep its top-level work under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures import TimeoutError as FutureTimeout
from collections.abc import Callable
from typing import Any

_POOLS: dict[int, ProcessPoolExecutor] = {}


def _context():
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def get_pool(workers: int) -> ProcessPoolExecutor:
    """The shared pool of ``workers`` processes (started on first use)."""
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
    return _POOLS[workers]


def _kill(workers: int) -> None:
    """Stop the pool of ``workers`` processes now (a task in it hangs)."""
    pool = _POOLS.pop(workers, None)
    if pool is None:
        return
    procs = list(getattr(pool, "_processes", {}).values())  # no public handle before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.kill()


def _run_chunk(fn: Callable, chunk: list[tuple]) -> list[Any]:
    """Worker side: ``fn(*args)`` per item; an exception gives ``None`` for that item."""
    out = []
    for args in chunk:
        try:
            out.append(fn(*args))
        except Exception:  # noqa: BLE001 - a verifier never raises on model output
            out.append(None)
    return out


def run_checks(fn: Callable, items: list[tuple], workers: int, item_timeout_s: float) -> list[Any]:
    """``[fn(*args) for args in items]`` computed in the worker pool, in order.

    ``fn`` must be a module-level function (it is pickled by name). A chunk that takes longer
    than ``item_timeout_s`` per item (+10 s) gives ``None`` for each of its items. A pool whose
    workers die is restarted once; dying again is an error (never silently wrong verdicts).
    """
    if not items:
        return []
    size = max(1, min(64, -(-len(items) // (4 * workers))))
    pending = [items[i:i + size] for i in range(0, len(items), size)]
    out: list[Any] = []
    retried = False
    while pending:
        futures = [get_pool(workers).submit(_run_chunk, fn, c) for c in pending]
        for i, (chunk, fut) in enumerate(zip(pending, futures)):
            try:
                out += fut.result(timeout=item_timeout_s * len(chunk) + 10)
                retried = False
            except FutureTimeout:
                out += [None] * len(chunk)
                _kill(workers)
                pending = pending[i + 1:]
                break
            except BrokenProcessPool:
                _kill(workers)
                if retried:
                    raise RuntimeError(
                        "the answer-checker worker processes died twice. They start with spawn/forkserver "
                        "and re-import the main module: in a script, put the calls under "
                        "`if __name__ == \"__main__\":`") from None
                retried, pending = True, pending[i:]
                break
        else:
            pending = []
    return out
