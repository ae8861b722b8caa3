"""benchmarks/gold_trace_logp.py on the tiny prior: persistent failures read from a constructed
before/eval, gold traces scored teacher-forced against a hand computation."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gold_trace_logp import trace_logp  # noqa: E402


def test_persistent_failures_are_scored_by_their_gold_traces(tiny_prior, tmp_path):
    from priorlab.evaluate import world_for
    from priorlab.model import load_model
    from priorlab.tokenizer import load_tokenizer

    _, model_dir = tiny_prior
    run = tmp_path / "rl-x"
    (run / "before" / "eval").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"prior": str(model_dir)}))
    # problems 0 and 1 never verified (persistent failures); problem 2 verified once: not scored
    recs = [{"split": "eval", "depth": 3, "context": None, "index": i, "sample": j, "text": "x",
             "verified": i == 2 and j == 0, "answer": False} for i in range(3) for j in range(2)]
    world = world_for(model_dir)
    recs = [r | {"context": world.problem("eval", r["index"], 3).context} for r in recs]
    pq.write_table(pa.Table.from_pylist(recs), run / "before" / "eval" / "samples.parquet")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gold_trace_logp.py"), str(run), str(model_dir), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")}).stdout
    row = json.loads(out.strip().splitlines()[-1])
    model, tok = load_model(model_dir).eval(), load_tokenizer(model_dir)
    lps = [trace_logp(model, tok, world, world.problem("eval", i, 3, recs[2 * i]["context"]))[0] for i in (0, 1)]
    assert row["problems"] == 2
    assert abs(row["mean_token_logp"] - torch.cat(lps).mean().item()) < 1e-4
    assert abs(row["median_worst_token_logp"] - sum(float(lp.min()) for lp in lps) / 2) < 1e-4
    assert row["median_worst_token_logp"] <= row["mean_token_logp"] and 0 < row["worst_token_preferred_share"] <= 1
