"""Checkpoints: trainer state without pickle, the manifest, verification and fall-back."""

import json
import random

import numpy as np
import pytest
import torch

from priorlab import checkpoint as C
from priorlab.errors import CheckpointError, InputDataError
from priorlab.model import build_model
from priorlab.pretrain import make_optimizer
from priorlab.runs import MetricsLog, read_jsonl
from priorlab.tokenizer import build_tokenizer


@pytest.fixture
def trained(world, tiny_cfg):
    """A tiny model, its tokenizer, AdamW and scheduler after two steps (seeded)."""
    torch.manual_seed(0)
    tok = build_tokenizer(world.vocabulary())
    model = build_model(tiny_cfg.model, tok)
    opt = make_optimizer(model, tiny_cfg.pretrain)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (s + 1))
    for _ in range(2):
        model(torch.randint(5, 60, (2, 8))).logits.square().mean().backward()
        opt.step()
        sched.step()
    return model, tok, opt, sched


def save(path, trained, **extra):
    model, tok, opt, sched = trained
    C.save_checkpoint(path, model, tok, {"step": 2}, C.trainer_state(opt, sched, 2, **extra))


def test_trainer_state_round_trips_exactly_without_pickle(trained, tiny_cfg, tmp_path):
    model, tok, opt, sched = trained
    np.random.seed(3)
    random.seed(4)
    save(tmp_path / "step-2", trained, losses=[0.5, float("nan")])
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.bin"))
    draws = (torch.rand(3), np.random.rand(3), random.random())
    opt2 = make_optimizer(model, tiny_cfg.pretrain.model_copy(update={"lr": 1.0, "betas": [0.5, 0.5]}))
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0)
    state = C.restore(tmp_path / "step-2", model, opt2, sched2)
    assert state["step"] == 2 and state["losses"][0] == 0.5 and np.isnan(state["losses"][1])
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"] and a["state"].keys() == b["state"].keys()  # int keys, tuples
    assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"] for k in a["state"][i])
    assert sched2.state_dict() == sched.state_dict()
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and draws[2] == again[2]


def test_rng_state_from_before_cuda_states_were_stored_still_restores():
    state = C.rng_state()
    assert isinstance(state["cuda"], list)  # empty without a CUDA device (tests/test_cuda.py covers one)
    first = torch.rand(3)
    C.set_rng_state({k: v for k, v in state.items() if k != "cuda"})
    assert torch.equal(torch.rand(3), first)


def test_decoding_refuses_what_it_does_not_know():
    tensors = {}
    enc = C.encode_state({"a": (1, 2.5, None), 3: np.arange(3, dtype=np.uint32)}, tensors)
    assert C.decode_state(json.loads(json.dumps(enc)), tensors)[3].dtype == np.uint32
    for bad in ({"pickle": "cos\nsystem\n"}, {"ndarray": [1], "dtype": "O"}, {"tensor": "t9"}):
        with pytest.raises((ValueError, KeyError, TypeError)):
            C.decode_state(bad, tensors)
    with pytest.raises(TypeError, match="cannot hold"):
        C.encode_state({"f": print}, {})


def test_manifest_detects_truncation_and_corruption_and_lookup_falls_back(trained, tmp_path, capsys):
    run = tmp_path / "run"
    for n in (4, 8, 12):
        save(run / "checkpoints" / f"step-{n}", trained)
    manifest = json.loads((run / "checkpoints" / "step-8" / C.MANIFEST).read_text())
    assert {"model.safetensors", "config.json", "tokenizer.json", "priorlab.json", C.STATE_TENSORS,
            C.STATE_JSON} <= set(manifest["files"])
    (run / "checkpoints" / ".step-16.tmp-999").mkdir()  # a killed writer's temp dir: never trusted
    data = (run / "checkpoints" / "step-12" / C.STATE_TENSORS)
    data.write_bytes(data.read_bytes()[:100])  # truncated
    flip = run / "checkpoints" / "step-8" / "model.safetensors"
    raw = bytearray(flip.read_bytes())
    raw[-1] ^= 1
    flip.write_bytes(bytes(raw))  # same size, corrupt
    assert C.latest_checkpoint(run) == run / "checkpoints" / "step-8"  # sizes only
    assert C.latest_checkpoint(run, deep=True, warn=True) == run / "checkpoints" / "step-4"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "step-12" in err[0] and "truncated" in err[0] and "step-8" in err[1] and "sha256" in err[1]
    with pytest.raises(CheckpointError, match="step-12.*truncated"):
        C.restore(run / "checkpoints" / "step-12", *trained[:1], *trained[2:])
    (run / "checkpoints" / "step-4" / C.MANIFEST).unlink()
    assert C.latest_checkpoint(run, deep=True) is None
    save(run / "checkpoints" / "step-12", trained)  # rewriting replaces the broken one and cleans temp dirs
    assert C.latest_checkpoint(run, deep=True) == run / "checkpoints" / "step-12"
    assert not list((run / "checkpoints").glob(".*"))


def test_a_tampered_trainer_state_is_a_checkpoint_error(trained, tmp_path):
    path = tmp_path / "step-2"
    save(path, trained)
    (path / C.STATE_JSON).write_text(json.dumps({"format": 1, "state": {"pickle": "cposix\nsystem\n"}}))
    (path / C.MANIFEST).unlink()
    C.seal(path)  # a forger can rewrite the manifest too: the content still has to decode
    model, _, opt, sched = trained
    with pytest.raises(CheckpointError, match="step-2: trainer state cannot be loaded"):
        C.restore(path, model, opt, sched)


def test_non_finite_weights_are_not_a_good_checkpoint(trained, tmp_path):
    run = tmp_path / "run"
    save(run / "checkpoints" / "step-4", trained)
    with torch.no_grad():
        next(trained[0].parameters()).fill_(float("nan"))
    save(run / "checkpoints" / "step-8", trained)
    assert C.latest_checkpoint(run, deep=True) == run / "checkpoints" / "step-8"
    assert C.latest_checkpoint(run, deep=True, finite=True) == run / "checkpoints" / "step-4"


def test_metrics_log_drops_a_half_written_last_line_only(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 4, "loss": 1.0}\n{"step": 8, "loss": 0.5}\n{"step": 12, "lo')
    MetricsLog(path, resume_step=8)
    assert read_jsonl(path) == [{"step": 4, "loss": 1.0}, {"step": 8, "loss": 0.5}]
    assert "half-written" in capsys.readouterr().err
    path.write_text('{"step": 4}\n{"st\n{"step": 8}\n')
    with pytest.raises(InputDataError, match="metrics.jsonl: line 2"):
        MetricsLog(path, resume_step=8)


def test_storage_errors_name_the_path_and_the_reason():
    import errno

    e = C.storage_error(OSError(errno.ENOSPC, "No space left on device", "/r/x"), "/r")
    assert "/r/x" in str(e) and "No space left on device" in str(e) and "ENOSPC" in str(e)
    wrapped = C.storage_error(Exception("Error while serializing: I/O error: Read-only file system (os error 30)"), "/r")
    assert "/r" in str(wrapped) and "EROFS" in str(wrapped)
    assert C.storage_error(OSError(errno.ENOENT, "gone"), "/r") is None


def test_the_ppo_critic_and_its_optimizer_round_trip(tiny_prior, tmp_path):
    from priorlab.rl import trainer as T
    from tests.test_rl_trainer import parts

    p = parts(tiny_prior[1], tmp_path / "a", "algo.advantage=gae", "algo.loss=clipped")
    T.rl_step(p, 0)
    p.checkpoint(1)
    q = parts(tiny_prior[1], tmp_path / "b", "algo.advantage=gae", "algo.loss=clipped")
    assert q.restore(tmp_path / "a" / "checkpoints" / "step-1") == 1
    assert all(torch.equal(a, b) for a, b in zip(p.critic.state_dict().values(), q.critic.state_dict().values()))
    sa, sb = p.critic_opt.state_dict()["state"], q.critic_opt.state_dict()["state"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    assert json.loads((tmp_path / "a" / "checkpoints" / "step-1" / C.STATE_JSON).read_text())["state"]["dict"].keys() \
        >= {"optimizer", "scheduler", "rng", "step", "critic", "critic_optimizer"}
