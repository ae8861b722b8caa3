"""benchmarks/completion_collapse.py on a constructed run directory (known lost / kept problems)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def write(run: Path, when: str, samples: dict[int, list[tuple[str, bool]]]) -> None:
    """``run/when/eval/samples.parquet`` holding ``{problem index: [(text, verified) per sample]}``."""
    recs = [{"split": "eval", "depth": 4, "context": "letters", "index": i, "sample": j, "text": t, "verified": v,
             "answer": v, "truncated": False, "n_tokens": len(t.split())}
            for i, texts in samples.items() for j, (t, v) in enumerate(texts)]
    (run / when / "eval").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(recs), run / when / "eval" / "samples.parquet")


def test_lost_and_kept_problems_and_their_concentration(tmp_path):
    run = tmp_path / "rl-x"
    # problem 0: the prior solved it once in 4 diverse samples, the trained model repeats one wrong text: lost;
    # problem 1: kept (solved before and after); problem 2: never solved (neither lost nor kept)
    write(run, "before", {0: [("a", True), ("b", False), ("c", False), ("d", False)],
                          1: [("r", True), ("s", False), ("s", False), ("t", False)],
                          2: [("x", False)] * 4})
    write(run, "after", {0: [("b", False)] * 3 + [("c", False)],
                         1: [("r", True)] * 4,
                         2: [("x", False)] * 4})
    cmd = [sys.executable, str(ROOT / "benchmarks" / "completion_collapse.py"), str(run), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")}).stdout
    row = json.loads(out.strip().splitlines()[-1])
    assert (row["problems"], row["lost"], row["kept"]) == (3, 1, 1)
    assert row["lost_before"] == {"modal_share": 0.25, "distinct": 4}
    assert row["lost_after"] == {"modal_share": 0.75, "distinct": 2}
    assert row["kept_before"] == {"modal_share": 0.5, "distinct": 3} and row["kept_after"]["modal_share"] == 1.0
