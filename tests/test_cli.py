import json

import pyarrow.parquet as pq
from transformers import AutoModelForCausalLM, AutoTokenizer
from typer.testing import CliRunner

from priorlab.cli import app
from tests.conftest import TINY

ROW_KEYS = {"split", "depth", "format", "metric", "k", "pass_at_k", "ci_low", "ci_high", "chance",
            "in_distribution", "n_problems", "n_samples"}


def _sets():
    return [a for s in TINY for a in ("--set", s)]


def test_demo_end_to_end_writes_the_contract(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet", *_sets()])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    AutoModelForCausalLM.from_pretrained(summary["checkpoint"])
    AutoTokenizer.from_pretrained(summary["checkpoint"])
    rows = summary["passk"]
    assert rows and all(ROW_KEYS <= set(r) for r in rows)
    assert {r["metric"] for r in rows} == {"verified", "answer"}
    assert {r["k"] for r in rows} == {1, 2, 4}
    assert {(r["depth"], r["in_distribution"]) for r in rows} == {(2, True), (6, False)}
    assert {"all", "steps", "code", "answer"} <= {r["format"] for r in rows}
    assert all(r["ci_low"] <= r["pass_at_k"] + 1e-9 and r["pass_at_k"] <= r["ci_high"] + 1e-9 for r in rows)
    assert summary["guessing"]["uniform_pass_at_1"] < 0.01
    assert len(pq.read_table(out / "eval" / "samples.parquet")) == 2 * 3 * 4
    assert (out / "eval" / "passk.png").stat().st_size > 1000 and (out / "corpus.json").exists()
    assert "pass@k (" in res.output


def test_eval_command_and_json(tiny_prior, tmp_path):
    _, model_dir = tiny_prior
    res = CliRunner().invoke(app, ["eval", str(model_dir), "--out", str(tmp_path / "ev"), "--depths", "3",
                                   "--splits", "eval,eval-contaminated", "--n-problems", "2",
                                   "--n-samples", "2", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert {r["split"] for r in summary["passk"]} == {"eval", "eval-contaminated"}
    assert pq.read_table(tmp_path / "ev" / "passk.parquet").num_rows == len(summary["passk"])


def test_errors_are_one_line_with_exit_code_2(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--set", "corpus.formats.stepz=1"])
    assert res.exit_code == 2 and "Did you mean 'steps'" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a model directory" in res.output


def test_world_show():
    res = CliRunner().invoke(app, ["world", "show", "--n", "1", "--context", "animals"])
    assert res.exit_code == 0 and "verified=True" in res.output


def test_rl_cli_writes_the_summary_contract(tiny_prior, tmp_path):
    from tests.test_rl_trainer import SMALL

    out = tmp_path / "rl"
    sets = [a for s in SMALL + ["final.splits=[eval]"] for a in ("--set", s)]
    res = CliRunner().invoke(app, ["rl", "--prior", str(tiny_prior[1]), "--out", str(out), "--quiet", *sets])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert {"prior", "checkpoint", "before", "after"} <= set(summary)
    AutoModelForCausalLM.from_pretrained(summary["checkpoint"])
    for when in ("before", "after"):
        rows = summary[when]
        assert rows and all(ROW_KEYS <= set(r) for r in rows)
        assert {r["split"] for r in rows} == {"rl", "eval"}
    key = lambda r: (r["split"], r["depth"], r["format"], r["context"], r["metric"], r["k"])  # noqa: E731
    assert sorted(map(key, summary["before"])) == sorted(map(key, summary["after"]))
    assert (out / "training.png").exists() and (out / "metrics.jsonl").exists()
    bad = CliRunner().invoke(app, ["rl", "--prior", str(tiny_prior[1]), "--out", str(tmp_path / "x"), "-c", "gpro"])
    assert bad.exit_code == 2 and "Did you mean 'grpo'" in bad.output
    bad = CliRunner().invoke(app, ["rl", "--prior", str(tmp_path / "nope"), "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "--prior" in bad.output
