import json
import shutil

import pyarrow.parquet as pq
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from priorlab.cli import app


def _perturbed_copy(model_dir, dst, frac=0.3):
    """``dst``: the model with exactly ``frac`` of every tensor's entries shifted by 0.01."""
    shutil.copytree(model_dir, dst)
    state = load_file(dst / "model.safetensors")
    g = torch.Generator().manual_seed(0)
    for k, t in state.items():
        flat = t.flatten().clone()
        flat[torch.randperm(flat.numel(), generator=g)[: round(frac * flat.numel())]] += 0.01
        state[k] = flat.view_as(t)
    save_file(state, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_diff_reports_the_planted_30_percent(tiny_prior, tmp_path):
    _, model_dir = tiny_prior
    other = _perturbed_copy(model_dir, tmp_path / "b")
    res = CliRunner().invoke(app, ["diff", str(model_dir), str(other), "--out", str(tmp_path / "d"),
                                   "--other", str(other), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    overall = {(r["dtype"], r["tol"]): r["changed_frac"] for r in doc["sparsity"] if r["scope"] == "overall"}
    assert abs(overall[("fp32", 0.0)] - 0.3) < 1e-3 and abs(overall[("fp32", 1e-4)] - 0.3) < 1e-3
    assert all(r["o1"] == 1.0 for r in doc["overlap"])
    assert pq.read_table(tmp_path / "d" / "diff_sparsity.parquet").num_rows == len(doc["sparsity"])
    assert (tmp_path / "d" / "diff.png").stat().st_size > 1000
    res = CliRunner().invoke(app, ["diff", str(model_dir), str(model_dir), "--out", str(tmp_path / "d2")])
    assert res.exit_code == 0 and "parameters changed" in res.output


def test_diff_of_different_architectures_is_one_line_error(tiny_prior, tmp_path):
    _, model_dir = tiny_prior
    b = shutil.copytree(model_dir, tmp_path / "b")
    state = load_file(b / "model.safetensors")
    state["lm_head.weight"] = torch.zeros(3, 3)
    save_file(state, b / "model.safetensors")
    res = CliRunner().invoke(app, ["diff", str(model_dir), str(b), "--out", str(tmp_path / "d")])
    assert res.exit_code == 2 and "'lm_head.weight' has shape" in res.output and "Traceback" not in res.output


def test_passk_compares_a_prior_with_itself(tiny_prior, tmp_path):
    _, model_dir = tiny_prior
    res = CliRunner().invoke(app, ["passk", str(model_dir), str(model_dir), "--out", str(tmp_path / "p"),
                                   "--depths", "2", "--n-problems", "3", "--n-samples", "4", "--metric", "answer",
                                   "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["checkpoints"] == [str(model_dir), f"{model_dir}#2"]
    assert {r["k"] for r in doc["curves"]} == {1, 2, 4}
    assert all(r["diff_ref"] == 0.0 for r in doc["curves"])  # same model, same seeds: identical samples
    assert all(c["crossover_k"] is None and c["n_only_ref"] == c["n_only_model"] == 0 for c in doc["comparisons"])
    assert pq.read_table(tmp_path / "p" / "samples.parquet").num_rows == 2 * 3 * 4
    assert (tmp_path / "p" / "passk.png").stat().st_size > 1000
    res = CliRunner().invoke(app, ["passk", str(model_dir), "--out", str(tmp_path / "q"), "--depths", "2",
                                   "--n-problems", "2", "--n-samples", "2", "--threads", "1", "--quiet"])
    assert res.exit_code == 0 and "crossover k" in res.output


def test_probe_contamination_on_world_items_and_jsonl(tiny_prior, tmp_path):
    _, model_dir = tiny_prior
    res = CliRunner().invoke(app, ["probe", "contamination", str(model_dir), "--out", str(tmp_path / "c"),
                                   "--depths", "2", "--n-problems", "2", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "eval-contaminated" in res.output and (tmp_path / "c" / "contamination.png").exists()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"question": "a 1 ; b 2 ; c = a 1 + b 2 ; ? c", "answer": "c 3"}) + "\n")
    res = CliRunner().invoke(app, ["probe", "contamination", str(model_dir), "--out", str(tmp_path / "j"),
                                   "--items", str(items), "--fractions", "0.5", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["summary"]
    assert (row["split"], row["fraction"], row["n_items"]) == ("items", 0.5, 1)
    res = CliRunner().invoke(app, ["probe", "contamination", str(model_dir), "--out", str(tmp_path / "k"),
                                   "--items", str(items), "--mode", "guess"])
    assert res.exit_code == 2 and "mode 'guess'" in res.output
