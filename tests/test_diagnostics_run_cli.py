"""``priorlab formats``, ``entropy`` and ``shortcuts`` on a tiny RL run made in the session."""

import json
import shutil

from typer.testing import CliRunner

from priorlab.cli import app


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_formats_command(tiny_rl_run, tmp_path):
    res = _run("formats", tiny_rl_run, "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {r["step"] for r in doc["trajectory"] if r["source"] == "rollouts"} == {1, 2}
    assert {r["step"] for r in doc["trajectory"] if r["source"] == "probe"} == {0, 1, 2}
    for ev in ("band", "eval"):
        rows = [r for r in doc["contribution"] if r["eval"] == ev]
        assert sum(r["n"] for r in rows) == (1 if ev == "band" else 2) * 3 * 2  # depths x problems x samples
    assert (tmp_path / "formats.png").stat().st_size > 1000 and (tmp_path / "formats_contribution.parquet").exists()
    res = _run("formats", tiny_rl_run, "--out", tmp_path / "t")
    assert res.exit_code == 0 and "format_before" in res.output


def test_entropy_command(tiny_rl_run, tmp_path):
    res = _run("entropy", tiny_rl_run, "--out", tmp_path, "--n-problems", 2, "--n-samples", 2, "--threads", 1,
               "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["roles"]
    assert sorted({r["step"] for r in rows}) == [0, 1, 2]  # prior + two checkpoints
    step0 = {r["role"]: r for r in rows if r["step"] == 0}
    assert abs(sum(r["token_share"] for r in step0.values()) - 1) < 1e-9
    assert set(step0) == {"plan", "compute", "answer", "other", "unparsed"}  # the tiny prior writes mostly noise
    assert sum(r["n_tokens"] for r in step0.values()) > 0
    assert (tmp_path / "entropy.png").exists()


def test_shortcuts_command(tiny_rl_run, tmp_path):
    res = _run("shortcuts", tiny_rl_run, "--out", tmp_path, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    groups = {(r["eval"], r["phase"], r["depth"]) for r in doc["detectors"]}
    assert groups >= {("eval", "after", 3), ("band", "before", 2)}
    assert {(r["eval"], r["depth"]) for r in doc["regression"]} == {("band", 2), ("eval", 2)}
    assert (tmp_path / "shortcuts.png").exists()


def test_run_dir_without_before_after_is_one_line_error(tiny_rl_run, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_rl_run, bare, ignore=shutil.ignore_patterns("before", "after", "checkpoints"))
    for cmd in ("formats", "shortcuts", "entropy"):
        res = _run(cmd, bare, "--out", tmp_path / cmd)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert ("no before/ and after/" if cmd != "entropy" else "holds no step-N model") in res.output
