"""Read the parts of an RL run directory (``priorlab rl --out DIR``) that diagnostics use.

Layout (written by :func:`priorlab.rl.trainer.train`): ``config.yaml``, ``metrics.jsonl``,
``before/{band,eval}/samples.parquet`` and ``after/{band,eval}/samples.parquet`` (same problems,
same sampling seeds), ``checkpoints/step-N/`` and ``model/`` (HF dirs with ``priorlab.json``).
Every missing piece is a one-line :class:`~priorlab.diagnostics.DiagnosticInputError`.
"""

from __future__ import annotations

import re
from pathlib import Path

from priorlab.diagnostics import DiagnosticInputError

EVALS = ("band", "eval")


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise DiagnosticInputError(f"{path} not found: {what}; pass the directory of a finished "
                                   f"`priorlab rl` run")
    return path


def run_config(run_dir: str | Path):
    """The run's resolved :class:`~priorlab.rl.config.RLConfig` (``config.yaml``)."""
    from priorlab.config import load_config
    from priorlab.rl.config import RLConfig

    return load_config(_need(Path(run_dir) / "config.yaml", "the run's config"), [], model=RLConfig)


def metrics_rows(run_dir: str | Path) -> list[dict]:
    """Rows of ``metrics.jsonl`` (``kind`` "train" or "probe")."""
    from priorlab.runs import read_jsonl

    return read_jsonl(_need(Path(run_dir) / "metrics.jsonl", "per-step RL metrics"))


def read_samples(path: str | Path) -> list[dict]:
    """Records of one ``samples.parquet`` (schema of :func:`priorlab.evaluate.sample_and_verify`)."""
    import pyarrow.parquet as pq

    return pq.read_table(_need(Path(path), "per-completion eval records")).to_pylist()


def paired_samples(run_dir: str | Path) -> dict[str, tuple[list[dict], list[dict]]]:
    """``{eval name: (before records, after records)}`` for ``band`` and ``eval``."""
    run = Path(run_dir)
    if not (run / "before").is_dir() or not (run / "after").is_dir():
        raise DiagnosticInputError(f"{run} has no before/ and after/ evaluations; pass the directory of a "
                                   f"finished `priorlab rl` run")
    return {name: (read_samples(run / "before" / name / "samples.parquet"),
                   read_samples(run / "after" / name / "samples.parquet"))
            for name in EVALS if (run / "before" / name).is_dir()}


def run_world(run_dir: str | Path):
    """The world of the run's final model (``model/priorlab.json``)."""
    from priorlab.evaluate import world_for

    return world_for(_need(Path(run_dir) / "model", "the run's final model"))


def checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``[(step, dir)]`` of ``checkpoints/step-N`` sorted by step, preceded by ``(0, prior)``
    when the prior still exists (its absolute path is in each checkpoint's ``priorlab.json``)."""
    run = Path(run_dir)
    found = sorted((int(m.group(1)), p) for p in (run / "checkpoints").glob("step-*")
                   if (m := re.fullmatch(r"step-(\d+)", p.name)) and (p / "config.json").exists())
    if not found:
        raise DiagnosticInputError(f"{run}/checkpoints holds no step-N model; pass the directory of a "
                                   f"`priorlab rl` run")
    from priorlab.evaluate import checkpoint_meta

    prior = checkpoint_meta(found[-1][1]).get("prior")
    return ([(0, Path(prior))] if prior and (Path(prior) / "config.json").exists() else []) + found
