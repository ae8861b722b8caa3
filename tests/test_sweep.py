"""Sweeps: YAML expansion and validation, the local executor (retries, failures, resume, reuse),
the Ray executor on a local Ray instance."""

import json

import pytest
import yaml

from priorlab import store as S
from priorlab.catalog import query
from priorlab.config import ConfigError, load_config
from priorlab.rl.config import RLConfig
from priorlab.sweep import Job, run_jobs
from priorlab.sweep_spec import expand
from tests.conftest import TINY


def write(tmp_path, doc: dict):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def tiny_job(*sets, name=None):
    return Job("pretrain", load_config(None, TINY + list(sets)), threads=1, name=name)


def test_grid_zip_seeds_expand_into_validated_jobs(tmp_path):
    path = write(tmp_path, {"kind": "rl", "prior": "runs/demo/model", "set": {"steps": 5},
                            "grid": {"reward.weights": [{"correct": 1.0}, {"random": 1.0}],
                                     "algo.advantage": ["grpo", "rloo"]},
                            "zip": {"optim.lr": [1e-5, 3e-5], "algo.kl_coef": [0.0, 0.1]},
                            "seeds": [0, 1], "threads": 2})
    jobs = expand(path)
    assert len(jobs) == 2 * 2 * 2 * 2 and all(j.threads == 2 and j.kind == "rl" for j in jobs)
    first = jobs[0].config
    assert (first.steps, first.prior, first.reward.weights, first.algo.advantage, first.optim.lr, first.seed) == \
        (5, "runs/demo/model", {"correct": 1.0}, "grpo", 1e-5, 0)
    assert [j.config.algo.kl_coef for j in jobs[:4]] == [0.0, 0.0, 0.1, 0.1]  # zip rows x seeds, innermost seeds
    assert jobs[1].name == 'reward.weights={"correct":1.0} algo.advantage=grpo optim.lr=1e-05 algo.kl_coef=0.0 seed=1'
    assert len({S.run_id("rl", j.config) for j in jobs}) == 16


@pytest.mark.parametrize("doc, message", [
    ({"kind": "rl", "grid": {"algo.advantag": ["grpo"]}}, "Did you mean 'advantage'"),
    ({"kind": "rl", "zip": {"seed": [0, 1], "steps": [1]}}, "equal lengths"),
    ({"kind": "rl", "gird": {"seed": [0]}}, "Did you mean 'grid'"),
    ({"kind": "prior"}, "kind"),
    ({"kind": "pretrain", "grid": {"pretrain.threads": [1, 2]}}, "same run"),
])
def test_bad_sweeps_fail_before_anything_runs(tmp_path, doc, message):
    with pytest.raises(ConfigError, match=message):
        jobs = expand(write(tmp_path, doc))
        run_jobs(jobs, store=tmp_path / "store", show=False)
    assert not (tmp_path / "store").exists()


def test_local_executor_runs_retries_reports_and_reuses(tmp_path):
    store = tmp_path / "store"
    good = tiny_job(name="good")
    crashed = store / S.run_id("pretrain", good.config)  # a run killed before it wrote anything: resumed
    crashed.mkdir(parents=True)
    S.write_record(crashed, {"id": crashed.name, "kind": "pretrain", "status": "running", "attempts": 1})
    bad = Job("rl", load_config(None, ["prior=/nonexistent/prior"], model=RLConfig), name="bad")
    res = run_jobs([good, bad], executor="local", workers=2, retries=1, store=store, show=False,
                   sweep_dir=tmp_path / "sw")
    assert [(r.status, r.attempts) for r in res] == [("finished", 1), ("failed", 2)]
    assert res[0].run_dir == crashed and S.read_record(crashed)["attempts"] == 2
    assert "not a model directory" in res[1].error
    assert S.read_record(res[1].run_dir)["error"] == res[1].error
    rows = json.loads((tmp_path / "sw" / "sweep.json").read_text())["jobs"]
    assert [(r["name"], r["status"]) for r in rows] == [("good", "finished"), ("bad", "failed")]
    assert rows[1]["error"] == res[1].error
    again = run_jobs([tiny_job("pretrain.threads=2")], store=store, show=False)  # threads do not make a new run
    assert [(r.status, r.attempts) for r in again] == [("reused", 0)]
    _, n = query("SELECT count(*) FROM passk WHERE stage = 'prior' AND k = 4 AND metric = 'verified' "
                 "AND format = 'all' AND context = 'all'", store)
    assert n == [(2,)]  # depths 2 and 6 of TINY's eval


def test_ray_executor_on_a_local_instance(tmp_path):
    pytest.importorskip("ray")
    res = run_jobs([tiny_job("pretrain.seed=1")], executor="ray", workers=1, store=tmp_path, show=False)
    assert res[0].status == "finished" and (res[0].run_dir / "summary.json").exists()
    assert S.read_record(res[0].run_dir)["status"] == "finished"
