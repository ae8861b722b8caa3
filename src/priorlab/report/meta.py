"""Run metadata for the report's compute section: version, git commit, machine, command, wall times."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path


def git_commit(cwd: str | Path | None = None) -> str | None:
    """Short commit of the checkout holding priorlab (``+dirty`` when it has changes); None outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def machine() -> dict:
    """``{cores, device}``: usable CPU cores and the torch device (with the GPU's name on CUDA)."""
    from priorlab import runtime

    cores = runtime.usable_cores()

    dev = runtime.device()
    name = "cpu"
    if dev.type == "cuda":
        import torch

        name = f"cuda ({torch.cuda.get_device_name(dev)})"
    return {"cores": cores, "device": name}


def collect_meta(scale: str, started: str, wall_s: float, breakdown: list[dict] | None = None,
                 command: str | None = None, **extra) -> dict:
    """The ``meta`` dict :func:`priorlab.report.write_report` takes, with version, commit and machine
    filled in. ``breakdown``: ``[{name, kind, wall_s, reused}]`` (default: the claims' runs);
    ``command``: default the current process's command line; ``extra`` keys are listed as given."""
    from priorlab import __version__

    meta = {"scale": scale, "started": started, "wall_s": wall_s, "version": __version__, "commit": git_commit(),
            "machine": machine(), "command": command or shlex.join(["priorlab", *sys.argv[1:]])}
    if breakdown is not None:
        meta["breakdown"] = breakdown
    return meta | extra


def load_meta(out: Path, results) -> dict:
    """``out/meta.json`` as written by :func:`~priorlab.report.write_report`; when it is missing, what
    the results themselves tell (scale, summed wall time) plus this machine's version and commit."""
    from priorlab.errors import InputDataError

    path = out / "meta.json"
    if not path.exists():
        return collect_meta(scale=", ".join(sorted({r.scale for r in results})), started=None,
                            wall_s=sum(r.wall_s for r in results), command="not recorded (no meta.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputDataError(f"{path}: not valid JSON ({e}); delete it to rebuild from the results alone") from None
