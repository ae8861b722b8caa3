"""How far is each model from the gold solutions of the problems the prior never solved? A research
script, run on demand.

For an RL run directory, takes the held-out problems of its ``before/eval`` samples on which the
prior verified none (its persistent failures), renders each one's gold solution in the ``steps``
format, and scores it teacher-forced under each model, conditioned on the question alone: the mean
token log p, the median over problems of the whole trace's log p, and the median of its least likely
token's log p, and what the model would write there instead, most often, with its share of the
problems (docs/claims.md, C12's positive control: the prior ends its trace with ``<ans>`` where a
6th step is due):

    python benchmarks/gold_trace_logp.py runs/store/rl-HASH [MODEL_DIR ...] [--json]

Models default to the run's prior and the run's own ``model/``. One thread; no sampling.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

import torch
import yaml

from priorlab.claims.measure import by_problem, records
from priorlab.evaluate import world_for
from priorlab.model import load_model
from priorlab.tokenizer import EOS, load_tokenizer


def persistent_failures(run: Path, world) -> list:
    """The prior's held-out problems with no verified sample in the run's ``before/eval``."""
    groups = by_problem(records(run, "before"))
    failed = [rs[0] for rs in groups.values() if not any(r["verified"] for r in rs)]
    return [world.problem(r["split"], int(r["index"]), int(r["depth"]), r["context"]) for r in failed]


def trace_logp(model, tok, world, problem) -> tuple[torch.Tensor, list[int]]:
    """Per-token log p [T] of the gold steps trace (and its EOS) after the question, and the
    model's preferred id at each position."""
    q = tok(world.model_input(problem), add_special_tokens=False)["input_ids"]
    a = tok(f"{world.render_solution(problem, 'steps')} {EOS}", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([q + a])).logits[0, len(q) - 1:-1].float(), -1)
    return lp[torch.arange(len(a)), torch.tensor(a)], lp.argmax(-1).tolist()


def score(path: Path, tok, world, problems: list) -> dict:
    """One model's distance from the gold traces of ``problems``."""
    model = load_model(path).eval()
    tokens, traces, worst, prefers = [], [], [], Counter()
    for p in problems:
        lp, preferred = trace_logp(model, tok, world, p)
        i = int(lp.argmin())
        tokens += lp.tolist()
        traces.append(float(lp.sum()))
        worst.append(float(lp[i]))
        prefers[tok.decode([preferred[i]])] += 1
    return {"model": str(path), "problems": len(problems), "mean_token_logp": statistics.fmean(tokens),
            "median_trace_logp": statistics.median(traces), "median_worst_token_logp": statistics.median(worst),
            "worst_token_preferred": (mode := prefers.most_common(1)[0])[0],
            "worst_token_preferred_share": mode[1] / len(problems)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="RL run directory with config.yaml, before/eval and model/")
    ap.add_argument("models", nargs="*", type=Path, help="HF model dirs (default: the run's prior and model/)")
    ap.add_argument("--json", action="store_true", help="one JSON object per model instead of a line")
    args = ap.parse_args()
    torch.set_num_threads(1)
    prior = Path(yaml.safe_load((args.run / "config.yaml").read_text())["prior"])
    world, tok = world_for(prior), load_tokenizer(prior)
    problems = persistent_failures(args.run, world)
    if not problems:
        raise SystemExit(f"{args.run}: the prior verified a sample on every held-out problem; nothing to score")
    for path in args.models or [prior, args.run / "model"]:
        row = score(path, tok, world, problems)
        print(json.dumps(row) if args.json else
              f"{path}: {row['problems']} problems; mean token log p {row['mean_token_logp']:.3f}, median trace "
              f"log p {row['median_trace_logp']:.1f}, median least likely token {row['median_worst_token_logp']:.2f} "
              f"(where the model would write {row['worst_token_preferred']!r} on "
              f"{row['worst_token_preferred_share']:.0%})")


if __name__ == "__main__":
    main()
