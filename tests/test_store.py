"""The run store: ids from config hashes, the lock, statuses, reuse and resume, SQL over runs."""

import json
import os
import re
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from priorlab import store as S
from priorlab.checkpoint import seal
from priorlab.catalog import query
from priorlab.cli import app
from priorlab.config import ConfigError, config_text, load_config
from priorlab.rl.config import RLConfig
from tests.conftest import TINY


def fake_store_run(root, kind, cfg, status="finished"):
    """A run directory as the store leaves it (record, config), without training."""
    d = root / S.run_id(kind, cfg)
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(config_text(cfg))
    S.write_record(d, {"id": d.name, "kind": kind, "status": status,
                       "created_at": f"2026-01-01T00:00:0{len(list(root.iterdir()))}"})
    return d


def fake_prior(root):
    """A finished store pretrain run with a model directory holding (fake) weights."""
    d = fake_store_run(root, "pretrain", load_config(None, TINY))
    (d / "model").mkdir()
    (d / "model" / "config.json").write_text("{}")
    (d / "model" / "model.safetensors").write_bytes(b"weights")
    return d


def rl(prior, *sets):
    return load_config(None, [f"prior={prior}", *sets], model=RLConfig)


def test_run_id_is_the_config_hash_without_execution_fields():
    a = load_config(None, TINY)
    assert S.run_id("pretrain", a) == S.run_id("pretrain", load_config(None, TINY + ["pretrain.threads=4"]))
    assert S.run_id("pretrain", a) == S.run_id("pretrain", load_config(None, TINY + ["pretrain.compile=true"]))
    assert S.run_id("pretrain", a) != S.run_id("pretrain", load_config(None, TINY + ["pretrain.seed=1"]))
    assert S.run_id("pretrain", a).startswith("pretrain-") and len(S.run_id("pretrain", a)) == len("pretrain-") + 12
    assert S.run_id("pretrain", a) == S.run_id("pretrain", a.model_dump())  # a dict is validated the same
    # a section whose only non-default field is the thread count (the demo config run with 2 threads,
    # as retest runs its priors) has the identity of the default thread count: it was {"pretrain": {}}
    demo = load_config(None, [])
    assert S.run_id("pretrain", demo) == S.run_id("pretrain", load_config(None, ["pretrain.threads=2"]))


def test_rl_id_follows_the_prior_identity_not_its_path(tmp_path):
    prior = fake_prior(tmp_path / "laptop")
    rid = S.run_id("rl", rl(prior / "model"))
    assert S.prior_identity(prior / "model") == f"run:{prior.name}/model"
    shutil.copytree(tmp_path / "laptop", tmp_path / "cluster")  # the same store elsewhere: the same ids
    assert S.run_id("rl", rl(tmp_path / "cluster" / prior.name / "model")) == rid
    loose = tmp_path / "loose"  # not a store run: the weights' content decides
    shutil.copytree(prior / "model", loose)
    before = S.run_id("rl", rl(loose))
    assert before != rid and S.run_id("rl", rl(shutil.copytree(loose, tmp_path / "moved"))) == before
    (loose / "model.safetensors").write_bytes(b"retrained")
    assert S.run_id("rl", rl(loose)) != before


def test_the_lock_admits_one_claimant_and_names_the_holder(tmp_path):
    cfg = load_config(None, TINY)
    with S.claim(tmp_path / "r", "pretrain", cfg) as rec:
        assert rec["status"] == "running" and S.run_status(tmp_path / "r") == "running"
        code = (f"from priorlab.store import RunLock\nRunLock({str(tmp_path / 'r')!r}).acquire()")
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
        assert other.returncode != 0 and "RunLockedError" in other.stderr
        assert f"pid {os.getpid()} on {S.HOST}" in other.stderr
        with pytest.raises(S.RunLockedError, match=f"pid {os.getpid()}"):
            S.RunLock(tmp_path / "r").acquire()
    assert not S.is_locked(tmp_path / "r") and S.run_status(tmp_path / "r") == "finished"


def test_statuses_failed_interrupted_crashed_and_resumable(tmp_path):
    cfg = load_config(None, TINY)
    with pytest.raises(ValueError), S.claim(tmp_path / "f", "pretrain", cfg):
        raise ValueError("boom")
    rec = S.describe(tmp_path / "f")
    assert (rec["status"], rec["error"], rec["resumable"]) == ("failed", "ValueError: boom", "start")
    with pytest.raises(KeyboardInterrupt), S.claim(tmp_path / "i", "pretrain", cfg):
        raise KeyboardInterrupt
    assert S.run_status(tmp_path / "i") == "interrupted"
    d = fake_store_run(tmp_path, "pretrain", cfg, status="running")  # killed: no lock, nothing recorded
    (d / "checkpoints" / "step-8").mkdir(parents=True)
    (d / "checkpoints" / "step-8" / "trainer_state.json").write_text("{}")
    seal(d / "checkpoints" / "step-8")  # a complete checkpoint (its manifest is written last)
    assert S.describe(d)["status"] == "crashed" and S.describe(d)["resumable"] == "step-8"


def test_run_reuses_a_finished_run_and_resumes_an_unfinished_one(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(S, "execute", lambda kind, cfg, out, resume, show: calls.append((out.name, resume)))
    done = fake_store_run(tmp_path, "pretrain", load_config(None, TINY))
    assert S.run("pretrain", load_config(None, TINY + ["pretrain.threads=2"]), tmp_path) == ("reused", done)
    crashed = fake_store_run(tmp_path, "pretrain", load_config(None, TINY + ["pretrain.seed=3"]), status="running")
    assert S.run("pretrain", load_config(None, TINY + ["pretrain.seed=3"]), tmp_path) == ("finished", crashed)
    assert calls == [(crashed.name, True)]
    assert S.read_record(crashed)["attempts"] == 1 and S.read_record(crashed)["resumed_from"] == "start"


def rl_store(tmp_path):
    """Four finished RL runs (2 rewards x 2 seeds) with known metrics and after-RL pass@k rows."""
    root = tmp_path / "store"
    prior = fake_prior(root)
    passk = {("correct", 0): [0.5, 0.7], ("correct", 1): [0.6, 0.8],
             ("random", 0): [0.1, 0.3], ("random", 1): [0.2, 0.2]}
    for (reward, seed), (p1, p64) in passk.items():
        d = fake_store_run(root, "rl", rl(prior / "model", f"seed={seed}", f"reward.weights={{{reward}: 1.0}}"))
        rows = [{"step": s, "kind": "train", "loss": s * (seed + 1.0)} for s in (1, 2)] + [{"step": 2, "kind": "probe"}]
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (d / "summary.json").write_text(json.dumps({"steps": 2, "wall_s": 1.5, "before": [], "after": []}))
        for stage, shift in (("before", -0.1), ("after", 0.0)):
            (d / stage / "eval").mkdir(parents=True)
            pq.write_table(pa.Table.from_pylist([
                {"split": "eval", "depth": 3, "context": "all", "format": "all", "metric": "verified", "k": k,
                 "pass_at_k": v + shift} for k, v in ((1, p1), (64, p64))]), d / stage / "eval" / "passk.parquet")
    return root, prior


def test_sql_over_runs_returns_the_right_numbers(tmp_path):
    root, prior = rl_store(tmp_path)
    cols, rows = query("SELECT reward_weights, avg(pass_at_k) AS mean, count(*) AS n FROM passk "
                       "JOIN runs USING (run_id) WHERE stage = 'after' AND k = 64 "
                       "GROUP BY reward_weights ORDER BY mean DESC", root)
    assert cols == ["reward_weights", "mean", "n"]
    assert [(r[0], round(r[1], 9), r[2]) for r in rows] == [('{"correct": 1.0}', 0.75, 2), ('{"random": 1.0}', 0.25, 2)]
    _, rows = query("SELECT seed, sum(loss) FROM metrics JOIN runs USING (run_id) WHERE kind = 'train' "
                    "GROUP BY seed ORDER BY seed", root)
    assert rows == [(0, 6.0), (1, 12.0)]  # (1 + 2) per run x 2 rewards, doubled for seed 1
    _, rows = query("SELECT DISTINCT prior_run, summary_steps, run_status FROM runs WHERE run_kind = 'rl'", root)
    assert rows == [(prior.name, 2, "finished")]
    _, rows = query("SELECT count(*) FROM passk WHERE stage = 'before'", root)
    assert rows == [(8,)]


def test_runs_cli_ls_show_query(tmp_path):
    root, _ = rl_store(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["runs", "ls", "--store", str(root), "--json"])
    runs = json.loads(res.output)
    assert res.exit_code == 0 and len(runs) == 5 and {r["status"] for r in runs} == {"finished"}
    rid = next(r["id"] for r in runs if r["kind"] == "rl")
    res = runner.invoke(app, ["runs", "show", rid[:10], "--store", str(root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["row"]["run_id"] == rid
    res = runner.invoke(app, ["runs", "query", "--store", str(root), "--json",
                              "SELECT count(*) AS n FROM runs WHERE run_kind = 'rl'"])
    assert res.exit_code == 0 and json.loads(res.output) == [{"n": 4}]
    res = runner.invoke(app, ["runs", "query", "--store", str(root), "SELECT nope FROM runs"])
    assert res.exit_code == 2 and "views: runs, metrics, passk, samples" in res.output
    res = runner.invoke(app, ["runs", "show", "rl-zzz", "--store", str(root)])
    assert res.exit_code == 2 and "matches no run" in res.output


def test_identity_ignores_new_defaulted_fields_but_not_removed_dict_keys():
    """Adding a config field whose default keeps today's behaviour must not change any run id
    (found when a new corpus knob re-keyed every finished run); a free-form dict is compared
    whole, so dropping one of its keys is a different run."""
    from pydantic import BaseModel, Field

    from priorlab.store import non_default

    class Inner(BaseModel):
        mix: dict[str, float] = Field(default_factory=lambda: {"a": 0.5, "b": 0.5})
        lr: float = 1e-3

    class Old(BaseModel):
        inner: Inner = Field(default_factory=Inner)
        seed: int = 0

    class New(Old):
        knob: float = 0.0

    assert non_default(Old(seed=3)) == non_default(New(seed=3)) == {"seed": 3}
    assert non_default(New(knob=0.1)) == {"knob": 0.1}
    assert non_default(Old(inner=Inner(mix={"a": 0.5}))) == {"inner": {"mix": {"a": 0.5}}}


def test_a_refused_rerun_leaves_a_finished_run_finished_and_reused(tmp_path, monkeypatch):
    """Rerunning a finished run without --resume is refused (ConfigError) and must not mark it
    failed: the store keeps reusing it instead of running it again."""
    from priorlab.pretrain import pretrain

    cfg = load_config(None, TINY)
    d = fake_store_run(tmp_path, "pretrain", cfg)
    (d / "checkpoints" / "step-8").mkdir(parents=True)
    (d / "checkpoints" / "step-8" / "trainer_state.pt").write_bytes(b"")
    before = S.read_record(d)
    with pytest.raises(ConfigError, match="pass --resume"), S.claim(d, "pretrain", cfg):
        pretrain(cfg, d, resume=False, show=False)
    assert S.read_record(d) == before and S.run_status(d) == "finished"
    monkeypatch.setattr(S, "execute", lambda *a, **k: pytest.fail("a finished run was run again"))
    assert S.run("pretrain", cfg, tmp_path) == ("reused", d)


def test_find_run_finds_only_runs_of_the_store(tmp_path, monkeypatch):
    """`priorlab runs show ../../..` treated a directory outside the store as a run."""
    root, _ = rl_store(tmp_path)
    outside = fake_store_run(tmp_path / "elsewhere", "pretrain", load_config(None, TINY))
    (root / "link").symlink_to(outside)
    run = next(d for d in root.iterdir() if d.name.startswith("rl-"))
    assert S.find_run(run.name[:12], root) == run and S.find_run(str(run), root) == run
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    S.write_record(tmp_path, {"id": tmp_path.name, "kind": "pretrain", "status": "finished"})
    monkeypatch.chdir(deep)
    for key in ("../../..", str(outside), str(root / "link"), "link"):
        with pytest.raises(ConfigError, match=f"run '{re.escape(key)}'.*store {re.escape(str(root))}"):
            S.find_run(key, root)
    assert "link" not in {r["id"] for r in S.list_runs(root)}
    res = CliRunner().invoke(app, ["runs", "show", "../../..", "--store", str(root)])
    assert res.exit_code == 2 and "not a run directory of the store" in res.output
