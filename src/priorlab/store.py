"""The run store: run directories named by the hash of their resolved config, one lock each.

A store is a directory (``runs/store``; ``--store DIR`` or ``$PRIORLAB_STORE`` override it) of run
directories ``<kind>-<hash12>``, one per run of a registered kind (:mod:`priorlab.kinds`: ``pretrain``,
the prior pipeline of ``priorlab demo``; ``rl``, ``priorlab rl``); the store never tests a kind's name.

The hash is sha256 over ``{kind, code_version, config}`` where ``config`` is the resolved config's
non-default fields (:func:`non_default`: adding a field whose default keeps today's behaviour
changes no hash; *changing* a default needs a version bump) without execution fields
(``threads``), an RL run's ``prior`` replaced by the prior's identity
(its store run id, else the sha256 of its weights), and ``code_version`` is
``priorlab.__version__``: bump it when a change alters results. The git commit is provenance
only (``run.json``), so a docs commit does not invalidate every finished run.

``run.json`` records id, kind, hash, code version, git commit, status, timestamps, host, pid,
attempts, wall time and the error of a failed attempt. ``DIR/.lock`` is held (``fcntl.flock``)
for a run's lifetime: a second claimant gets a :class:`RunLockedError` naming the holder and
writes nothing (a sweep waits for the holder). A refused rerun of a finished run keeps it
finished (:func:`claim`). :func:`run_status` derives: ``finished``; ``running`` (lock held); ``failed`` /
``interrupted`` (recorded, resumable); ``crashed`` (started, no lock, nothing recorded: killed;
resumable).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from pydantic import BaseModel, ValidationError

from priorlab import __version__
from priorlab.config import ConfigError
from priorlab.overrides import first_error
from priorlab.checkpoint import latest_checkpoint, storage_error
from priorlab.errors import InputDataError
from priorlab.kinds import KINDS, get_field, get_kind, set_field
from priorlab.locks import HOST, RunLock, RunLockedError, is_locked
from priorlab.locks import now as _now
from priorlab.registry import UnknownNameError
from priorlab.runs import identity

CODE_VERSION = __version__
RECORD = "run.json"


def store_root(store: str | Path | None = None) -> Path:
    """``store``, else ``$PRIORLAB_STORE``, else ``runs/store`` (absolute)."""
    return Path(store or os.environ.get("PRIORLAB_STORE") or "runs/store").resolve()


def config_model(kind: str) -> type[BaseModel]:
    """The config model of the registered run kind ``kind`` (:mod:`priorlab.kinds`)."""
    try:
        return get_kind(kind).config_model()
    except UnknownNameError as e:
        raise ConfigError(f"kind: {e}") from None


def as_config(kind: str, config) -> BaseModel:
    """``config`` (a dict or the kind's config model) validated as the kind's config model."""
    model = config_model(kind)
    if isinstance(config, model):
        return config
    if isinstance(config, BaseModel):
        raise ConfigError(f"a {kind} run needs a {model.__name__}, got a {type(config).__name__}")
    try:
        return model.model_validate(config)
    except ValidationError as e:
        raise ConfigError(f"{kind} config: {first_error(e, model)}") from None


def with_threads(kind: str, cfg, threads: int | None):
    """``cfg`` with its torch thread count set (an execution field, not part of the hash)."""
    return cfg if threads is None else set_field(cfg, get_kind(kind).thread_field, threads)


def owning_run(path: str | Path) -> Path | None:
    """The store run directory holding ``path`` (itself or a parent whose ``run.json`` id equals
    its name: store directories are content-addressed), or None."""
    path = Path(path).resolve()
    for d in (path, *path.parents):
        rec = read_record(d)
        if rec is not None:
            return d if rec.get("id") == d.name else None
    return None


def prior_identity(prior: str | None) -> str | None:
    """``run:<id>/<sub path>`` for a checkpoint inside a store run, else ``sha256:<hex>`` of its
    ``*.safetensors`` and ``config.json``, else ``path:<absolute path>`` (a missing prior; the
    run will fail on it)."""
    if not prior:
        return None
    path = Path(prior).resolve()
    owner = owning_run(path)
    if owner is not None:
        return f"run:{owner.name}/{path.relative_to(owner).as_posix()}"
    files = [f for f in sorted(path.glob("*.safetensors")) + [path / "config.json"] if f.is_file()]
    if not files:
        return f"path:{path}"
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def non_default(model: BaseModel) -> dict:
    """The fields of a config (JSON values) that differ from their defaults, recursing into
    sub-models only: a free-form dict (``corpus.formats``) is compared whole, so removing a key
    is a difference. Extra fields (a world's own knobs) are always kept. A field added to a
    config with a default that keeps today's behaviour therefore leaves every hash unchanged."""
    from pydantic_core import PydanticUndefined, to_jsonable_python

    dump, out = model.model_dump(mode="json"), {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            if sub := non_default(value):
                out[name] = sub
            continue
        default = field.get_default(call_default_factory=True)
        if default is PydanticUndefined or to_jsonable_python(default) != dump[name]:
            out[name] = dump[name]
    return out | {k: dump[k] for k in (model.model_extra or {})}


def identity_of(kind: str, cfg) -> dict:
    """What a run's hash covers: kind, code version, config identity (see the module doc); the
    kind's checkpoint fields (an RL prior, a continued prior's base) by the checkpoint's identity."""
    data = identity(non_default(cfg))
    for dotted in get_kind(kind).checkpoints:
        if path := get_field(cfg, dotted):
            *parents, leaf = dotted.split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = prior_identity(path)
    return {"kind": kind, "code_version": CODE_VERSION, "config": data}


def config_hash(kind: str, config) -> str:
    """sha256 hex of :func:`identity_of` (canonical JSON)."""
    doc = identity_of(kind, as_config(kind, config))
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_id(kind: str, config) -> str:
    """``<kind>-<first 12 hex digits of config_hash>``: the run's directory name in a store."""
    return f"{kind}-{config_hash(kind, config)[:12]}"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the checkout priorlab runs from (``+dirty`` with uncommitted changes), or None."""
    root = str(Path(__file__).resolve().parents[2])
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def read_record(run_dir: str | Path) -> dict | None:
    p = Path(run_dir) / RECORD
    try:
        return json.loads(p.read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def write_record(run_dir: str | Path, rec: dict) -> None:
    """Atomic ``run.json`` (write a temporary file, then rename). When no new file fits (a full
    disk), ``run.json`` is overwritten in place, in blocks it already holds, so the record still
    says what happened; the temporary file never stays behind."""
    path, text = Path(run_dir) / RECORD, json.dumps(rec, indent=2, default=str)
    tmp = Path(run_dir) / f".{RECORD}.{os.getpid()}"
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        try:
            with path.open("r+") as f:
                f.write(text)
                f.truncate()
        except OSError:
            raise storage_error(e, path) or e from None


@contextlib.contextmanager
def claim(run_dir: str | Path, kind: str, cfg, digest: str | None = None, skip_finished: bool = False):
    """Hold ``run_dir``'s lock while the body runs; ``run.json`` says running, then finished,
    failed (with the error) or interrupted. Yields the record, or None without touching anything
    when ``skip_finished`` and the run had already finished (another process got there first).
    A :class:`ConfigError` other than an :class:`InputDataError` on a finished run is a refusal
    before anything ran (``--resume`` missing): its record is written back unchanged (still reused)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    lock.acquire()
    previous = read_record(run_dir) or {}
    if skip_finished and previous.get("status") == "finished":
        lock.release()
        yield None
        return
    digest = digest or config_hash(kind, cfg)
    now = _now()
    rec = {"id": f"{kind}-{digest[:12]}", "kind": kind, "hash": digest, "code_version": CODE_VERSION,
           "git_commit": git_commit(), "status": "running", "created_at": previous.get("created_at", now),
           "started_at": now, "ended_at": None, "wall_s": None, "host": HOST, "pid": os.getpid(),
           "attempts": previous.get("attempts", 0) + 1, "resumed_from": None, "error": None}
    if previous:
        ckpt = latest_checkpoint(run_dir)
        rec["resumed_from"] = ckpt.name if ckpt else "start"
    write_record(run_dir, rec)
    t0 = time.perf_counter()
    try:
        yield rec
        rec["status"] = "finished"
    except KeyboardInterrupt:
        rec.update(status="interrupted", error="interrupted (KeyboardInterrupt)")
        raise
    except BaseException as e:
        if previous.get("status") == "finished" and isinstance(e, ConfigError) \
                and not isinstance(e, InputDataError):
            rec = previous
        else:
            rec.update(status="failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        if rec is not previous:
            rec.update(ended_at=_now(), wall_s=round(time.perf_counter() - t0, 2))
        write_record(run_dir, rec)
        lock.release()


def run_status(run_dir: str | Path) -> str:
    """finished | running | failed | interrupted | crashed (see the module doc)."""
    if is_locked(run_dir):
        return "running"
    rec = read_record(run_dir)
    if rec is None:  # a run directory written before the store existed
        return "finished" if (Path(run_dir) / "summary.json").exists() else "crashed"
    return rec.get("status") if rec.get("status") in ("finished", "failed", "interrupted") else "crashed"


def describe(run_dir: str | Path) -> dict:
    """``run.json`` plus the derived ``status``, ``dir`` and ``resumable`` (the checkpoint a rerun
    continues from, ``start`` without one; None for finished and running runs)."""
    run_dir = Path(run_dir)
    status = run_status(run_dir)
    rec = read_record(run_dir) or {"id": run_dir.name, "kind": guess_kind(run_dir)}
    resumable = None
    if status in ("failed", "interrupted", "crashed"):
        ckpt = latest_checkpoint(run_dir)
        resumable = ckpt.name if ckpt else "start"
    return rec | {"status": status, "dir": str(run_dir), "resumable": resumable}


def guess_kind(run_dir: Path) -> str | None:
    """The kind of a run directory without ``run.json``: the registered kind whose ``marker`` is a
    top-level key of its ``config.yaml``."""
    import yaml

    path = run_dir / "config.yaml"
    cfg = yaml.safe_load(path.read_text()) if path.exists() else None
    return next((k for k in KINDS if KINDS.get(k).marker in (cfg or {})), None)


def list_runs(store: str | Path | None = None) -> list[dict]:
    """:func:`describe` of every run directory in the store, oldest first."""
    return sorted((describe(d) for d in run_dirs(store_root(store))), key=lambda r: r.get("created_at") or "")


def run_dirs(root: Path) -> list[Path]:
    """The run directories (``run.json`` or ``config.yaml``) directly in the store ``root``;
    symlinks leading out of it are not runs of the store."""
    return [d for d in sorted(root.glob("*")) if d.is_dir() and d.resolve().parent == root
            and ((d / RECORD).exists() or (d / "config.yaml").exists())]


def find_run(key: str, store: str | Path | None = None) -> Path:
    """A run directory of the store by id, unique id prefix, or path; a path elsewhere (``../..``,
    a symlink out of the store), no match or several are a :class:`ConfigError`."""
    root = store_root(store)
    runs = run_dirs(root)
    if key and Path(key).resolve() in runs:
        return Path(key).resolve()
    hits = [d for d in runs if d.name.startswith(key)] if key else []  # names hold no "/" or ".."
    if len(hits) == 1:
        return hits[0]
    if not hits and key and Path(key).exists():
        raise ConfigError(f"run {key!r}: {Path(key).resolve()} is not a run directory of the store {root}; give "
                          f"a run id (`priorlab runs ls`) or the store that holds it (--store)")
    from priorlab.registry import did_you_mean

    what = "matches several runs: " + ", ".join(d.name for d in hits) if hits else \
        "matches no run." + did_you_mean(key, [d.name for d in runs])
    raise ConfigError(f"run {key!r} {what} (store {root}; `priorlab runs ls` lists them)")


def execute(kind: str, cfg, out: Path, resume: bool, show: bool) -> None:
    """Run the kind's pipeline into ``out`` (the same entry point as its command)."""
    get_kind(kind).run(cfg, out, resume=resume, show=show)


def run(kind: str, config, store: str | Path | None = None, show: bool = True,
        threads: int | None = None) -> tuple[str, Path]:
    """Run ``config`` in the store, in this process: ``("reused", dir)`` when that run already
    finished, else it runs (resuming an unfinished directory) and returns ``("finished", dir)``."""
    cfg = with_threads(kind, as_config(kind, config), threads)
    digest = config_hash(kind, cfg)
    out = store_root(store) / f"{kind}-{digest[:12]}"
    if run_status(out) == "finished":
        return "reused", out
    with claim(out, kind, cfg, digest=digest, skip_finished=True) as rec:
        if rec is None:
            return "reused", out
        execute(kind, cfg, out, resume=(out / "config.yaml").exists(), show=show)
    return "finished", out


def main() -> None:
    """Subprocess entry of the sweep executors: a JSON job on stdin -> :func:`run`; the last line
    on stdout is ``{"status", "run_dir", "error"}``; status ``elsewhere`` (error: the lock's holder)
    when another process holds the run, and nothing was written; exit code 1 on failure."""
    job = json.loads(sys.stdin.read())
    result = {"status": "failed", "run_dir": None, "error": None}
    try:
        get_kind(job["kind"], job.get("kind_module"))  # a kind declared outside priorlab registers on import
        status, out = run(job["kind"], job["config"], job["store"], show=False, threads=job.get("threads"))
        result.update(status=status, run_dir=str(out))
    except RunLockedError as e:  # claimed since the sweep looked: not a failure, the sweep waits
        result.update(status="elsewhere", error=e.holder)
    except Exception as e:  # reported to the sweep; run.json holds it too once the run was claimed
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result), flush=True)
    sys.exit(1 if result["status"] == "failed" else 0)


if __name__ == "__main__":  # pragma: no cover - run by the sweep executors
    main()
