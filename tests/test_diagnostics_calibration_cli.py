import json

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from priorlab.cli import app


def test_calibration_of_a_prior_that_states_confidence(tiny_conf_prior, tmp_path):
    out = tmp_path / "c"
    res = CliRunner().invoke(app, ["calibration", str(tiny_conf_prior), "--out", str(out), "--depths", "2",
                                   "--n-problems", "4", "--n-samples", "4", "--metric", "answer",
                                   "--set", "eval.bootstrap=50", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["models"] == [str(tiny_conf_prior)] and doc["no_confidence"] == []
    by_depth = {r["depth"]: r for r in doc["metrics"]}
    assert set(by_depth) == {2, None} and by_depth[2]["n"] == 16 and by_depth[2]["n_problems"] == 4
    row = by_depth[None]
    assert row["conf_rate"] > 0.5 and 0.5 <= row["mean_confidence"] / row["conf_rate"] <= 1.0  # stated 50..100%
    assert row["ece_ci_low"] <= row["ece"] <= row["ece_ci_high"]
    assert sum(b["n"] for b in doc["bins"]) == 16
    assert pq.read_table(out / "calibration_metrics.parquet").num_rows == 2
    assert (out / "calibration.png").stat().st_size > 1000 and (out / "samples.parquet").exists()
    res = CliRunner().invoke(app, ["calibration", str(tiny_conf_prior), "--out", str(out), "--depths", "2",
                                   "--n-problems", "2", "--n-samples", "2", "--threads", "1", "--quiet"])
    assert res.exit_code == 0 and "ECE" in res.output


def test_no_confidence_is_a_clear_error(tiny_prior, tmp_path):
    res = CliRunner().invoke(app, ["calibration", str(tiny_prior[1]), "--out", str(tmp_path / "c"), "--depths", "2",
                                   "--n-problems", "2", "--n-samples", "2", "--threads", "1", "--quiet"])
    assert res.exit_code == 2 and "states a confidence" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "c" / "calibration.json").exists()


def _run_dir(path, before_q, after_q):
    """A constructed RL run directory: before/after band and eval samples with the given confidences."""
    for phase, q in (("before", before_q), ("after", after_q)):
        for name, split in (("band", "rl"), ("eval", "eval")):
            recs = [{"split": split, "depth": 4, "context": "letters", "index": i, "sample": s, "verified": s == 0,
                     "answer": s == 0, "confidence": q} for i in range(3) for s in range(2)]
            (path / phase / name).mkdir(parents=True)
            pq.write_table(pa.Table.from_pylist(recs), path / phase / name / "samples.parquet")
    return path


def test_calibration_reads_rl_run_before_and_after(tmp_path):
    run = _run_dir(tmp_path / "run", 0.5, None)
    res = CliRunner().invoke(app, ["calibration", str(run), "--out", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{"):])
    assert doc["models"] == [f"{run} (before)", f"{run} (after)"] and doc["no_confidence"] == [f"{run} (after)"]
    pooled = {(r["model"], r["split"]): r for r in doc["metrics"] if r["depth"] is None}
    before = pooled[(f"{run} (before)", "eval")]
    assert before["accuracy"] == 0.5 and before["brier"] == 0.25 and before["ece"] == 0.0 and before["auroc"] == 0.5
    assert pooled[(f"{run} (after)", "rl")]["conf_rate"] == 0.0
    assert "no completion of" in res.output  # the note (stderr) for the run's after/ samples
