"""Sweeps: YAML expansion and validation, the local executor (retries, failures, resume, reuse),
the Ray executor on a local Ray instance."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from priorlab import store as S
from priorlab.catalog import query
from priorlab.config import ConfigError, load_config
from priorlab.errors import IncompleteError
from priorlab.rl.config import RLConfig
from priorlab.executors import attempt
from priorlab.sweep import Job, JobResult, run_jobs
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
                   sweep_dir=tmp_path / "sw", strict=False)
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


def test_jobs_of_mixed_threads_are_packed_into_the_cores(tmp_path, monkeypatch):
    """A re-test stage that held a 2-thread prior and one-thread replicas ran them one job at a
    time (workers // the largest threads), a core idle beside every replica. Jobs are now packed
    into the cores by their threads: the 2-thread job alone, the one-thread jobs two at a time."""
    import time

    import priorlab.executors as X
    import priorlab.sweep as sweep
    from priorlab.claims import CLAIMS, SCALES
    from priorlab.claims.retest import run_all

    lock, running, seen = threading.Lock(), [], []

    def fake(payload, log, threads):
        with lock:
            running.append(threads)
            seen.append(sorted(running))
        time.sleep(0.3)
        with lock:
            running.remove(threads)
        return {"status": "finished"}

    monkeypatch.setattr(X, "attempt", fake)
    jobs = [Job("pretrain", load_config(None, TINY + ["pretrain.seed=9"]), threads=2, name="wide")]
    jobs += [tiny_job(f"pretrain.seed={s}", name=f"narrow {s}") for s in range(4)]
    res = run_jobs(jobs, cores=2, store=tmp_path / "store", show=False)
    assert [r.status for r in res] == ["finished"] * 5
    assert [2] in seen and [1, 1] in seen and all(sum(s) <= 2 for s in seen), seen
    asked = []
    monkeypatch.setattr(sweep, "run_jobs", lambda jobs, **kw: asked.append(kw) or [
        JobResult(j, tmp_path / "store" / j.kind, "failed", "not run here") for j in jobs])
    run_all([CLAIMS.get("C1")()], SCALES["tiny"], "local", 2, tmp_path / "store", False)
    assert asked and all(kw["cores"] == 2 for kw in asked)


def hold(run_dir, seconds: float, sets=()):
    """A second process that claims ``run_dir`` (as a pretrain run of TINY + ``sets``) for
    ``seconds``, then records it finished; returns once it holds the lock."""
    code = ("import sys, time\nfrom priorlab import store as S\nfrom priorlab.config import load_config\n"
            "from tests.conftest import TINY\n"
            f"with S.claim({str(run_dir)!r}, 'pretrain', load_config(None, TINY + {list(sets)!r})):\n"
            f"    print('held', flush=True)\n    time.sleep({seconds})\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_job_another_process_holds_is_waited_for_then_reused(tmp_path):
    """Two sweeps on one store listed each other's jobs as failed ("already running")."""
    job = tiny_job("pretrain.seed=5", name="shared")
    run_dir = tmp_path / "store" / S.run_id("pretrain", job.config)
    other = hold(run_dir, 2.0, ["pretrain.seed=5"])
    res = run_jobs([job], store=tmp_path / "store", show=False, sweep_dir=tmp_path / "sw")
    assert other.wait() == 0
    assert [(r.status, r.attempts, r.error) for r in res] == [("reused", 0, None)]
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["jobs"][0]["status"] == "reused"


def test_a_held_job_is_reported_elsewhere_not_failed_and_taken_over_after_a_crash(tmp_path):
    """``wait=False``: the job ends as ``elsewhere`` with the holder's pid, the sweep raises
    IncompleteError, nothing says failed; once the holder is killed, a waiting sweep takes the
    run over (here a job that fails fast on its missing prior: it ran in this sweep)."""
    store = tmp_path / "store"
    job = tiny_job("pretrain.seed=6", name="held")
    run_dir = store / S.run_id("pretrain", job.config)
    other = hold(run_dir, 600, ["pretrain.seed=6"])
    with pytest.raises(IncompleteError, match="1 elsewhere of 1 jobs"):
        run_jobs([job], store=store, show=False, sweep_dir=tmp_path / "sw", wait=False)
    row = json.loads((tmp_path / "sw" / "sweep.json").read_text())["jobs"][0]
    assert row["status"] == "elsewhere" and f"pid {other.pid} on {S.HOST}" in row["error"]
    assert S.read_record(run_dir)["status"] == "running" and S.run_status(run_dir) == "running"
    other.kill()
    other.wait()
    assert S.run_status(run_dir) == "crashed"
    bad = Job("rl", load_config(None, ["prior=/nonexistent/prior"], model=RLConfig), name="bad")
    bad_dir = store / S.run_id("rl", bad.config)
    other = hold(bad_dir, 600)
    threading.Timer(1.5, other.kill).start()
    res = run_jobs([bad], store=store, show=False, retries=0, strict=False)
    assert [(r.status, r.attempts) for r in res] == [("failed", 1)] and "not a model directory" in res[0].error
    assert S.read_record(bad_dir)["attempts"] == 2  # the killed holder's attempt, then this sweep's


def test_an_attempt_that_finds_its_run_claimed_reports_elsewhere(tmp_path):
    """A run claimed between the sweep's check and the job process's claim: the job process
    says ``elsewhere`` (exit 0) and writes nothing."""
    cfg = load_config(None, TINY)
    run_dir = tmp_path / S.run_id("pretrain", cfg)
    with S.claim(run_dir, "pretrain", cfg):
        before = S.read_record(run_dir)
        payload = {"kind": "pretrain", "config": cfg.model_dump(mode="json"), "store": str(tmp_path), "threads": 1}
        res = attempt(payload, str(tmp_path / "job.log"), 1)
        assert res["status"] == "elsewhere" and f"pid {os.getpid()} on {S.HOST}" in res["error"]
        assert S.read_record(run_dir) == before


def test_retest_marks_claims_without_runs_not_run_and_raises(tmp_path, monkeypatch):
    """A second retest on a busy store wrote "inconclusive, 0 seeds" and exited 0: a claim
    whose runs did not finish is ``not run`` (with the holder in its reason), and the call
    raises IncompleteError after writing the report."""
    import priorlab.sweep as sweep
    from priorlab.claims.result import load_results
    from priorlab.claims.retest import retest

    def busy(jobs, **kw):
        return [JobResult(j, tmp_path / "store" / j.kind, "elsewhere", "running elsewhere: pid 7 on box") for j in jobs]

    monkeypatch.setattr(sweep, "run_jobs", busy)
    with pytest.raises(IncompleteError, match=r"1 of 1 claims not run \(C4\), 1 of 1 jobs did not finish"):
        retest(["C4"], "tiny", tmp_path / "out", store=tmp_path / "store", show=False)
    [res] = load_results(tmp_path / "out")
    assert (res.verdict, res.seeds, res.effect) == ("not run", 0, None)
    assert "pid 7 on box" in res.reason and "prior" in res.reason
    assert json.loads((tmp_path / "out" / "verdicts.json").read_text())[0]["verdict"] == "not run"


def test_retest_status_surveys_the_store_and_estimates_what_is_left(tmp_path):
    """`retest --status` runs and writes nothing: it names each run's state (an arm waits for its
    prior) and prices what is left from finished runs of the same arm, less what a checkpoint holds."""
    from priorlab.claims import CLAIMS, SCALES
    from priorlab.checkpoint import FORMAT, MANIFEST
    from priorlab.claims.survey import left, readiness, summary, survey

    claims, scale, store = [CLAIMS.get("C4")()], SCALES["tiny"], tmp_path / "store"
    rows = survey(claims, scale, store)
    assert not store.exists() or not any(store.iterdir())
    [prior] = [r for r in rows if r["kind"] == "prior"]
    arms = [r for r in rows if r["kind"] != "prior"]
    assert prior["status"] == "not started" and arms and {r["status"] for r in arms} == {"waiting"}
    assert readiness(claims, scale, rows) == [f"C4: 0 of {len(rows)} runs settled — not ready"]
    def record(path, **rec):
        Path(path).mkdir(parents=True, exist_ok=True)
        S.write_record(Path(path), rec)

    record(prior["path"], status="finished", wall_s=100.0)
    arms = [r for r in survey(claims, scale, store) if r["kind"] != "prior"]
    assert {r["status"] for r in arms} == {"not started"} and left(arms) == (0.0, 0, len(arms))
    done, cut = Path(arms[0]["path"]), Path(arms[1]["path"])
    record(done, status="finished", wall_s=10.0)
    record(cut, status="interrupted")
    ckpt = cut / "checkpoints" / f"step-{arms[1]['steps'] // 2}"  # a complete (empty) checkpoint
    ckpt.mkdir(parents=True)
    (ckpt / MANIFEST).write_text(json.dumps({"format": FORMAT, "files": {}}))
    rows = survey(claims, scale, store)
    by = {r["path"]: r for r in rows if r["path"]}
    assert by[str(done)]["status"] == "finished" and by[str(cut)]["status"] == "interrupted"
    assert "resumes from step" in by[str(cut)]["detail"]
    rest = len(arms) - 2
    assert left(rows) == pytest.approx((10.0 * (rest + 1 - (arms[1]["steps"] // 2) / arms[1]["steps"]), rest + 1, 0))
    assert "1 interrupted" in summary(rows, 2)
    assert readiness(claims, scale, rows) == [
        f"C4: 2 of {len(rows)} runs settled — judgeable now, some runs still to go"]
    from typer.testing import CliRunner

    from priorlab.cli import app

    res = CliRunner().invoke(app, ["retest", "C4", "--scale", "tiny", "--status", "--store", str(store)],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "1 interrupted" in res.output and "resumes from step" in res.output, res.output


def test_retest_status_prices_a_run_by_its_threads_and_a_waiting_arm_by_its_steps(tmp_path):
    """A one-thread replica used to be priced at the two-thread demo prior's wall (same kind and
    steps), and an arm still waiting for its prior had no steps, so nothing priced it."""
    from priorlab.claims import CLAIMS, SCALES
    from priorlab.claims.survey import left, survey

    def row(spec, status, threads, wall_s=None):
        return {"spec": spec, "kind": "prior", "steps": 2000, "threads": threads, "status": status,
                "wall_s": wall_s, "done": 0.0}

    demo = row("demo", "finished", 2, 400.0)
    assert left([demo, row("edge@s0", "not started", 1)]) == (0.0, 0, 1)
    done = row("edge@s1", "finished", 1, 500.0)
    assert left([demo, done, row("edge@s0", "not started", 1), row("demo-b", "not started", 2)]) == (1300.0, 2, 0)
    rows = survey([CLAIMS.get("C4")()], SCALES["tiny"], tmp_path / "store")
    waiting = [r for r in rows if r["status"] == "waiting"]
    assert waiting and all(r["steps"] and r["threads"] == 1 for r in waiting)


def test_sigterm_stops_the_job_processes_instead_of_orphaning_them(tmp_path):
    """A scheduler's SIGTERM to a sweep used to kill only the sweep: its job processes (own
    sessions) ran on, holding cores and run locks. Now they are interrupted and resumable."""
    import signal
    import time

    store = tmp_path / "store"
    job = tiny_job("pretrain.tokens=4000000", name="long")
    run_dir = store / S.run_id("pretrain", job.config)
    script = ("import sys; from priorlab.config import load_config; from priorlab.sweep import Job, run_jobs; "
              "from tests.conftest import TINY; "
              f"run_jobs([Job('pretrain', load_config(None, TINY + ['pretrain.tokens=4000000']), threads=1)], "
              f"store={str(store)!r}, show=False, strict=False)")
    sweep = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    deadline = time.monotonic() + 120
    # the job takes the run's lock before it writes run.json: wait for both (reading the record in
    # between was a race, seen once in 540 runs of the suite)
    while time.monotonic() < deadline and not (S.run_status(run_dir) == "running" and S.read_record(run_dir)):
        time.sleep(0.5)
    assert S.run_status(run_dir) == "running"
    child = S.read_record(run_dir)["pid"]
    sweep.send_signal(signal.SIGTERM)
    sweep.wait(timeout=60)
    time.sleep(1)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the job process is gone, not orphaned
    assert S.run_status(run_dir) in ("interrupted", "crashed")  # both resume


def test_a_sweep_logged_to_a_file_prints_a_line_per_job_change(tmp_path, capsys):
    """Not on a terminal (a log file under nohup), the live table would print only at the end:
    one timestamped line per status change instead, the counts first, the final table last."""
    store = tmp_path / "store"
    run_jobs([tiny_job(name="good")], workers=1, store=store, show=True)
    out = capsys.readouterr().out
    assert "sweep of 1 jobs: 0 reused, 1 to run" in out
    assert "running good (" in out and "finished good (" in out and "[1/1 done]" in out
    assert out.index("finished good") < out.index("sweep: 1/1 done")  # the table comes last
    run_jobs([tiny_job(name="good")], workers=1, store=store, show=True)
    again = capsys.readouterr().out
    assert "sweep of 1 jobs: 1 reused, 0 to run" in again and "finished good" not in again
