"""Shared helpers for the benchmarks (run on demand, never in CI)."""

from __future__ import annotations

import time

import torch


def sync(device: torch.device) -> None:
    """Wait for queued kernels (CUDA runs asynchronously; a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(dtype: torch.dtype, n: int = 1024, seconds: float = 3.0, k: int | None = None,
                m: int | None = None, device: torch.device | str = "cpu") -> float:
    """Best sustained GFLOP/s of an [n, k] @ [k, m] matmul (square n by default) in ``dtype`` on
    ``device`` (on CUDA a larger n measures the peak: pass n=8192)."""
    k, m, device = k or n, m or n, torch.device(device)
    a, b = torch.randn(n, k, dtype=dtype, device=device), torch.randn(k, m, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        sync(device)
        best = max(best, 5 * 2 * n * k * m / (time.perf_counter() - t) / 1e9)
    return best


def print_json(figures: dict) -> None:
    """``--json``: the benchmark's headline figures as one JSON object on the last line of stdout,
    with the 1-minute load average (the machine may be shared: treat figures under load as indicative)."""
    import json
    import os

    print(json.dumps(figures | {"loadavg_1m": os.getloadavg()[0], "torch": torch.__version__}))
