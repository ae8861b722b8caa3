"""When do priors click? The research pass of docs/pretraining.md (run on demand, not a test).

Trains one prior per seed with ``priorlab pretrain`` (one thread each, ``--parallel`` at a
time), reads the plateau probe rows of ``metrics.jsonl`` as they are written, and stops a run
once its probe has reached ``pretrain.click_threshold`` at two consecutive probes (the click
is confirmed by the next probe; the run would otherwise go on to its budget). A run that never
gets there trains to the full budget. One JSON row per seed goes to ``OUT/LABEL.jsonl`` and a
summary (click rate, median / max click step and tokens) is printed as the last line with
``--json``.

    python benchmarks/click_study.py demo --seeds 0-9 --out runs/click
    python benchmarks/click_study.py facts15 --seeds 0-9 --set corpus.facts=0.15 --out runs/click
    python benchmarks/click_study.py demo facts15 --summarize --plot docs/img/click.png --out runs/click

``pretrain.seed`` and ``corpus.seed`` are both set to the seed: a seed is a different
initialisation, data order *and* document sample.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

#: The demo config's token budget (9M since the demo took the from-scratch recipe; 6M before).
DEMO_BUDGET = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/priorlab/configs/demo.yaml")
                             .read_text())["pretrain"]["tokens"]


def seeds_arg(text: str) -> list[int]:
    """``0-9`` or ``0,3,5``."""
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def metric_rows(metrics: Path) -> list[dict]:
    """Every complete row of a run's ``metrics.jsonl`` written so far (a row being written is skipped)."""
    if not metrics.exists():
        return []
    out = []
    for line in metrics.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def probes(metrics: Path) -> list[tuple[int, float]]:
    """(step, trace_acc) of every complete probe row written so far."""
    return [(r["step"], r["trace_acc"]) for r in metric_rows(metrics) if r.get("kind") == "probe"]


def confirmed_click(rows: list[tuple[int, float]], threshold: float) -> int | None:
    """First probe step at or above ``threshold`` whose next probe is too."""
    for (s, a), (_, b) in zip(rows, rows[1:]):
        if a >= threshold and b >= threshold:
            return s
    return None


def launch(args, seed: int) -> tuple[subprocess.Popen, Path]:
    out = args.out / args.label / f"seed{seed}"
    sets = [f"pretrain.seed={seed}", f"corpus.seed={seed}", f"pretrain.tokens={args.budget}",
            "pretrain.threads=1", f"pretrain.probe_every={args.probe_every}",
            "pretrain.checkpoint_every=100000", "eval.n_problems=1", "eval.n_samples=1", *args.set]
    cmd = [sys.executable, "-m", "priorlab.cli", "pretrain", "--quiet", "--out", str(out)]
    if args.config:
        cmd += ["--config", str(args.config)]
    for s in sets:
        cmd += ["--set", s]
    out.parent.mkdir(parents=True, exist_ok=True)
    log = open(out.parent / f"seed{seed}.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), out


def row_of(args, seed: int, out: Path, wall: float, rc: int | None) -> dict:
    rows = probes(out / "metrics.jsonl")
    step = confirmed_click(rows, args.threshold)
    tokens_per_step = args.batch * args.seq_len
    return {"label": args.label, "seed": seed, "set": args.set, "budget": args.budget,
            "clicked": step is not None, "click_step": step,
            "click_tokens": step * tokens_per_step if step is not None else None,
            "last_step": rows[-1][0] if rows else None,
            "last_tokens": rows[-1][0] * tokens_per_step if rows else None,
            "last_trace_acc": rows[-1][1] if rows else None,
            "wall_s": round(wall, 1), "returncode": rc, "probes": rows}


def record(args, row: dict, done: list[dict]) -> None:
    done.append(row)
    with open(args.out / f"{args.label}.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{args.label} seed {row['seed']}: clicked={row['clicked']} step={row['click_step']} "
          f"last_acc={row['last_trace_acc']} wall={row['wall_s']}s", flush=True)


def run(args) -> list[dict]:
    """Train every seed (``--parallel`` at a time); an interrupted study (Ctrl-C, SIGTERM) still
    records the seeds it was running, marked ``interrupted``, with the probes they had reached."""
    pending, running, done = list(args.seeds), {}, []
    try:
        poll(args, pending, running, done)
    except KeyboardInterrupt:
        for seed, (proc, out, t0) in running.items():
            proc.terminate()
            proc.wait()
            record(args, row_of(args, seed, out, time.time() - t0, proc.returncode) | {"interrupted": True}, done)
    return done


def poll(args, pending: list[int], running: dict, done: list[dict]) -> None:
    while pending or running:
        while pending and len(running) < args.parallel:
            seed = pending.pop(0)
            proc, out = launch(args, seed)
            running[seed] = (proc, out, time.time())
        time.sleep(3)
        for seed, (proc, out, t0) in list(running.items()):
            clicked = confirmed_click(probes(out / "metrics.jsonl"), args.threshold) is not None
            if clicked and proc.poll() is None:
                proc.terminate()
                proc.wait()
            if proc.poll() is not None:
                record(args, row_of(args, seed, out, time.time() - t0, proc.returncode), done)
                del running[seed]


def summarize(args) -> list[dict]:
    """Rows of the seeds already trained under ``OUT/LABEL`` (finished, stopped or interrupted);
    the wall time is the run's own ``elapsed_s``, the budget the run's own ``pretrain.tokens``."""
    rows = []
    for seed in args.seeds:
        out = args.out / args.label / f"seed{seed}"
        train = [r for r in metric_rows(out / "metrics.jsonl") if "elapsed_s" in r]
        if train:
            budget = yaml.safe_load((out / "config.yaml").read_text())["pretrain"]["tokens"]
            rows.append(row_of(args, seed, out, train[-1]["elapsed_s"], None) | {"budget": budget})
    return rows


def stopped_early(row: dict) -> bool:
    """A seed stopped before its click or its budget (interrupted, or stopped by hand)."""
    return not row["clicked"] and (row["last_tokens"] or 0) < 0.99 * row["budget"]


def summary(label: str, rows: list[dict]) -> dict:
    """Click counts over the seeds that ran to a click or to their budget; a seed stopped before
    either (interrupted, or stopped by hand) is counted apart, never as unclicked."""
    interrupted = [r for r in rows if stopped_early(r)]
    rows = [r for r in rows if r not in interrupted]
    steps = [r["click_step"] for r in rows if r["clicked"]]
    return {"label": label, "seeds": len(rows), "interrupted": len(interrupted), "clicked": len(steps),
            "median_click_step": statistics.median(steps) if steps else None,
            "max_click_step": max(steps) if steps else None,
            "median_wall_s": statistics.median(r["wall_s"] for r in rows) if rows else None}


def plot(rows: dict[str, list[dict]], path: Path, threshold: float, tokens_per_step: int,
         demo_budget: int = DEMO_BUDGET) -> None:
    """One panel per label: every seed's probe trace accuracy against training tokens (solid: it
    clicked; one colour per seed in every panel), the click threshold and the demo's budget."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from priorlab.plots import plt, save

    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.6), sharey=True, squeeze=False)
    for ax, (label, runs) in zip(axes[0], rows.items()):
        for r in runs:
            ax.plot([s * tokens_per_step / 1e6 for s, _ in r["probes"]], [a for _, a in r["probes"]], lw=1.2,
                    ls="-" if r["clicked"] else ":", color=f"C{r['seed'] % 10}", label=f"seed {r['seed']}")
        ax.axhline(threshold, color="grey", lw=0.8)
        ax.axvline(demo_budget / 1e6, color="black", lw=0.8, ls="--")
        n = sum(r["clicked"] for r in runs)
        ax.set_title(f"{label}\n{n} of {len(runs)} clicked", fontsize=9)  # two lines: long labels
        ax.set_xlabel("training tokens (M)")
        ax.legend(fontsize=6, ncol=2, loc="upper left")
    axes[0][0].set_ylabel("probe trace accuracy")
    save(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("label", nargs="+", help="the study's name (several with --summarize)")
    ap.add_argument("--seeds", type=seeds_arg, default=list(range(10)))
    ap.add_argument("--set", action="append", default=[], help="a recipe override, as priorlab --set")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--budget", type=int, default=DEMO_BUDGET, help="pretrain.tokens (default: the demo's budget)")
    ap.add_argument("--probe-every", type=int, default=50)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=16, help="pretrain.batch_size of the recipe (tokens per step)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/click"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--summarize", action="store_true",
                    help="train nothing: rebuild the rows of OUT/LABEL/seed*/ from their metrics.jsonl")
    ap.add_argument("--plot", type=Path, default=None, help="also draw every seed's probe curve to this PNG")
    args = ap.parse_args()
    if len(args.label) > 1 and not args.summarize:
        ap.error("several labels only with --summarize: a study trains one recipe")
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    rows = {}
    for label in args.label:
        study = argparse.Namespace(**(vars(args) | {"label": label}))
        rows[label] = summarize(study) if args.summarize else run(study)
        s = summary(label, rows[label])
        print(json.dumps(s) if args.json else s)
    if args.plot:
        plot(rows, args.plot, args.threshold, args.batch * args.seq_len)


if __name__ == "__main__":
    main()
