"""Run kinds: everything the run store, sweeps, the catalog and ``priorlab runs`` know about a kind.

A kind of run (``pretrain``: the prior pipeline of ``priorlab demo``; ``rl``: ``priorlab rl``;
``sft``: ``priorlab sft``; ``rlp``: ``priorlab rlp``) is one :class:`RunKind` registered in :data:`KINDS`. Store, sweeps,
catalog and the ``runs`` commands read only these declarations and never test a kind's name, so
a new kind (RL during pretraining, ...) is one declaration plus its config model and entry point.

Heavy pieces are named as ``"module:attribute"`` and imported on first use, so listing a store
does not import torch. A kind registered outside this module names its module (``module``,
filled in by :func:`register_kind`); a sweep's job process imports it before running the job.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from priorlab.registry import Registry


def resolve(ref: str):
    """``"package.module:attr"`` -> the attribute (imported now)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class RunKind:
    """One kind of run.

    ``config``: its pydantic config model; ``entry``: ``run(cfg, out, resume, show)``, the pipeline
    the command runs; ``base_config``: ``path(name)`` -> the YAML a sweep's ``config:`` names
    (None = the kind's default); ``seed_field`` / ``thread_field``: dotted fields; ``checkpoints``:
    dotted fields naming a checkpoint, hashed by the checkpoint's identity (store run id or weights),
    not its path; ``marker``: a top-level key of its ``config.yaml`` that only this kind has (tells
    the kind of a directory without ``run.json``); ``summary``: the layout of its ``summary.json``
    (``passk``: one evaluation; ``before_after``: before and after, as RL); ``eval_dirs``:
    evaluation sub-directories -> ``(stage, eval name)`` for the catalog's ``passk`` and
    ``samples`` views."""

    name: str
    config: str
    entry: str
    base_config: str
    seed_field: str
    thread_field: str
    marker: str
    checkpoints: tuple[str, ...] = ()
    summary: str = "passk"
    eval_dirs: dict[str, tuple[str, str]] = field(default_factory=dict)
    module: str = ""

    def config_model(self) -> type[BaseModel]:
        return resolve(self.config)

    def run(self, cfg, out: Path, resume: bool, show: bool):
        return resolve(self.entry)(cfg, out, resume=resume, show=show)

    def base_path(self, name: str | None) -> Path:
        return resolve(self.base_config)(name)


KINDS: Registry[RunKind] = Registry("run kind")


def register_kind(kind: RunKind, module: str | None = None) -> RunKind:
    """Add ``kind`` to :data:`KINDS`; ``module`` (default: the caller's) registers it on import."""
    import inspect

    if module is None:
        frame = inspect.currentframe().f_back
        module = frame.f_globals.get("__name__", __name__) if frame else __name__
    kind = RunKind(**{**kind.__dict__, "module": kind.module or module})
    KINDS.register(kind.name)(kind)
    return kind


def get_kind(name: str, module: str | None = None) -> RunKind:
    """The registered kind ``name`` (importing ``module`` first when it is not registered yet)."""
    if name not in KINDS and module:
        importlib.import_module(module)
    return KINDS.get(name)


def get_field(cfg: BaseModel, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def set_field(cfg: BaseModel, dotted: str, value) -> BaseModel:
    """A copy of ``cfg`` with the dotted field set (sub-models copied on the way down)."""
    head, _, rest = dotted.partition(".")
    if not rest:
        return cfg.model_copy(update={head: value})
    return cfg.model_copy(update={head: set_field(getattr(cfg, head), rest, value)})


def _rl_base(name: str | None) -> Path:
    from priorlab.rl.config import rl_config_path

    return rl_config_path(name)


def _sft_base(name: str | None) -> Path:
    from priorlab.sft.config import sft_config_path

    return sft_config_path(name)


def _rlp_base(name: str | None) -> Path:
    from priorlab.rlp.config import rlp_config_path

    return rlp_config_path(name)


def _prior_base(name: str | None) -> Path:
    from priorlab.config import default_config_path

    return Path(name) if name else default_config_path("demo")


def _pretrain(cfg, out, resume: bool, show: bool):
    from priorlab.pretrain import pretrain_and_evaluate

    return pretrain_and_evaluate(cfg, out, resume=resume, show=show)


def _rl(cfg, out, resume: bool, show: bool):
    from priorlab.rl.config import check_prior

    check_prior(cfg)  # before the trainer's imports (seconds)
    from priorlab.rl.trainer import train

    return train(cfg, out, resume=resume, show=show)


def _sft(cfg, out, resume: bool, show: bool):
    from priorlab.sft.config import check_inputs

    check_inputs(cfg)  # before the trainer's imports (seconds)
    from priorlab.sft.trainer import train

    return train(cfg, out, resume=resume, show=show)


def _rlp(cfg, out, resume: bool, show: bool):
    from priorlab.rlp.config import check_inputs

    check_inputs(cfg)  # before the trainer's imports (seconds)
    from priorlab.rlp.trainer import train

    return train(cfg, out, resume=resume, show=show)


#: RL, SFT and RLP runs evaluate before and after training, on the band and on ``final``.
_BEFORE_AFTER = {f"{s}/{e}": (s, e) for s in ("before", "after") for e in ("band", "eval")}
register_kind(RunKind("pretrain", config="priorlab.config:PriorConfig", entry="priorlab.kinds:_pretrain",
                      base_config="priorlab.kinds:_prior_base", seed_field="pretrain.seed",
                      thread_field="pretrain.threads", marker="pretrain", checkpoints=("pretrain.init_from",),
                      summary="passk", eval_dirs={"eval": ("prior", "eval")}))
register_kind(RunKind("rl", config="priorlab.rl.config:RLConfig", entry="priorlab.kinds:_rl",
                      base_config="priorlab.kinds:_rl_base", seed_field="seed", thread_field="threads",
                      marker="reward", checkpoints=("prior",), summary="before_after", eval_dirs=_BEFORE_AFTER))
register_kind(RunKind("sft", config="priorlab.sft.config:SFTConfig", entry="priorlab.kinds:_sft",
                      base_config="priorlab.kinds:_sft_base", seed_field="seed", thread_field="threads",
                      marker="teacher", checkpoints=("prior", "teacher"), summary="before_after",
                      eval_dirs=_BEFORE_AFTER))
register_kind(RunKind("rlp", config="priorlab.rlp.config:RLPConfig", entry="priorlab.kinds:_rlp",
                      base_config="priorlab.kinds:_rlp_base", seed_field="seed", thread_field="threads",
                      marker="rlp", checkpoints=("prior",), summary="before_after", eval_dirs=_BEFORE_AFTER))
