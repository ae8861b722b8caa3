"""Pretraining throughput of the demo prior vs this machine's measured matmul peak.

    python benchmarks/bench_pretrain.py [--steps 60] [--threads N] [--precision bf16] [--json]

FLOPs per token follow Kaplan et al. 2020 (arXiv:2001.08361): 6 N (N = non-embedding
parameters) + 6 n_layer d seq_len for attention scores and values (forward + backward).
Prints one markdown row per precision; numbers go to docs/performance.md. ``--json`` adds one
JSON line with ``share_of_bf16_peak`` (bf16 training FLOP/s over the 1024^3 bf16 matmul peak).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import priorlab  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import matmul_peak, print_json  # noqa: E402

from priorlab import runtime  # noqa: E402
from priorlab.config import load_config  # noqa: E402
from priorlab.corpus import build_corpus  # noqa: E402
from priorlab.model import build_model  # noqa: E402
from priorlab.pretrain import make_optimizer, solution_loss  # noqa: E402
from priorlab.tokenizer import build_tokenizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both")
    ap.add_argument("--peak-seconds", type=float, default=3.0, help="time per matmul peak measurement")
    ap.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    args = ap.parse_args()
    threads = runtime.set_threads(args.threads)
    cfg = load_config(None)
    pc = cfg.pretrain
    world = cfg.world.build()
    tok = build_tokenizer(world.vocabulary())
    corpus = build_corpus(world, cfg.corpus, tok.get_vocab(), (args.steps + 10) * pc.batch_size * pc.seq_len, pc.seq_len)
    rows = [torch.from_numpy(getattr(corpus, k)) for k in ("tokens", "doc", "sol")]
    rows[0] = rows[0].long()
    sec = args.peak_seconds
    peaks = {"fp32": matmul_peak(torch.float32, seconds=sec), "bf16": matmul_peak(torch.bfloat16, seconds=sec)}
    rows_ = pc.batch_size * pc.seq_len
    shaped = {name: matmul_peak(dt, rows_, k=128, m=352, seconds=sec)
              for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"threads={threads}; matmul peak GFLOP/s (1024^3): fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f}; "
          f"at the model's MLP shape [{rows_},128]x[128,352]: fp32 {shaped['fp32']:.0f}, bf16 {shaped['bf16']:.0f}")
    print("| precision | tokens/s | achieved GFLOP/s | % of bf16 peak | % of bf16 shape-matched peak | % of fp32 peak |")
    print("|---|---|---|---|---|---|")
    figures = {"benchmark": "pretrain", "threads": threads, "steps": args.steps, "bf16_peak_gflops": peaks["bf16"],
               "share_of_bf16_peak": None}
    for precision in ("fp32", "bf16") if args.precision == "both" else (args.precision,):
        tps, flops_tok = tokens_per_s(cfg, tok, rows, precision, args.steps)
        gflops = tps * flops_tok / 1e9
        print(f"| {precision} | {tps:,.0f} | {gflops:.1f} | {100 * gflops / peaks['bf16']:.0f}% "
              f"| {100 * gflops / shaped['bf16']:.0f}% | {100 * gflops / peaks['fp32']:.0f}% |")
        figures[f"tokens_per_s_{precision}"] = round(tps, 1)
        if precision == "bf16":
            figures["share_of_bf16_peak"] = round(gflops / peaks["bf16"], 4)
    if args.json:
        print_json(figures)


def tokens_per_s(cfg, tok, rows, precision: str, steps: int) -> tuple[float, float]:
    """(training tokens/s over ``steps`` steps after 5 warm-up steps, FLOPs per token)."""
    pc = cfg.pretrain
    torch.manual_seed(0)
    model = build_model(cfg.model, tok)
    n_emb = sum(p.numel() for n, p in model.named_parameters() if "embed" in n or "lm_head" in n)
    N = sum(p.numel() for p in model.parameters()) - n_emb
    c = model.config
    flops_tok = 6 * N + 6 * c.num_hidden_layers * c.hidden_size * pc.seq_len
    opt = make_optimizer(model, pc)
    for step in range(steps + 5):
        if step == 5:
            t0 = time.perf_counter()
        sl = slice(step * pc.batch_size, (step + 1) * pc.batch_size)
        with runtime.autocast(torch.device("cpu"), precision == "bf16"):
            loss = solution_loss(model, rows[0][sl], rows[1][sl], rows[2][sl])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * pc.batch_size * pc.seq_len / (time.perf_counter() - t0), flops_tok


if __name__ == "__main__":
    main()
