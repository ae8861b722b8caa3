"""Pretraining throughput of the demo prior vs this machine's measured matmul peak.

    python benchmarks/bench_pretrain.py [--steps 60] [--threads N] [--precision bf16] [--json]
                                        [--compile both] [--device cuda] [--set model.d_model=768 ...]

FLOPs per token follow Kaplan et al. 2020 (arXiv:2001.08361): 6 N (N = non-embedding
parameters) + 6 n_layer d seq_len for attention scores and values (forward + backward).
Prints one markdown row per precision and compile setting (``--compile off|on|both``: eager,
``torch.compile``d as ``pretrain.compile`` runs it, or both; compile time is left out of the
rate and reported apart); numbers go to docs/performance.md. ``--json`` adds one JSON line with
``share_of_bf16_peak`` (bf16 training FLOP/s over the 1024^3 bf16 matmul peak; 8192^3 on CUDA;
null where the hardware has no native bf16, so that ``precision: auto`` trains in fp32; compiled
where ``--compile`` runs it, as long runs train) and ``share_of_peak`` (the same for the precision
``auto`` picks, ``precision_auto``); ``tokens_per_s_<precision>[_compiled]`` per row.
``--set`` overrides the config like every priorlab command (a larger model or batch for a GPU:
``benchmarks/gpu.sh`` runs a ~110M-parameter one); ``--device`` defaults to CUDA when present.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import priorlab  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import matmul_peak, print_json, sync  # noqa: E402

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
    ap.add_argument("--compile", choices=["off", "on", "both"], default="both",
                    help="eager, torch.compile (as pretrain.compile), or one row of each (default)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override, e.g. model.d_model=768")
    args = ap.parse_args()
    threads = runtime.set_threads(args.threads)
    dev = torch.device(args.device) if args.device else runtime.device()
    cfg = load_config(None, args.sets)
    pc = cfg.pretrain
    world = cfg.world.build()
    tok = build_tokenizer(world.vocabulary())
    corpus = build_corpus(world, cfg.corpus, tok.get_vocab(), (args.steps + 10) * pc.batch_size * pc.seq_len, pc.seq_len)
    rows = [torch.from_numpy(getattr(corpus, k)) for k in ("tokens", "doc", "sol")]
    rows[0] = rows[0].long()
    sec, n = args.peak_seconds, 8192 if dev.type == "cuda" else 1024
    peaks = {"fp32": matmul_peak(torch.float32, n, seconds=sec, device=dev),
             "bf16": matmul_peak(torch.bfloat16, n, seconds=sec, device=dev)}
    rows_, d = pc.batch_size * pc.seq_len, build_model(cfg.model, tok).config
    shaped = {name: matmul_peak(dt, rows_, k=d.hidden_size, m=d.intermediate_size, seconds=sec, device=dev)
              for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"{dev}, threads={threads}; matmul peak GFLOP/s ({n}^3): fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f}; "
          f"at the model's MLP shape [{rows_},{d.hidden_size}]x[{d.hidden_size},{d.intermediate_size}]: "
          f"fp32 {shaped['fp32']:.0f}, bf16 {shaped['bf16']:.0f}")
    print("| precision | compiled | tokens/s | achieved GFLOP/s | % of bf16 peak | % of bf16 shape-matched peak "
          "| % of fp32 peak | warm-up s |")
    print("|---|---|---|---|---|---|---|---|")
    auto = "bf16" if runtime.use_bf16("auto", dev) else "fp32"
    figures = {"benchmark": "pretrain", "device": str(dev), "threads": threads, "steps": args.steps,
               "bf16_peak_gflops": peaks["bf16"], "share_of_bf16_peak": None, "precision_auto": auto,
               "peak_gflops": peaks[auto], "share_of_peak": None, "sets": args.sets}
    precisions = ("fp32", "bf16") if args.precision == "both" else (args.precision,)
    compiles = (False, True) if args.compile == "both" else (args.compile == "on",)
    for precision, compiled in ((p, c) for p in precisions for c in compiles):
        tps, flops_tok, warm = tokens_per_s(cfg, tok, [r.to(dev) for r in rows], precision, args.steps, dev, compiled)
        gflops = tps * flops_tok / 1e9
        print(f"| {precision} | {'yes' if compiled else 'no'} | {tps:,.0f} | {gflops:.1f} "
              f"| {100 * gflops / peaks['bf16']:.0f}% | {100 * gflops / shaped['bf16']:.0f}% "
              f"| {100 * gflops / peaks['fp32']:.0f}% | {warm:.1f} |")
        figures[f"tokens_per_s_{precision}{'_compiled' if compiled else ''}"] = round(tps, 1)
        if precision == auto and compiled == compiles[-1]:
            figures["share_of_peak"] = round(gflops / peaks[auto], 4)
            if auto == "bf16":  # emulated bf16 (no native units) has no meaningful peak to share
                figures["share_of_bf16_peak"] = figures["share_of_peak"]
    if args.json:
        print_json(figures)


def tokens_per_s(cfg, tok, rows, precision: str, steps: int, dev: torch.device,
                 compiled: bool = False) -> tuple[float, float, float]:
    """(training tokens/s over ``steps`` steps after 5 warm-up steps, FLOPs per token, seconds of
    the warm-up steps: the compile time when ``compiled``)."""
    pc = cfg.pretrain
    torch.manual_seed(0)
    model = build_model(cfg.model, tok).to(dev)
    n_emb = sum(p.numel() for n, p in model.named_parameters() if "embed" in n or "lm_head" in n)
    N = sum(p.numel() for p in model.parameters()) - n_emb
    c = model.config
    flops_tok = 6 * N + 6 * c.num_hidden_layers * c.hidden_size * pc.seq_len
    opt = make_optimizer(model, pc)
    forward = torch.compile(model, dynamic=False) if compiled else model
    t_warm = time.perf_counter()
    for step in range(steps + 5):
        if step == 5:
            sync(dev)
            t0 = time.perf_counter()
        sl = slice(step * pc.batch_size, (step + 1) * pc.batch_size)
        with runtime.autocast(dev, precision == "bf16"):
            loss = solution_loss(forward, rows[0][sl], rows[1][sl], rows[2][sl])
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(dev)
    return steps * pc.batch_size * pc.seq_len / (time.perf_counter() - t0), flops_tok, t0 - t_warm


if __name__ == "__main__":
    main()
