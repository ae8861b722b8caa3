"""Devices, threads and precision: pick what the machine actually offers."""

from __future__ import annotations

import contextlib
import os

import torch


def device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def free_cores() -> int:
    """Cores this process may use minus the current run queue (1-minute load average).

    Oversubscribed torch threads run up to 4x slower on a shared machine, so we size the
    thread pool to what is actually free, never below 1.
    """
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        allowed = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:  # pragma: no cover
        busy = 0
    return max(1, min(allowed, allowed - busy + 1))


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads to ``threads`` or to :func:`free_cores`; return it."""
    n = threads or free_cores()
    torch.set_num_threads(n)
    return n


def use_bf16(precision: str, dev: torch.device) -> bool:
    """bf16 autocast for 'bf16', never for 'fp32'; 'auto' = CUDA with bf16 support or CPU.

    On this project's 2-core CPU bf16 autocast trained 1.35x faster than fp32
    (docs/performance.md), hence pretraining on CPU defaults to bf16 too.
    """
    if precision == "fp32":
        return False
    if precision == "bf16" or dev.type == "cpu":
        return True
    return torch.cuda.is_bf16_supported()


def autocast(dev: torch.device, enabled: bool):
    """bf16 autocast context on ``dev`` (a no-op when disabled)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
