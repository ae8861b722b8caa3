"""Anatomy of a prior on (or off) the arithmetic plateau: the research pass of docs/pretraining.md.

For priors of the ``arith_dag`` world, teacher-forced on the gold ``steps`` trace of ``eval``
problems (the same problems for every prior):

- per operation (``+``, ``-``, ``*``): the share of step values the prior predicts (argmax) and
  the mean probability it puts on the right value;
- per layer and head: the mean attention weight from the position that predicts a step's value
  (the node name after the second ``=``) to that step's two operand values (first / second).
  Operands can also reach that position in two hops (through the ``=`` before it), which this
  direct measure does not see.

    python benchmarks/plateau_anatomy.py runs/click/demo/seed0/model runs/click/demo/seed1/model --json

Run on demand, not a test; one JSON object per prior (``--json``: one line each).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from priorlab.evaluate import world_for

OPS = ("+", "-", "*")


def steps(world, depths: list[int], n: int):
    """(tokens, [(op, query position, operand positions)]) per problem: every operation line of
    the gold steps trace, ``x = a op b = x v``, with the position whose output predicts ``v``."""
    for depth in depths:
        for i in range(n):
            p = world.problem("eval", i, depth)
            prompt, sol = world.model_input(p).split(), world.render_solution(p, "steps").split()
            lines, start = [], 0
            for j, t in enumerate(sol):
                if t in (";", "<ans>"):
                    line, base, start = sol[start:j], len(prompt) + start, j + 1
                    if len(line) >= 4 and line[-3] == "=" and any(o in line for o in OPS):
                        k = next(i for i, x in enumerate(line) if x in OPS)
                        second = base + k + (2 if line[k + 1].isalpha() else 1)
                        lines.append((line[k], base + len(line) - 2, (base + k - 1, second)))
            yield prompt + sol, lines


def anatomy(model_dir: str, depths: list[int], n: int) -> dict:
    tok = PreTrainedTokenizerFast.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager").eval()
    world = world_for(model_dir)
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    hit, mass, count = defaultdict(float), defaultdict(float), defaultdict(int)
    attn = torch.zeros(L, H, 2)
    for toks, lines in steps(world, depths, n):
        ids = torch.tensor([tok.convert_tokens_to_ids(toks)])
        with torch.no_grad():
            out = model(ids, output_attentions=True)
        probs = out.logits[0].float().softmax(-1)
        for op, q, (a, b) in lines:
            target = ids[0, q + 1]
            hit[op] += float(probs[q].argmax() == target)
            mass[op] += probs[q, target].item()
            count[op] += 1
            for layer in range(L):
                attn[layer, :, 0] += out.attentions[layer][0, :, q, a]
                attn[layer, :, 1] += out.attentions[layer][0, :, q, b]
    attn /= max(sum(count.values()), 1)
    return {"model": model_dir, "depths": depths, "problems_per_depth": n,
            "op_accuracy": {op: round(hit[op] / count[op], 3) for op in count},
            "op_probability": {op: round(mass[op] / count[op], 3) for op in count},
            "operand_attention": [[[round(x, 3) for x in attn[layer, h].tolist()] for h in range(H)]
                                  for layer in range(L)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="HF model directories of arith_dag priors")
    ap.add_argument("--depths", default="2,3,4")
    ap.add_argument("--n-problems", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for m in args.models:
        row = anatomy(m, [int(d) for d in args.depths.split(",")], args.n_problems)
        if args.json:
            print(json.dumps(row))
            continue
        print(m, "per-op accuracy", row["op_accuracy"], "probability", row["op_probability"])
        for layer, heads in enumerate(row["operand_attention"]):
            print(f"  layer {layer}: attention to (first, second) operand per head {heads}")


if __name__ == "__main__":
    main()
