"""Thread sizing from what is free now (faked /proc), the CPU precision choice, and the benchmarks' JSON line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from priorlab import runtime

ROOT = Path(__file__).resolve().parents[1]


def proc(cpus: list[tuple[int, int]], own: int) -> dict[str, str]:
    """Fake ``/proc/stat`` (per cpu: busy, idle jiffies) and ``/proc/self/stat`` (own utime = ``own``)."""
    lines = [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i, (busy, idle) in enumerate(cpus)]
    own_stat = "42 (py thon) R 1 1 1 0 -1 0 0 0 0 0 " + f"{own} 0 0 0 20 0 3"
    return {"/proc/stat": "cpu  0 0 0 0 0 0 0 0 0 0\n" + "\n".join(lines) + "\nintr 0\n", "/proc/self/stat": own_stat}


@pytest.fixture
def fake_proc(monkeypatch):
    """Serve successive fake snapshots: ``fake_proc(before, after)``, each a :func:`proc` dict."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})

    def serve(*snaps):
        reads = iter([s[path] for s in snaps for path in ("/proc/stat", "/proc/self/stat")])
        monkeypatch.setattr(runtime, "_read", lambda path: next(reads))

    return serve


@pytest.mark.parametrize("after, expected", [
    (proc([(0, 100), (0, 100)], own=0), 2),      # both cores idle
    (proc([(10, 90), (100, 0)], own=0), 1),      # a neighbour's busy loop on one core
    (proc([(100, 0), (100, 0)], own=0), 1),      # both cores taken by others: never below 1
    (proc([(100, 0), (100, 0)], own=200), 2),    # busy with our own threads only
    (proc([(100, 0), (100, 0)], own=100), 1),    # one core ours, one a neighbour's
])
def test_free_cores_counts_cores_other_processes_leave_idle(fake_proc, after, expected):
    fake_proc(proc([(0, 0), (0, 0)], own=0), after)
    assert runtime.free_cores(window=0) == expected


def test_free_cores_falls_back_to_the_load_average_without_proc(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(runtime, "_read", lambda path: (_ for _ in ()).throw(FileNotFoundError(path)))
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 5.0, 5.0))
    assert runtime.free_cores(window=0) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert runtime.free_cores(window=0) == 2


def test_recheck_resizes_automatic_threads_only(fake_proc):
    idle, start = proc([(0, 100), (0, 100)], own=0), proc([(0, 0), (0, 0)], own=0)
    neighbour = proc([(0, 200), (100, 100)], own=0)  # cpu1 fully busy since ``idle``
    try:
        fake_proc(start, idle, idle)  # free_cores' two reads, then set_threads' snapshot
        assert runtime.set_threads(None) == 2
        fake_proc(neighbour)
        assert runtime.recheck_threads(every=0) == 1 and torch.get_num_threads() == 1
        fake_proc(start, idle)  # set_threads' check of an explicit count against the free cores
        assert runtime.set_threads(2) == 2
        fake_proc(proc([(0, 300), (200, 100)], own=0))  # an explicit count is never revisited
        assert runtime.recheck_threads(every=0) == 2
    finally:
        runtime.set_threads(1)


def test_explicit_threads_above_the_free_cores_are_warned_about(fake_proc, capsys):
    start, idle = proc([(0, 0), (0, 0)], own=0), proc([(0, 100), (0, 100)], own=0)
    try:
        fake_proc(start, idle)
        assert runtime.set_threads(2) == 2 and "warning" not in capsys.readouterr().err
        fake_proc(start, proc([(10, 90), (100, 0)], own=0))  # a neighbour's busy loop on one core
        assert runtime.set_threads(2) == 2  # kept: an explicit count is the user's (bit-exact reruns)
        err = capsys.readouterr().err
        assert "2 torch threads" in err and "1 of this machine's cores" in err and "leave threads unset" in err
    finally:
        runtime.set_threads(1)


def test_openmp_spins_before_it_sleeps_unless_told_otherwise():
    code = "import os, priorlab; print(os.environ['OMP_WAIT_POLICY'], os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    run = lambda e: subprocess.run([sys.executable, "-c", code], env=e | {"PYTHONPATH": str(ROOT / "src")},
                                   capture_output=True, text=True, check=True).stdout.split()
    assert run(env) == ["PASSIVE", "100000"]
    assert run(env | {"GOMP_SPINCOUNT": "0"}) == ["PASSIVE", "0"]  # an explicit value wins


def test_bench_rl_step_prints_its_headline_as_json():
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_rl_step.py"), "--which", "priorlab", "--steps", "2",
           "--prompts", "2", "--generations", "2", "--max-new-tokens", "4", "--threads", "1", "--never-eos", "--json"]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["speedup_vs_trl"] is None and "trl not run" in figures["reason"]
    assert figures["equal_work"] is True and figures["seconds_per_step"]["priorlab auto"] > 0


@pytest.mark.parametrize("flags, native", [("fpu avx2 fma", False), ("fpu avx512f avx512_bf16", True),
                                           ("fpu amx_tile amx_bf16", True), ("fpu avx512f avx512bw", False)])
def test_auto_precision_takes_bf16_on_cpu_only_with_native_units(monkeypatch, flags, native):
    info = f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n"
    assert runtime.cpu_has_native_bf16(info) is native
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    assert runtime.use_bf16("auto", cpu) is native
    assert runtime.use_bf16("bf16", cpu) and not runtime.use_bf16("fp32", cpu)


def test_backward_adds_indexed_gradients_in_one_order_on_every_thread_count():
    """x[idx]'s backward (index_put_ with accumulate) adds with atomics in a timing-set order on more
    than one CPU thread; runtime.backward makes it serial: equal bits on 1 and 2 threads, run after run,
    and torch's global flag is left as it was."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(7, 64, 96, generator=g)
    idx = torch.randint(0, 7, (96,), generator=g)  # every row taken ~14 times
    up = torch.randn(96, 64, 96, generator=g)

    def grad(threads: int) -> torch.Tensor:
        torch.set_num_threads(threads)
        x = base.clone().requires_grad_(True)
        runtime.backward((x[idx] * up).sum())
        return x.grad

    before = torch.get_num_threads()
    try:
        serial = grad(1)
        assert all(torch.equal(grad(2), serial) for _ in range(5))
    finally:
        torch.set_num_threads(before)
    assert not torch.are_deterministic_algorithms_enabled()
