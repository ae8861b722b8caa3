"""Run-directory locks: one exclusive ``flock`` on ``DIR/.lock`` per run, held for its lifetime.

The lock file names its holder (``pid N on HOST since T``), so a second claimant is told who has
the run; :func:`is_locked` probes without taking the lock (a shared, non-blocking ``flock``), so a
status query never blocks a run and a killed process's lock is gone with it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
import time
from pathlib import Path

from priorlab.errors import LockError

HOST = socket.gethostname()


def now() -> str:
    """UTC now, ISO 8601 to the second (lock files and run records)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")



class RunLockedError(LockError):
    """Another process holds the run directory's lock; ``str()`` names it, ``holder`` is the lock
    file's ``pid N on HOST since T``."""

    def __init__(self, run_dir: Path, holder: str):
        super().__init__(f"{run_dir} is claimed by {holder}; wait for it to finish (a finished run is then "
                         f"reused) or stop that process")
        self.holder = holder


class RunLock:
    """An exclusive ``flock`` on ``DIR/.lock`` whose file names the holder (pid, host, since)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self.fd: int | None = None

    def acquire(self, tries: int = 10) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for i in range(tries):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                if holder or i == tries - 1:  # an empty file: a status probe or a claimant mid-write
                    os.close(fd)
                    raise RunLockedError(self.path.parent, holder or "another process") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {HOST} since {now()}".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_holder(run_dir: str | Path) -> str | None:
    """``pid N on HOST since T`` of the process holding ``DIR/.lock``, or None when none does."""
    locked = is_locked(run_dir)
    return (Path(run_dir) / ".lock").read_text(errors="replace").strip() or "another process" if locked else None


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds ``DIR/.lock`` (probed with a shared, non-blocking flock)."""
    path = Path(run_dir) / ".lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
