"""One RL step (sample + score + one optimizer step) of TRL's ``GRPOTrainer`` vs priorlab's, on CPU.

    pip install -e '.[bench]'          # trl, in a separate venv (see below)
    OMP_NUM_THREADS=2 python benchmarks/bench_rl_step.py --threads 2 --steps 5 --which both [--json]

One step = 8 prompts x 8 generations = 64 completions of up to 64 new tokens at T=1, rewarded
by ``world.verify(...).verified``, then one optimizer step on all 64 (no reference model,
no KL, one pass; TRL in fp32, its CPU default). Both frameworks load the same saved weights: by default an untrained
~3.3M-parameter Llama (``demo`` preset widened to d_model=256, 4 layers, 8 heads, d_ff=704),
where ``<eos>`` has probability ~1/155 per token: ~70% of completions hit the 64-token limit,
~3,600 tokens per step. ``--never-eos`` makes that exactly 64 x 64 = 4,096 in both frameworks
(equal work); ``--model DIR`` takes a priorlab checkpoint instead (its ``priorlab.json`` names
the world). Every reward of the untrained model is 0, hence every advantage is 0. The first step is a warm-up;
the table shows the median of the rest, wall time from ``on_step_begin`` to ``on_step_end``.
``--precision fp32 bf16`` runs priorlab's step once per update precision (default: ``auto``, bf16
on CPU), each beside the same TRL run. ``--json`` adds one JSON line with ``speedup_vs_trl`` (TRL's
median s/step over the best priorlab precision's; equal work only with ``--never-eos``, recorded as
``equal_work``), null with a ``reason`` when TRL is not installed (it is the optional ``bench``
extra) or not run, and ``cpu_seconds_per_step`` (this process's CPU time: with ``--threads 1`` it
holds on a loaded machine, where wall time does not). Measured figures: docs/performance.md.

A separate venv keeps trl's dependencies (accelerate, datasets, pandas, ...) out of the main
one; pin torch first so pip does not fetch a CUDA build::

    python -m venv /work/venv-trl && . /work/venv-trl/bin/activate
    pip install torch==2.13.0 && pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import priorlab  # noqa: F401  (first: sets OpenMP's wait policy before torch loads)
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import print_json  # noqa: E402

from priorlab import runtime  # noqa: E402
from priorlab.config import load_config  # noqa: E402
from priorlab.evaluate import world_for  # noqa: E402
from priorlab.model import build_model, load_model, n_params  # noqa: E402
from priorlab.pretrain import save_checkpoint  # noqa: E402
from priorlab.tokenizer import build_tokenizer, load_tokenizer, prompt_text  # noqa: E402

#: The untrained default model (about 3.3M parameters with the arithmetic world's 155 tokens).
MODEL_SETS = ["model.preset=demo", "model.d_model=256", "model.n_layers=4", "model.n_heads=8", "model.d_ff=704"]

#: Filled by each ``*_step_seconds`` function: ``STATS[name]["tokens"]`` = generated tokens
#: per step (EOS included), ``STATS[name]["sections"]`` = {section: seconds per step},
#: ``STATS[name]["cpu"]`` = this process's CPU seconds per step (with 1 thread, the work done,
#: nearly independent of other processes' load; wall time is not).
STATS: dict[str, dict] = {}


def make_model(out: Path, seed: int = 0, never_eos: bool = False) -> Path:
    """Build the untrained default model and save it as a priorlab checkpoint in ``out``.

    At random init ``<eos>`` has probability ~1/|V| per token, so about a third of the
    completions stop before 64 tokens, at different places in each framework. ``never_eos``
    makes every completion exactly max-new-tokens long (equal work in both frameworks): every
    token embedding gets +10 in dimension 0, so after the final RMSNorm h[0] ~ +sqrt(d), and
    the ``<eos>`` row of the LM head gets -2 there (logit ~ -32, P(eos) ~ 1e-14).
    """
    cfg = load_config(None, MODEL_SETS)
    world = cfg.world.build()
    tok = build_tokenizer(world.vocabulary())
    torch.manual_seed(seed)
    model = build_model(cfg.model, tok)
    if never_eos:
        with torch.no_grad():
            model.get_input_embeddings().weight[:, 0] += 10.0
            model.get_output_embeddings().weight[tok.eos_token_id, 0] = -2.0
    meta = {"world": cfg.world.model_dump(mode="json"), "untrained": True, "never_eos": never_eos}
    save_checkpoint(out, model, tok, meta)
    return out


# --------------------------------------------------------------------------------------- priorlab
def priorlab_step_seconds(model_dir, prompts, args, precision: str = "auto") -> list[float]:
    """Wall seconds of each priorlab RL step (warm-up first), the same work as
    :func:`trl_step_seconds`: ``args.generations`` samples per prompt, ``verified`` reward, GRPO
    advantages, clipped loss, no KL in the loss, lr 1e-5, one optimizer step per rollout, the
    update in ``precision`` (priorlab's ``precision``; the sampler runs fp32 on CPU either way).
    Zero advantages still go through the loss forward and backward (as in TRL). With
    ``--kl-every 1`` priorlab's step also runs a no-grad forward of the frozen prior for its
    logged KL metric, which TRL skips at beta=0 (``--kl-every 0``: the same work as TRL)."""
    from priorlab.rl.config import RLConfig
    from priorlab.rl.rollout import Pool
    from priorlab.rl.trainer import build_parts, rl_step

    sets = [f"prior={model_dir}", f"threads={args.threads}", f"seed={args.seed}", f"data.depths=[{args.depth}]",
            f"data.n_prompts={len(prompts)}", f"rollout.prompts_per_step={len(prompts)}",
            f"rollout.group_size={args.generations}", f"rollout.max_new_tokens={args.max_new_tokens}",
            "algo.mini_batches=1", "optim.lr=1e-5", f"precision={precision}", "probe.every=0",
            f"kl_every={args.kl_every}"]
    cfg = load_config(None, sets, model=RLConfig)
    with tempfile.TemporaryDirectory() as tmp:
        p = build_parts(cfg, Path(tmp), Path(model_dir), show=False)
        p.pool = Pool(list(prompts), [None] * len(prompts), [None] * len(prompts))
        times, cpu, tokens, sections = [], [], [], []
        for step in range(args.steps):
            t, c = time.perf_counter(), time.process_time()
            row = rl_step(p, step)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            tokens.append(round(row["length"] * len(prompts) * args.generations))
            sections.append({k: row[f"seconds_{k}"] for k in ("sample", "score", "update")})
    STATS[f"priorlab {precision}"] = {"tokens": tokens, "sections": sections, "cpu": cpu}
    return times


# --------------------------------------------------------------------------------------- TRL
class _Sections:
    """Accumulates TRL's own profiling contexts (normally only sent to wandb/mlflow/trackio)."""

    def __init__(self):
        self.total: dict[str, float] = {}

    def install(self):
        from trl.extras import profiling

        sections = self

        def log_metrics(ctx, duration: float) -> None:
            name = ctx.name.split(".", 1)[-1]
            sections.total[name] = sections.total.get(name, 0.0) + duration

        profiling.ProfilingContext._log_metrics = log_metrics


def grpo_config(args, out_dir: str):
    """The GRPOConfig that makes one TRL optimizer step = one generation of all completions."""
    from trl import GRPOConfig

    n = args.prompts * args.generations
    return GRPOConfig(
        output_dir=out_dir,
        use_cpu=True,                       # no accelerator, like the priorlab CPU run
        per_device_train_batch_size=n,      # all 64 completions in one micro-batch ...
        gradient_accumulation_steps=1,      # ... and one optimizer step per generation:
        steps_per_generation=1,             # generation_batch_size = 64 * 1 * 1
        num_generations=args.generations,   # 8 prompts x 8 completions per batch
        num_iterations=1,                   # one pass: no old-logprob forward, ratio = 1
        max_completion_length=args.max_new_tokens,
        temperature=1.0, top_p=1.0, top_k=0,
        beta=0.0,                           # no KL, no reference model loaded
        loss_type="dapo",                   # token mean over the batch (priorlab's token_mean)
        scale_rewards="group",              # (r - mean) / std per group: GRPO advantages
        learning_rate=1e-5,
        lr_scheduler_type="constant",       # TRL defaults to linear decay
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        bf16=False, fp16=False,             # fp32, as priorlab's CPU sampler
        activation_checkpointing=False,     # TRL's default gradient_checkpointing=True recomputes forwards
        use_vllm=False,                     # plain transformers generate()
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        max_steps=args.steps,
        dataloader_num_workers=0,
        seed=args.seed,
        disable_tqdm=True,
    )


def trl_step_seconds(model_dir, prompts, args) -> list[float]:
    """Wall seconds of each ``GRPOTrainer`` optimizer step (warm-up first)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    world = world_for(model_dir)
    by_text = {prompt_text(p.prompt): p for p in prompts}
    if len(by_text) != len(prompts):
        raise ValueError("prompts must be distinct (the reward maps prompt text back to its problem)")
    tok = load_tokenizer(model_dir)
    # GRPOTrainer tokenizes plain-text prompts with tokenizer(text=...), i.e. add_special_tokens=True:
    # priorlab's tokenizer has no post-processor, so that adds nothing (checked here, not assumed).
    probe = prompt_text(prompts[0].prompt)
    if tok(text=[probe])["input_ids"] != tok([probe], add_special_tokens=False)["input_ids"]:
        raise RuntimeError("the tokenizer adds special tokens to prompts; TRL would see extra BOS/EOS")
    model = load_model(model_dir)
    tokens: list[int] = []

    def verified(prompts, completions, completion_ids, **kwargs) -> list[float]:
        tokens.append(sum(map(len, completion_ids)))  # EOS included when emitted
        return [float(world.verify(by_text[p], c).verified) for p, c in zip(prompts, completions, strict=True)]

    sections = _Sections()
    sections.install()
    times: list[float] = []
    cpu: list[float] = []
    per_step: list[dict[str, float]] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            sections.total.clear()
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_step_end(self, a, state, control, **kw):
            times.append(time.perf_counter() - self.t)
            cpu.append(time.process_time() - self.c)
            per_step.append(dict(sections.total))

    with tempfile.TemporaryDirectory() as out:
        trainer = GRPOTrainer(
            model=model, reward_funcs=verified, args=grpo_config(args, out),
            train_dataset=Dataset.from_dict({"prompt": list(by_text)}),  # plain text, not conversational
            processing_class=tok, callbacks=[StepTimer()],
        )
        torch.set_num_threads(args.threads)  # after accelerate's setup, in case it changed them
        trainer.train()
    STATS["trl"] = {"tokens": tokens, "sections": per_step, "threads": torch.get_num_threads(), "cpu": cpu}
    return times


# --------------------------------------------------------------------------------------- main
def _row(name: str, times: list[float], tokens: list[int], n: int) -> str:
    measured = times[1:] or times
    s = statistics.median(measured)
    tok = statistics.median(tokens[1:] or tokens) if tokens else float("nan")
    return f"| {name} | {s:.2f} | {n / s:.1f} | {tok:.0f} | {len(measured)} |"


def _sections(times: list[float], per_step: list[dict[str, float]]) -> str:
    """Median seconds per step of the main phases of a TRL step."""
    rows = list(zip(times, per_step))[1:] or list(zip(times, per_step))
    med = lambda f: statistics.median(f(t, s) for t, s in rows)  # noqa: E731
    gen = med(lambda t, s: s.get("transformers.generate", 0.0))
    prep = med(lambda t, s: s.get("_prepare_inputs", 0.0))
    reward = med(lambda t, s: s.get("_calculate_rewards", 0.0))
    fwd = med(lambda t, s: s.get("compute_loss", 0.0))
    rest = med(lambda t, s: t - s.get("_prepare_inputs", 0.0) - s.get("compute_loss", 0.0))
    total = statistics.median(t for t, _ in rows)
    parts = [("generate", gen), ("rewards", reward), ("other rollout prep", prep - gen - reward),
             ("loss forward", fwd), ("backward + clip + optimizer", rest)]
    return "; ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in parts)


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: free cores)")
    ap.add_argument("--steps", type=int, default=5, help="optimizer steps, the first one a warm-up")
    ap.add_argument("--model", type=Path, default=None, help="priorlab checkpoint dir (default: untrained)")
    ap.add_argument("--which", choices=["trl", "priorlab", "both"], default="both")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4, help="depth of the rl-split problems")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kl-every", type=int, default=0,
                    help="priorlab: measure KL to the prior every N steps (0 = never, TRL's work at beta=0)")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], nargs="+", default=["auto"],
                    help="priorlab's update precision(s), each run in turn (TRL runs fp32, its CPU default)")
    ap.add_argument("--never-eos", action="store_true",
                    help="untrained model that never samples <eos>: every completion is max-new-tokens long")
    ap.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    return ap.parse_args()


def main() -> None:
    args = _args()
    args.threads = runtime.set_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or make_model(Path(tmp) / "model", args.seed, args.never_eos)
        world = world_for(model_dir)
        prompts = world.problems("rl", args.depth, args.prompts)
        n = args.prompts * args.generations
        print(f"model {model_dir}: {n_params(load_model(model_dir)) / 1e6:.2f}M parameters; threads={args.threads}; "
              f"{args.prompts} prompts x {args.generations} = {n} completions, max {args.max_new_tokens} new tokens; "
              f"torch {torch.__version__}")
        runs = {"trl": trl_step_seconds} | {f"priorlab {p}": functools.partial(priorlab_step_seconds, precision=p)
                                            for p in args.precision}
        names = [k for k in runs if args.which in ("both", k.split()[0])]
        rows, notes, medians, reason = [], [], {}, f"trl not run (--which {args.which})"
        for name in names:
            try:
                times = runs[name](model_dir, prompts, args)
            except (NotImplementedError, ImportError) as e:
                notes.append(f"{name}: {e}")
                reason = f"{name} not run: {e}" + (" (pip install -e '.[bench]')" if isinstance(e, ImportError) else "")
                continue
            medians[name] = statistics.median(times[1:] or times)
            stats = STATS.get(name, {})
            rows.append(_row(name, times, stats.get("tokens", []), n))
            notes.append(f"{name} steps (s): " + ", ".join(f"{t:.2f}" for t in times))
            if name.startswith("priorlab"):
                notes.append(f"{name} (median s/step): " + ", ".join(
                    f"{k} {statistics.median(x[k] for x in stats['sections'][1:] or stats['sections']):.3f}"
                    for k in ("sample", "score", "update")))
            if name == "trl":
                import trl

                notes.append(f"trl {trl.__version__} (torch threads in trainer: {stats['threads']}): "
                             + _sections(times, stats["sections"]))
    print()
    print("| framework | s/step (median) | completions/s | tokens generated/step | steps measured |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(notes))
    if args.json:
        ours = min((v for k, v in medians.items() if k != "trl"), default=None)
        both = "trl" in medians and ours is not None
        cpu = {k: round(statistics.median(STATS[k]["cpu"][1:] or STATS[k]["cpu"]), 3) for k in medians}
        print_json({"benchmark": "rl_step", "threads": args.threads, "equal_work": args.never_eos,
                    "seconds_per_step": {k: round(v, 3) for k, v in medians.items()}, "cpu_seconds_per_step": cpu,
                    "speedup_vs_trl": round(medians["trl"] / ours, 3) if both else None}
                   | ({} if both else {"reason": reason}))


if __name__ == "__main__":
    main()
