"""Checkpoints that are atomic, self-checking and safe to load.

A checkpoint directory (``checkpoints/step-N/``, and a run's final ``model/``) holds:

- the Hugging Face model directory: ``config.json``, ``model.safetensors``, the tokenizer files
  and ``priorlab.json`` (so ``from_pretrained`` loads it anywhere);
- in ``step-N`` only, the trainer state: ``trainer_state.safetensors`` (every tensor: AdamW
  moments, the torch RNG state, a critic's weights) and ``trainer_state.json`` (everything else:
  scheduler, param groups, numpy and python RNG state, step, a partial loss window). Nothing
  is pickled, so loading a planted file cannot execute code;
- ``checkpoint.json``, the manifest (``{"format": 1, "files": {name: {"bytes", "sha256"}}}``),
  written last: a directory without a manifest that matches its files is not a checkpoint.

Writing goes to a sibling ``.step-N.tmp-<pid>`` directory; every file and the directory are
fsynced, the directory is renamed into place and the parent fsynced. A kill or a full disk
therefore leaves either the complete checkpoint or none (temporary directories are ignored by
:func:`latest_checkpoint` and removed by the next write). :func:`latest_checkpoint` returns the
newest checkpoint that verifies, saying which newer ones it skipped and why.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import random
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from priorlab.errors import CheckpointError, StorageError

MANIFEST = "checkpoint.json"
STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"
FORMAT = 1
#: errno values that mean "the storage refused": the user frees space or fixes permissions.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def storage_error(e: BaseException, what: str | Path) -> StorageError | None:
    """``e`` as a one-line :class:`StorageError` about ``what`` when the storage refused (disk
    full, read-only, no permission; also safetensors' wrapped ``os error N``), else None."""
    if isinstance(e, StorageError):
        return e
    code = getattr(e, "errno", None)
    if code is None and (m := re.search(r"os error (\d+)", str(e))):
        code = int(m.group(1))
    if code not in STORAGE_ERRNOS:
        return None
    where = getattr(e, "filename", None) or what
    return StorageError(f"cannot write {where}: {os.strerror(code)} (errno {errno.errorcode[code]}); free space or "
                        f"fix the directory's permissions, then resume the run")


def storage_errors(fn):
    """Decorator: an OSError of :data:`STORAGE_ERRNOS` escaping ``fn`` becomes a StorageError."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            err = storage_error(e, "the run directory")
            if err is None or err is e:
                raise
            raise err from e

    return wrapper


# --- trainer state <-> safetensors + JSON -------------------------------------------------

def encode_state(obj, tensors: dict[str, torch.Tensor]):
    """JSON-able form of ``obj`` (nested dicts, lists, tuples, scalars, numpy arrays, tensors);
    tensors are moved into ``tensors`` (``t0``, ``t1``, ...) and referenced by key. Every dict
    and tuple is tagged, so :func:`decode_state` restores int keys and tuples exactly."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        if any(t.untyped_storage().data_ptr() == u.untyped_storage().data_ptr() for u in tensors.values()):
            t = t.clone()  # safetensors refuses tensors that share memory
        key = f"t{len(tensors)}"
        tensors[key] = t
        return {"tensor": key}
    if isinstance(obj, np.ndarray):
        return {"ndarray": obj.tolist(), "dtype": obj.dtype.str}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"dict": {k: encode_state(v, tensors) for k, v in obj.items()}}
        return {"items": [[encode_state(k, tensors), encode_state(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"tuple": [encode_state(x, tensors) for x in obj]}
    if isinstance(obj, list):
        return [encode_state(x, tensors) for x in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"trainer state cannot hold a {type(obj).__name__}")


def decode_state(obj, tensors: dict[str, torch.Tensor]):
    """Inverse of :func:`encode_state`; anything else raises ValueError (never executes code)."""
    if isinstance(obj, list):
        return [decode_state(x, tensors) for x in obj]
    if not isinstance(obj, dict):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise ValueError(f"unexpected {type(obj).__name__}")
    if obj.keys() == {"tensor"}:
        return tensors[obj["tensor"]]
    if obj.keys() == {"ndarray", "dtype"}:
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in "biuf":
            raise ValueError(f"array dtype {dtype} is not numeric")
        return np.array(obj["ndarray"], dtype=dtype)
    if obj.keys() == {"dict"} and isinstance(obj["dict"], dict):
        return {k: decode_state(v, tensors) for k, v in obj["dict"].items()}
    if obj.keys() == {"items"} and isinstance(obj["items"], list):
        return {decode_state(k, tensors): decode_state(v, tensors) for k, v in obj["items"]}
    if obj.keys() == {"tuple"} and isinstance(obj["tuple"], list):
        return tuple(decode_state(x, tensors) for x in obj["tuple"])
    raise ValueError(f"unknown entry with keys {sorted(obj)[:4]}")


def rng_state() -> dict:
    """torch (CPU and every CUDA device), numpy and python global RNG states (all storable by
    :func:`encode_state`)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(s: dict) -> None:
    """Restore :func:`rng_state`. CUDA states are restored on the devices both runs have (a
    checkpoint written without CUDA, or before CUDA states were stored, restores none)."""
    torch.set_rng_state(s["torch"])
    cuda = s.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


def trainer_state(opt, sched, step: int, **extra) -> dict:
    """What resume needs besides the weights: optimizer, scheduler, RNG, step, ``extra``."""
    return {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng_state(),
            "step": step} | extra


# --- writing ------------------------------------------------------------------------------

def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (Python I/O, so a full disk raises OSError with its errno)."""
    with path.open("wb") as f:
        f.write(data)


def write_state(directory: Path, state: dict) -> None:
    """``state`` as ``trainer_state.safetensors`` + ``trainer_state.json`` in ``directory``."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    doc = {"format": FORMAT, "state": encode_state(state, tensors)}
    write_file(directory / STATE_TENSORS, save(tensors))
    write_file(directory / STATE_JSON, json.dumps(doc).encode())


def seal(directory: Path) -> None:
    """fsync every file of ``directory``, then write its manifest (last) and fsync the directory."""
    files = {}
    for f in sorted(p for p in directory.rglob("*") if p.is_file()):
        _fsync(f)
        files[f.relative_to(directory).as_posix()] = {"bytes": f.stat().st_size, "sha256": _digest(f)}
    write_file(directory / MANIFEST, json.dumps({"format": FORMAT, "files": files}, indent=1).encode())
    _fsync(directory / MANIFEST)
    _fsync(directory)


def save_checkpoint(path: Path, model, tok, meta: dict, state: dict | None = None) -> None:
    """Write the HF directory (+ ``state``, see :func:`trainer_state`) atomically to ``path``,
    replacing a previous one. A storage failure raises StorageError and leaves no temp dir."""
    from priorlab.model import quiet_hf

    quiet_hf()
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(".*.tmp-*"):  # left by a killed writer (the run lock is ours)
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        tmp.mkdir()
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        write_file(tmp / "priorlab.json", json.dumps(meta, indent=2).encode())
        if state is not None:
            write_state(tmp, state)
        seal(tmp)
        if path.exists():
            old = path.parent / f".{path.name}.tmp-{os.getpid()}-old"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync(path.parent)
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        err = storage_error(e, tmp)
        if err is None:
            raise
        raise StorageError(f"checkpoint {path} not written: {err}") from e


# --- reading ------------------------------------------------------------------------------

def verify(path: Path, deep: bool = True, finite: bool = False) -> None:
    """Raise CheckpointError unless ``path`` holds a manifest whose files all exist with their
    recorded sizes (``deep``: and sha256; ``finite``: and every float tensor is finite)."""
    from safetensors.torch import load_file

    try:
        manifest = json.loads((path / MANIFEST).read_text())
        files = manifest["files"]
        assert manifest.get("format") == FORMAT and isinstance(files, dict)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no {MANIFEST} (incomplete: interrupted while writing, or written "
                              f"by an older priorlab)") from None
    except (ValueError, KeyError, TypeError, AssertionError, OSError):
        raise CheckpointError(f"{path}: {MANIFEST} is unreadable or of an unknown format") from None
    for name, rec in files.items():
        f = path / name
        if not f.is_file() or f.stat().st_size != rec.get("bytes"):
            raise CheckpointError(f"{path}: {name} is missing or truncated")
        if deep and _digest(f) != rec.get("sha256"):
            raise CheckpointError(f"{path}: {name} does not match its sha256 in {MANIFEST} (corrupt)")
    if finite:
        for name in files:
            if name.endswith(".safetensors") and not all(
                    torch.isfinite(t).all() for t in load_file(str(path / name)).values() if t.is_floating_point()):
                raise CheckpointError(f"{path}: {name} holds non-finite values")


def step_dirs(out: str | Path) -> list[tuple[int, Path]]:
    """``(N, checkpoints/step-N)`` of a run, newest first (temporary directories excluded)."""
    found = []
    for p in (Path(out) / "checkpoints").glob("step-*"):
        if (m := re.fullmatch(r"step-(\d+)", p.name)) and p.is_dir():
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def latest_checkpoint(out: str | Path, deep: bool = False, finite: bool = False, warn: bool = False) -> Path | None:
    """The newest ``checkpoints/step-N`` that :func:`verify` accepts, or None. A newer one that
    fails is skipped; with ``warn`` each skip is one ``warning:`` line on stderr saying why."""
    for _, p in step_dirs(out):
        try:
            verify(p, deep=deep, finite=finite)
            return p
        except CheckpointError as e:
            if warn:
                print(f"warning: skipping checkpoint {e}; falling back to an older one", file=sys.stderr)
    return None


def restore(ckpt: Path, model, opt, sched) -> dict:
    """Load weights, optimizer, scheduler and RNG state from ``ckpt`` (verified: sizes and
    sha256); return the whole trainer state (``step`` and the extras it was saved with)."""
    from safetensors.torch import load_file

    verify(ckpt, deep=True)
    with loading(ckpt):
        tensors = load_file(str(ckpt / STATE_TENSORS))
        doc = json.loads((ckpt / STATE_JSON).read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        state = decode_state(doc["state"], tensors)
        model.load_state_dict(load_file(str(ckpt / "model.safetensors")), strict=False)
        model.tie_weights()
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
    return state


@contextlib.contextmanager
def loading(ckpt: Path):
    """Any error inside the block (a tampered, foreign or mismatched trainer state) becomes a
    CheckpointError naming ``ckpt``."""
    try:
        yield
    except CheckpointError:
        raise
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(f"{ckpt}: trainer state cannot be loaded ({type(e).__name__}: {first}); remove "
                              f"this checkpoint to resume from an older one") from None
