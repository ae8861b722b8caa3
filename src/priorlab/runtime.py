"""Devices, threads and precision: pick what the machine actually offers.

Threads follow the cores that are free *now*: :func:`free_cores` samples ``/proc/stat`` over a
short window (the 1-minute load average lags a busy neighbour by minutes), and
:func:`recheck_threads`, called from the pretraining and RL loops, resizes torch's pool when a
neighbour starts or stops. A torch thread that shares its core with a busy process stalls every
parallel region it is part of (measured: 12x slower pretraining with 2 threads on 1 free core),
so fewer threads on free cores beat more threads on shared ones. OpenMP's pool threads spin for a
short while after each parallel region, then sleep (``priorlab/__init__.py``, before torch loads
libgomp): on free cores the spin is what makes small back-to-back ops fast (the sampler: 2.1-2.5x on 2
threads), on a shared core it is what stalls, so an explicit thread count above the free cores is
warned about.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time

import torch

#: Seconds between two re-measurements of the free cores in a long loop (a read of /proc: cheap;
#: until it comes, a thread sharing its core with a new neighbour spin-waits on it, ~9x slower).
RECHECK_S = 10.0
#: A core counts as busy when other processes use at least this share of it.
BUSY_SHARE = 0.5

_auto = {"on": False, "at": 0.0, "snap": None}  # threads chosen by free_cores; last measurement


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _allowed() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - non-Linux
        return set(range(os.cpu_count() or 1))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask; every core where there is none)."""
    return len(_allowed())


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _snapshot() -> tuple[dict[int, tuple[int, int]], int]:
    """({cpu: (busy, total) jiffies} from ``/proc/stat``, this process's utime + stime in jiffies)."""
    cpus = {}
    for line in _read("/proc/stat").splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *vals = line.split()
            v = [int(x) for x in vals[:8]]  # user nice system idle iowait irq softirq steal
            cpus[int(name[3:])] = (v[0] + v[1] + v[2] + sum(v[5:8]), sum(v))
    own = _read("/proc/self/stat").rsplit(")", 1)[1].split()  # fields after "(comm)"; comm may hold spaces
    return cpus, int(own[11]) + int(own[12])


def _try_snapshot():
    """:func:`_snapshot`, or None where ``/proc`` is missing or unreadable."""
    try:
        return _snapshot()
    except (OSError, ValueError, IndexError):
        return None


def _free_between(a, b, allowed: set[int]) -> int:
    """Cores of ``allowed`` not taken by *other* processes between snapshots ``a`` and ``b``.

    Sum of per-core busy shares, minus this process's own CPU time over the same interval (our
    threads are not a neighbour), rounded at :data:`BUSY_SHARE`; never below 1."""
    cpus = [c for c in allowed if c in a[0] and c in b[0]]
    spans = [b[0][c][1] - a[0][c][1] for c in cpus]
    if not cpus or min(spans) <= 0:
        return len(allowed)
    busy = sum((b[0][c][0] - a[0][c][0]) / span for c, span in zip(cpus, spans))
    others = max(0.0, busy - (b[1] - a[1]) / (sum(spans) / len(spans)))
    return max(1, len(allowed) - int(others + 1 - BUSY_SHARE))


def free_cores(window: float = 0.15) -> int:
    """Cores this process may use that other processes leave mostly idle, measured now over
    ``window`` seconds of ``/proc/stat``; never below 1. Without ``/proc`` (non-Linux): cores
    minus the 1-minute load average."""
    allowed = _allowed()
    if (a := _try_snapshot()) is not None:
        time.sleep(window)
        if (b := _try_snapshot()) is not None:
            return _free_between(a, b, allowed)
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:  # pragma: no cover
        busy = 0
    return max(1, min(len(allowed), len(allowed) - busy + 1))


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads to ``threads`` or to :func:`free_cores`; return it.

    Only an automatic choice (``threads`` None) is revisited by :func:`recheck_threads`: an
    explicit thread count stays fixed for the whole run."""
    n = threads or free_cores()
    if threads and threads > 1 and (free := free_cores()) < threads:
        print(f"warning: {threads} torch threads asked for, but only {free} of this machine's cores are free now: "
              f"every parallel region waits on the threads that share a busy core (measured: 2-thread pretraining "
              f"9x slower with one core busy); leave threads unset to follow the free cores", file=sys.stderr)
    torch.set_num_threads(n)
    _auto.update(on=threads is None, at=time.monotonic(), snap=_try_snapshot() if threads is None else None)
    return n


def recheck_threads(every: float = RECHECK_S) -> int:
    """Call once per step of a long loop: when threads were chosen automatically, re-measure the
    free cores every ``every`` seconds (over the time since the previous measurement, so nothing
    sleeps) and resize torch's pool when the answer changed. Returns the thread count.

    Thread count changes the order of float reductions, so an automatic run is reproducible to
    the last bit only on an equally loaded machine; pass ``threads`` for bit-exact reruns (RL on
    more than one thread only since :func:`backward`, docs/performance.md)."""
    if not _auto["on"] or _auto["snap"] is None or time.monotonic() - _auto["at"] < every:
        return torch.get_num_threads()
    snap = _try_snapshot()
    if snap is not None:
        n = _free_between(_auto["snap"], snap, _allowed())
        _auto.update(at=time.monotonic(), snap=snap)
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
    return torch.get_num_threads()


#: /proc/cpuinfo flags of x86 units that multiply bf16 in hardware (AMX, AVX512-BF16). Without
#: them torch emulates bf16 matmuls: on a 2-core AVX2 EPYC a [4096, 256] x [256, 704] matmul ran at
#: 1.8 GFLOP/s in bf16 against 46.5 in fp32, and pretraining at 0.68k tokens/s against 7.3k in fp32.
NATIVE_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bf16 in hardware (a flag of :data:`NATIVE_BF16_FLAGS` in
    ``/proc/cpuinfo``, or in ``cpuinfo`` when given). False where the flags cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = _read("/proc/cpuinfo")
        except OSError:
            return False
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split(":", 1)[-1].split()}
    return bool(flags & NATIVE_BF16_FLAGS)


def use_bf16(precision: str, dev: torch.device) -> bool:
    """bf16 autocast for 'bf16', never for 'fp32'; 'auto' = CUDA with bf16 support, or a CPU with
    native bf16 units (:func:`cpu_has_native_bf16`).

    On a 2-core CPU with native bf16, autocast trained 1.35x faster than fp32 (docs/performance.md);
    on one without, bf16 is emulated and pretraining ran ~10x slower than fp32, so 'auto' takes
    fp32 there.
    """
    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if dev.type == "cpu":
        return cpu_has_native_bf16()
    return torch.cuda.is_bf16_supported()


def autocast(dev: torch.device, enabled: bool):
    """bf16 autocast context on ``dev`` (a no-op when disabled)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)


def backward(loss: torch.Tensor) -> None:
    """``loss.backward()`` that adds the same way every run on CPU.

    The backward of advanced indexing (``x[idx]``: the RL update's shared-prompt cache and others)
    is ``index_put_(accumulate=True)``, which on CPU with more than one thread adds with atomics in
    an order set by thread timing: 2-thread RL runs parted in their last bits run to run (measured,
    docs/performance.md). Under torch's deterministic algorithms it adds serially, which is what it
    does on one thread anyway, so one-thread runs keep their bits. Scoped to the backward, CPU only
    (on CUDA the flag would demand a cuBLAS workspace setting); pretraining, reproducible without it
    and compiled ahead of its backward, does not use it.
    """
    if loss.device.type != "cpu" or torch.are_deterministic_algorithms_enabled():
        loss.backward()
        return
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # nothing reads uninitialised memory
    try:
        loss.backward()
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = fill


#: Fewest steps for which ``compile: auto`` compiles: a cold compile of the demo model's step cost
#: 23-36 s on 2 cores (7 s from the on-disk cache) and saves ≈ 0.07 s per step (docs/performance.md).
COMPILE_MIN_STEPS = 500


def use_compile(setting: str | bool, steps: int, dev: torch.device) -> bool:
    """Whether to ``torch.compile`` a training step: True always, False never, 'auto' on CPU for
    runs of at least :data:`COMPILE_MIN_STEPS` steps when a C++ compiler (which inductor's CPU
    back end needs) is on the PATH. CUDA stays eager under 'auto': no compiled CUDA path has run."""
    if setting != "auto":
        return bool(setting)
    return dev.type == "cpu" and steps >= COMPILE_MIN_STEPS and cxx_compiler() is not None


def cxx_compiler() -> str | None:
    """The C++ compiler inductor would use (``$CXX``, else c++ / g++ / clang++ on the PATH), or None."""
    return os.environ.get("CXX") or next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
