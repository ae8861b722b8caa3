"""Fault injection: kill -9 at chosen and seeded-random points of pretraining and RL (inside
checkpoint writes and metrics appends too), a full disk, a read-only directory, planted trainer
state. After each fault a resume must equal the uninterrupted run bitwise: final weights and
every metrics row (timings aside).

A kill is real: the training runs in a forked child that installs its kill point and then
SIGKILLs itself there (or is SIGKILLed by a timer at a random moment).
"""

import errno
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from priorlab import checkpoint as C
from priorlab import pretrain as P
from priorlab.config import load_config
from priorlab.errors import CheckpointError, StorageError
from priorlab.rl import trainer as T
from priorlab.rl.config import RLConfig
from priorlab.runs import MetricsLog, read_jsonl
from priorlab.store import claim, read_record
from tests.conftest import TINY

FAULT = TINY + ["pretrain.checkpoint_every=6"]  # checkpoints at 6, 12, 16: off the logging boundary (4)
TIMINGS = ("elapsed_s", "tok_per_s", "seconds_sample", "seconds_score", "seconds_update", "seconds_step",
           "seconds_probe")
SEED = random.Random(15)  # the random kill points, drawn once (reproducible)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def torn_write(directory: str, name: str, frac: float) -> None:
    """The checkpoint file ``name`` of ``directory`` (step-N, model) gets ``frac`` of its bytes,
    then the process is killed."""
    real = C.write_file

    def write(path, data):
        if path.parent.name.startswith(f".{directory}.tmp") and path.name == name:
            path.write_bytes(data[:int(len(data) * frac)])
            die()
        real(path, data)

    C.write_file = write


def kill_at_rename(directory: str, after: bool = False) -> None:
    """Kill just before (or just after) ``directory``'s temp dir is renamed into place."""
    real = os.replace

    def replace(src, dst):
        if Path(dst).name == directory and not after:
            die()
        real(src, dst)
        if Path(dst).name == directory:
            die()

    os.replace = replace


def torn_metrics_line(n: int) -> None:
    """The ``n``-th metrics row is half written, then the process is killed."""
    real, calls = MetricsLog.write, itertools.count(1)

    def write(self, row):
        if next(calls) == n:
            with self.path.open("a") as f:
                f.write(json.dumps(row)[:25])
                f.flush()
            die()
        real(self, row)

    MetricsLog.write = write


def kill_after(seconds: float) -> None:
    threading.Timer(seconds, die).start()


def in_child(kill_point, train) -> int:
    """Run ``kill_point()`` then ``train()`` in a forked process; its exit code (-9: killed)."""
    def body():
        kill_point()
        train()
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=body)
    proc.start()
    proc.join(300)
    return proc.exitcode


def assert_same_run(ref: Path, out: Path) -> None:
    """Bitwise equal final weights and metrics rows (timings aside); no temp file is left."""
    a, b = load_file(ref / "model" / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]  # noqa: E731
    assert strip(read_jsonl(out / "metrics.jsonl")) == strip(read_jsonl(ref / "metrics.jsonl"))
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def pretrain_ref(tmp_path_factory):
    """The uninterrupted run of FAULT and its wall time."""
    out, t = tmp_path_factory.mktemp("ref"), time.perf_counter()
    P.pretrain(load_config(None, FAULT), out, show=False)
    return out, time.perf_counter() - t


CKPT_FILES = ["priorlab.json", C.STATE_TENSORS, C.STATE_JSON, C.MANIFEST]
PRETRAIN_POINTS = {
    "torn trainer state of step-12": lambda _: torn_write("step-12", C.STATE_TENSORS, 0.5),
    "step-12 sealed, not renamed": lambda _: kill_at_rename("step-12"),
    "step-16 renamed, model not written": lambda _: kill_at_rename("step-16", after=True),
    "torn model/ weights manifest": lambda _: torn_write("model", C.MANIFEST, 0.3),
    "torn metrics row 3": lambda _: torn_metrics_line(3),
    **{f"random torn {d}/{f} at {q:.2f}": (lambda d, f, q: lambda _: torn_write(d, f, q))(d, f, q)
       for d, f, q in [(SEED.choice(["step-6", "step-12", "step-16"]), SEED.choice(CKPT_FILES), SEED.random())
                       for _ in range(2)]},
    **{f"random time {q:.2f} of the run": (lambda q: lambda wall: kill_after(q * wall))(q)
       for q in [SEED.uniform(0.3, 1.0) for _ in range(2)]},
}


@pytest.mark.parametrize("point", PRETRAIN_POINTS)
def test_pretraining_killed_anywhere_resumes_bit_exactly(point, pretrain_ref, tmp_path):
    ref, wall = pretrain_ref
    cfg, out = load_config(None, FAULT), tmp_path / "run"
    code = in_child(lambda: PRETRAIN_POINTS[point](wall), lambda: P.pretrain(cfg, out, show=False))
    assert code == -signal.SIGKILL or point.startswith("random time")
    P.pretrain(cfg, out, resume=True, show=False)
    assert_same_run(ref, out)


@pytest.fixture(scope="module")
def rl_ref(tiny_rl_run):
    """The uninterrupted 2-step RL run (checkpoints at 1 and 2, probes) and its config."""
    return tiny_rl_run, load_config(tiny_rl_run / "config.yaml", [], model=RLConfig)


RL_POINTS = {
    "torn trainer state of step-1": lambda: torn_write("step-1", C.STATE_TENSORS, 0.7),
    "step-2 sealed, not renamed": lambda: kill_at_rename("step-2"),
    "torn train row of step 2": lambda: torn_metrics_line(4),
    **{f"random torn {d}/{f} at {q:.2f}": (lambda d, f, q: lambda: torn_write(d, f, q))(d, f, q)
       for d, f, q in [(SEED.choice(["step-1", "step-2"]), SEED.choice(CKPT_FILES), SEED.random())]},
}


@pytest.mark.parametrize("point", RL_POINTS)
def test_rl_killed_anywhere_resumes_bit_exactly(point, rl_ref, tmp_path):
    ref, cfg = rl_ref
    out = tmp_path / "rl"
    assert in_child(RL_POINTS[point], lambda: T.train(cfg, out, show=False)) == -signal.SIGKILL
    summary = T.train(cfg, out, resume=True, show=False)
    assert_same_run(ref, out)
    assert summary["after"] == json.loads((ref / "summary.json").read_text())["after"]


def test_resume_off_the_logging_boundary_logs_the_uninterrupted_averages(pretrain_ref, tmp_path):
    ref, _ = pretrain_ref
    out = tmp_path / "run"
    shutil.copytree(ref, out)
    for d in ("checkpoints/step-12", "checkpoints/step-16", "model"):
        shutil.rmtree(out / d)
    P.pretrain(load_config(None, FAULT), out, resume=True, show=False)  # from step 6; row 8 averages steps 5-8
    assert_same_run(ref, out)


def test_full_disk_mid_checkpoint_is_one_storage_error_recorded_and_resume_falls_back(pretrain_ref, tmp_path,
                                                                                      monkeypatch):
    ref, _ = pretrain_ref
    cfg, out, real = load_config(None, FAULT), tmp_path / "run", C.write_file

    def full(path, data):  # the disk fills up half-way through step-12's trainer state
        if path.parent.name.startswith(".step-12.tmp") and path.name == C.STATE_TENSORS:
            path.write_bytes(data[:len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(C, "write_file", full)
    with pytest.raises(StorageError, match=r"checkpoint .*step-12 not written: .*No space left on device"):
        with claim(out, "pretrain", cfg):
            P.pretrain(cfg, out, show=False)
    rec = read_record(out)
    assert rec["status"] == "failed" and rec["error"].startswith("StorageError") and "ENOSPC" in rec["error"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-6"]
    monkeypatch.undo()
    P.pretrain(cfg, out, resume=True, show=False)
    assert_same_run(ref, out)


@pytest.fixture
def small_fs(tmp_path):
    """A real 8 MiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def after_step_6(monkeypatch, fault) -> None:
    """Run ``fault()`` right after the step-6 checkpoint is written."""
    real = P.save_checkpoint

    def save(path, *a, **k):
        real(path, *a, **k)
        if path.name == "step-6":
            fault()

    monkeypatch.setattr(P, "save_checkpoint", save)


def fill(directory: Path) -> None:
    with (directory / "filler").open("wb") as f:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
                    f.flush()
            except OSError:
                pass


def test_a_really_full_disk_leaves_a_record_no_temp_files_and_a_resumable_run(small_fs, pretrain_ref,
                                                                               monkeypatch):
    ref, _ = pretrain_ref
    cfg, out = load_config(None, FAULT), small_fs / "run"
    after_step_6(monkeypatch, lambda: fill(small_fs))
    with pytest.raises(StorageError, match="No space left on device"):
        with claim(out, "pretrain", cfg):
            P.pretrain(cfg, out, show=False)
    rec = read_record(out)  # rewritten in place: no new file fits
    assert rec["status"] == "failed" and "No space left on device" in rec["error"]
    assert not [p for p in out.rglob(".*") if p.name != ".lock"]
    (small_fs / "filler").unlink()
    monkeypatch.undo()
    P.pretrain(cfg, out, resume=True, show=False)
    assert_same_run(ref, out)


def test_a_read_only_directory_is_one_storage_error(small_fs, pretrain_ref):
    ref, _ = pretrain_ref
    cfg, out = load_config(None, FAULT), small_fs / "run"
    shutil.copytree(ref, out)
    shutil.rmtree(out / "model")
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(StorageError, match=r"Read-only file system \(errno EROFS\)"):
        P.pretrain(cfg, out, resume=True, show=False)


def test_a_planted_pickle_is_never_loaded(pretrain_ref, tmp_path, capsys):
    ref, _ = pretrain_ref
    out, pwned = tmp_path / "run", tmp_path / "pwned"
    shutil.copytree(ref, out)
    shutil.rmtree(out / "model")

    class Payload:
        def __reduce__(self):
            return Path.write_text, (pwned, "code ran")

    newest = out / "checkpoints" / "step-16"
    torch.save({"optimizer": Payload()}, newest / "trainer_state.pt")
    (newest / C.STATE_JSON).write_text("garbage")  # and the real state is unreadable
    P.pretrain(load_config(None, FAULT), out, resume=True, show=False)
    assert not pwned.exists()
    assert "skipping checkpoint" in capsys.readouterr().err  # fell back to step-12
    assert_same_run(ref, out)
    (newest / C.STATE_JSON).write_text(json.dumps({"format": 1, "state": {"dict": {}}}))
    (newest / C.MANIFEST).unlink()
    C.seal(newest)  # a forged manifest: verifies, yet the state must decode to be used
    with pytest.raises(CheckpointError, match="step-16: trainer state cannot be loaded"):
        P.pretrain(load_config(None, FAULT), out, resume=True, show=False)
    assert not pwned.exists()


def test_the_nan_stop_names_a_checkpoint_whose_tensors_are_finite(tmp_path, monkeypatch):
    real, calls = torch.nn.utils.clip_grad_norm_, itertools.count(1)

    def poisoned(params, *a, **k):  # step 12's gradients turn NaN: step-12's weights are NaN,
        params = list(params)       # the loss of step 13 is NaN
        if next(calls) == 12:
            for p in params:
                p.grad.fill_(float("nan"))
        return real(params, *a, **k)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", poisoned)
    with pytest.raises(FloatingPointError, match=r"last good \(finite\) checkpoint is .*step-6 "):
        P.pretrain(load_config(None, FAULT), tmp_path / "nan", show=False)
    assert (tmp_path / "nan" / "checkpoints" / "step-12").exists()
