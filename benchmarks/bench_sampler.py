"""Sampler throughput: priorlab's KV-cached sampler vs transformers ``generate``.

    python benchmarks/bench_sampler.py MODEL_DIR [--rows 256] [--threads N] [--json]

Same model, same prompts (16 depth-4 eval problems x rows/16 samples), T=1, the same
max_new_tokens; generated tokens per second counted up to and including EOS. ``generate``
pads finished rows until every row is done, which is the difference being measured.
``--json`` adds one JSON line with ``speedup_vs_generate`` (best priorlab precision over best
``generate`` precision, tokens/s; the headline figure is at 256 rows) and the same ratio in tokens
per CPU-second of this process (``speedup_vs_generate_cpu``: with ``--threads 1`` it barely moves
with other processes' load, which wall time does).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import priorlab  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import print_json, sync  # noqa: E402

from priorlab import runtime  # noqa: E402
from priorlab.evaluate import world_for  # noqa: E402
from priorlab.model import load_model  # noqa: E402
from priorlab.sampling import encode, sample  # noqa: E402
from priorlab.tokenizer import load_tokenizer  # noqa: E402


def warm_up(model, tok, prompts, dev) -> None:
    """One short untimed call of each sampler in each precision, so that neither timed run pays for
    first-call costs (CUDA context and kernel loading, allocator growth, oneDNN primitive caches)."""
    enc = encode(tok, prompts, padding=True, return_tensors="pt").to(dev)
    for bf16 in (False, True):
        sample(model, tok, prompts, 2, max_new_tokens=4, seed=0, bf16=bf16)
        with torch.no_grad(), runtime.autocast(dev, bf16):
            model.generate(**enc, do_sample=True, max_new_tokens=4, pad_token_id=tok.pad_token_id)
    sync(dev)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    args = ap.parse_args()
    threads = runtime.set_threads(args.threads)
    dev = runtime.device()
    model, tok = load_model(args.model, dev), load_tokenizer(args.model)
    world = world_for(args.model)
    problems = world.problems("eval", 4, 16)
    n = args.rows // 16
    max_new = world.max_new_tokens(problems)
    prompts = [world.model_input(p) for p in problems]
    print(f"{dev}, threads={threads}, rows={args.rows}, max_new_tokens={max_new}")
    print("| sampler | precision | tokens/s | wall s |")
    print("|---|---|---|---|")
    speed, cpu = {"priorlab": {}, "generate": {}}, {"priorlab": {}, "generate": {}}
    warm_up(model, tok, prompts[:2], dev)
    for bf16 in (False, True):
        t, c = time.perf_counter(), time.process_time()
        s = sample(model, tok, prompts, n, max_new_tokens=max_new, seed=0, bf16=bf16, max_rows=args.rows)
        dt = time.perf_counter() - t
        speed["priorlab"]["bf16" if bf16 else "fp32"] = sum(map(len, s.ids)) / dt
        cpu["priorlab"]["bf16" if bf16 else "fp32"] = sum(map(len, s.ids)) / (time.process_time() - c)
        print(f"| priorlab | {'bf16' if bf16 else 'fp32'} | {sum(map(len, s.ids)) / dt:,.0f} | {dt:.2f} |")
    enc = encode(tok, [p for p in prompts for _ in range(n)], padding=True, return_tensors="pt").to(dev)
    for bf16 in (False, True):
        torch.manual_seed(0)
        t, c = time.perf_counter(), time.process_time()
        with torch.no_grad(), runtime.autocast(dev, bf16):
            out = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=max_new,
                                 pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        sync(dev)
        dt = time.perf_counter() - t
        gen = out[:, enc["input_ids"].shape[1]:]
        useful = int(sum(((row == tok.eos_token_id).cumsum(0) == 0).sum() + (row == tok.eos_token_id).any()
                         for row in gen))
        speed["generate"]["bf16" if bf16 else "fp32"] = useful / dt
        cpu["generate"]["bf16" if bf16 else "fp32"] = useful / (time.process_time() - c)
        print(f"| transformers generate | {'bf16' if bf16 else 'fp32'} | {useful / dt:,.0f} | {dt:.2f} |")
    if args.json:
        print_json({"benchmark": "sampler", "device": str(dev), "threads": threads, "rows": args.rows,
                    "tokens_per_s": {k: {p: round(v, 1) for p, v in d.items()} for k, d in speed.items()},
                    "tokens_per_cpu_s": {k: {p: round(v, 1) for p, v in d.items()} for k, d in cpu.items()},
                    "speedup_vs_generate": round(max(speed["priorlab"].values()) / max(speed["generate"].values()), 3),
                    "speedup_vs_generate_cpu": round(max(cpu["priorlab"].values()) / max(cpu["generate"].values()), 3)})


if __name__ == "__main__":
    main()
