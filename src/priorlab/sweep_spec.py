"""``sweep.yaml`` -> :class:`priorlab.sweep.Job` list, every job validated before anything runs.

A sweep file names one kind, a base config (``config``: an RL preset or YAML file for ``rl``, a
YAML file for ``pretrain``; ``prior`` for RL), base overrides ``set: {field: value}``, and the
factors: ``grid`` (every combination), ``zip`` (lists of equal length, taken together) and
``seeds`` (written to ``seed_field``). Jobs = grid x zip rows x seeds; each is the base config
with ``--set`` semantics applied, so a wrong field fails up front with "did you mean".
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from priorlab.config import ConfigError, Strict, load_config, read_yaml
from priorlab.overrides import first_error
from priorlab.kinds import KINDS, get_kind
from priorlab.registry import did_you_mean


class SweepSpec(Strict):
    kind: str = Field(..., description="a registered run kind (priorlab.kinds): pretrain, rl, ...")
    config: str | None = Field(None, description="the kind's base config: rl: preset or YAML file (default grpo); "
                                                 "pretrain: YAML file (default the demo config)")
    prior: str | None = Field(None, description="rl: the prior checkpoint (same as set: {prior: ...})")
    set: dict[str, Any] = Field(default_factory=dict, description="base overrides, dotted field -> value")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="field -> values, every combination")
    zip: dict[str, list[Any]] = Field(default_factory=dict, description="field -> values of equal length, together")
    seeds: list[int] = Field(default_factory=list, description="one job per seed (empty: the config's seed)")
    seed_field: str | list[str] | None = Field(None, description="default: the kind's seed field (rl: seed, "
                                                                 "pretrain: pretrain.seed)")
    threads: int = Field(1, ge=1, description="torch threads = CPUs per job")
    gpus: float = Field(0, ge=0, description="GPUs per job (ray executor)")
    executor: Literal["local", "ray"] = "local"
    workers: int | None = Field(None, ge=1, description="local: processes at a time (default free cores // threads)")
    retries: int = Field(1, ge=0, description="extra attempts of a failed job")
    address: str | None = Field(None, description="ray: cluster address (auto, ray://host:10001); default a "
                                                  "local instance")
    store: str | None = Field(None, description="store root (default $PRIORLAB_STORE or runs/store)")


def load_spec(path: str | Path) -> SweepSpec:
    p = Path(path)
    data = read_yaml(p, "sweep file")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{p}: {first_error(e, SweepSpec)}") from None
    if spec.kind not in KINDS:
        raise ConfigError(f"{p}: kind: unknown run kind {spec.kind!r}.{did_you_mean(spec.kind, KINDS.names())} "
                          f"Registered: {', '.join(KINDS.names())}.")
    return spec


def _value(v: Any) -> str:
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else str(v)


def factor_rows(spec: SweepSpec, where: str) -> list[dict[str, Any]]:
    """The varying overrides of every job: grid product x zip rows x seeds, in that order."""
    lengths = {k: len(v) for k, v in spec.zip.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{where}: zip lists must have equal lengths, got "
                          + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
    for k, v in {**spec.grid, **spec.zip}.items():
        if not v:
            raise ConfigError(f"{where}: {k} has no values")
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())]
    zipped = [dict(zip(spec.zip, row)) for row in zip(*spec.zip.values())] or [{}]
    fields = spec.seed_field or get_kind(spec.kind).seed_field
    fields = [fields] if isinstance(fields, str) else fields
    seeds = [{f: s for f in fields} for s in spec.seeds] or [{}]
    return [g | z | s for g in grid for z in zipped for s in seeds]


def expand(path: str | Path, spec: SweepSpec | None = None) -> list:
    """The sweep file's jobs (:class:`priorlab.sweep.Job`), each config validated."""
    from priorlab.sweep import Job

    spec = spec or load_spec(path)
    where, kind = str(path), get_kind(spec.kind)
    base, model = kind.base_path(spec.config), kind.config_model()
    fixed = spec.set | ({"prior": spec.prior} if spec.prior else {})
    jobs = []
    for row in factor_rows(spec, where):
        sets = [f"{k}={json.dumps(v)}" for k, v in (fixed | row).items()]
        name = " ".join(f"{k}={_value(v)}" for k, v in row.items()) or None
        try:
            cfg = load_config(base, sets, model=model)
        except ConfigError as e:
            raise ConfigError(f"{where}, job {name or 1}: {e}") from None
        jobs.append(Job(spec.kind, cfg, threads=spec.threads, gpus=spec.gpus, name=name))
    return jobs
