"""Run directories: resolved config, metrics, checkpoints, summaries.

A run directory is enough to resume or re-plot: ``config.yaml`` (resolved), ``metrics.jsonl``,
``checkpoints/step-N/`` (HF model + tokenizer + trainer state + manifest, see
:mod:`priorlab.checkpoint`), ``summary.json``. JSON files are replaced atomically.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

from priorlab.checkpoint import step_dirs
from priorlab.config import ConfigError, config_text
from priorlab.errors import InputDataError


def prepare_run(out: str | Path, cfg, resume: bool) -> Path:
    """Create ``out`` and write ``config.yaml``; refuse to clobber an existing run.

    With ``resume`` the saved config must equal ``cfg`` up to execution fields (a changed
    config is a new run; a different thread count is the same run).
    """
    out = Path(out)
    saved = out / "config.yaml"
    if saved.exists():
        if not resume and step_dirs(out):
            raise ConfigError(f"{out} already holds a run with checkpoints; pass --resume to "
                              f"continue it or choose another --out (nothing was overwritten)")
        if resume:
            import yaml

            if identity(yaml.safe_load(saved.read_text())) != identity(cfg.model_dump(mode="json")):
                raise ConfigError(f"--resume: the config differs from {saved}; resume with the "
                                  f"same config or start a new run directory")
    out.mkdir(parents=True, exist_ok=True)
    write_text(saved, config_text(cfg))  # atomic: a kill never leaves half a config to resume from
    return out


EXECUTION_FIELDS = ("threads", "compile")


def identity(data: dict) -> dict:
    """A config dump without its execution fields (``threads`` and ``compile`` at any depth): what
    the results depend on. Thread counts and ``torch.compile`` are how a run is executed, not which
    run it is (both change float rounding, so either is another draw of the same seed). A section that held
    only execution fields disappears with them (``{"pretrain": {"threads": 2}}`` -> ``{}``), so
    a run's identity is the same whatever thread count it was given."""
    out = {}
    for k, v in data.items():
        if k in EXECUTION_FIELDS:
            continue
        if isinstance(v, dict):
            sub = identity(v)
            if v and not sub:
                continue
            v = sub
        out[k] = v
    return out


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, rows after the resumed step are dropped, and so
    is a half-written last line (a kill mid-append), with a warning."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        if resume_step is not None and self.path.exists():
            keep = [row for row in self._rows() if row.get("step", 0) <= resume_step]
            write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))
        elif resume_step is None:
            self.path.write_text("")

    def _rows(self) -> list[dict]:
        lines = [line for line in self.path.read_text().splitlines() if line.strip()]
        rows = []
        for i, line in enumerate(lines):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if i < len(lines) - 1:
                    raise InputDataError(f"{self.path}: line {i + 1} is not JSON; repair or remove it to "
                                         f"resume") from None
                print(f"warning: {self.path}: dropped a half-written last line", file=sys.stderr)
        return rows

    def write(self, row: dict) -> None:
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                row[k] = None
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` atomically (a temporary sibling, then rename): a kill leaves the old
    file or the new one, never half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, default=str))
