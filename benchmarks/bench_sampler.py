"""Sampler throughput: priorlab's KV-cached sampler vs transformers ``generate``.

    python benchmarks/bench_sampler.py MODEL_DIR [--rows 256] [--threads N] [--repeats 3] [--json]

Same model, same prompts (16 depth-4 eval problems x rows/16 samples), T=1, the same
max_new_tokens; generated tokens per second counted up to and including EOS. Each round times
every sampler and precision once, interleaved (a drift of the shared machine hits all alike);
figures are medians over ``--repeats`` rounds (one round at 256 rows is ~0.5 s per sampler). ``generate``
pads finished rows until every row is done, which is the difference being measured.
``--json`` adds one JSON line with ``speedup_vs_generate`` (best priorlab precision over best
``generate`` precision, tokens/s; the headline figure is at 256 rows) and the same ratio in tokens
per CPU-second of this process (``speedup_vs_generate_cpu``: with ``--threads 1`` it barely moves
with other processes' load, which wall time does).
"""

from __future__ import annotations

import argparse
import functools
import statistics
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


def priorlab_run(model, tok, prompts, n, max_new, rows, bf16):
    s = sample(model, tok, prompts, n, max_new_tokens=max_new, seed=0, bf16=bf16, max_rows=rows)
    return sum(map(len, s.ids))


def generate_run(model, tok, enc, max_new, bf16):
    """Tokens ``generate`` produced up to and including each row's EOS (its padding after is not work)."""
    torch.manual_seed(0)
    with torch.no_grad(), runtime.autocast(enc["input_ids"].device, bf16):
        out = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=max_new,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    gen = out[:, enc["input_ids"].shape[1]:]
    return int(sum(((row == tok.eos_token_id).cumsum(0) == 0).sum() + (row == tok.eos_token_id).any() for row in gen))


def timed(fn, dev) -> tuple[int, float, float]:
    t, c = time.perf_counter(), time.process_time()
    tokens = fn()
    sync(dev)
    return tokens, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3,
                    help="rounds, each timing every sampler and precision once (interleaved); medians reported")
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
    enc = encode(tok, [p for p in prompts for _ in range(n)], padding=True, return_tensors="pt").to(dev)
    runs = {(name, prec): fn for prec, bf16 in (("fp32", False), ("bf16", True)) for name, fn in (
        ("priorlab", functools.partial(priorlab_run, model, tok, prompts, n, max_new, args.rows, bf16)),
        ("generate", functools.partial(generate_run, model, tok, enc, max_new, bf16)))}
    print(f"{dev}, threads={threads}, rows={args.rows}, max_new_tokens={max_new}, repeats={args.repeats}")
    warm_up(model, tok, prompts[:2], dev)
    times = {key: [] for key in runs}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            times[key].append(timed(fn, dev))
    speed, cpu = {"priorlab": {}, "generate": {}}, {"priorlab": {}, "generate": {}}
    print("| sampler | precision | tokens/s (median) | wall s, each round |")
    print("|---|---|---|---|")
    for (name, prec), rounds in times.items():
        speed[name][prec] = statistics.median(tk / w for tk, w, _ in rounds)
        cpu[name][prec] = statistics.median(tk / c for tk, _, c in rounds)
        print(f"| {'transformers ' * (name == 'generate')}{name} | {prec} | {speed[name][prec]:,.0f} | "
              f"{', '.join(f'{w:.2f}' for _, w, _ in rounds)} |")
    if args.json:
        print_json({"benchmark": "sampler", "device": str(dev), "threads": threads, "rows": args.rows,
                    "repeats": args.repeats,
                    "tokens_per_s": {k: {p: round(v, 1) for p, v in d.items()} for k, d in speed.items()},
                    "tokens_per_cpu_s": {k: {p: round(v, 1) for p, v in d.items()} for k, d in cpu.items()},
                    "speedup_vs_generate": round(max(speed["priorlab"].values()) / max(speed["generate"].values()), 3),
                    "speedup_vs_generate_cpu": round(max(cpu["priorlab"].values()) / max(cpu["generate"].values()), 3)})


if __name__ == "__main__":
    main()
