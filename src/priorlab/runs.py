"""Run directories: resolved config, metrics, checkpoints, summaries.

A run directory is enough to resume or re-plot: ``config.yaml`` (resolved), ``metrics.jsonl``,
``checkpoints/step-N/`` (HF model + tokenizer + ``trainer_state.pt``), ``summary.json``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from priorlab.config import ConfigError, dump_config


def prepare_run(out: str | Path, cfg, resume: bool) -> Path:
    """Create ``out`` and write ``config.yaml``; refuse to clobber an existing run.

    With ``resume`` the saved config must equal ``cfg`` up to execution fields (a changed
    config is a new run; a different thread count is the same run).
    """
    out = Path(out)
    saved = out / "config.yaml"
    if saved.exists():
        if not resume and latest_checkpoint(out) is not None:
            raise ConfigError(f"{out} already holds a run with checkpoints; pass --resume to "
                              f"continue it or choose another --out (nothing was overwritten)")
        if resume:
            import yaml

            if identity(yaml.safe_load(saved.read_text())) != identity(cfg.model_dump(mode="json")):
                raise ConfigError(f"--resume: the config differs from {saved}; resume with the "
                                  f"same config or start a new run directory")
    out.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, saved)
    return out


EXECUTION_FIELDS = ("threads",)


def identity(data: dict) -> dict:
    """A config dump without its execution fields (``threads`` at any depth): what the results
    depend on. Thread counts are how a run is executed, not which run it is."""
    return {k: identity(v) if isinstance(v, dict) else v for k, v in data.items() if k not in EXECUTION_FIELDS}


def latest_checkpoint(out: str | Path) -> Path | None:
    """The ``checkpoints/step-N`` directory with the largest N that holds trainer state."""
    ckpts = []
    for p in (Path(out) / "checkpoints").glob("step-*"):
        m = re.fullmatch(r"step-(\d+)", p.name)
        if m and (p / "trainer_state.pt").exists():
            ckpts.append((int(m.group(1)), p))
    return max(ckpts)[1] if ckpts else None


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, rows after the resumed step are dropped."""

    def __init__(self, path: str | Path, resume_step: int | None = None):
        self.path = Path(path)
        if resume_step is not None and self.path.exists():
            keep = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= resume_step]
            self.path.write_text("".join(k + "\n" for k in keep))
        elif resume_step is None:
            self.path.write_text("")

    def write(self, row: dict) -> None:
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                row[k] = None
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def write_json(path: str | Path, data) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str))
