"""The RLVR loop: rollout -> reward -> advantage -> loss -> optimizer step, on CPU or CUDA.

``train(cfg, out)`` evaluates the prior (``before``), runs ``cfg.steps`` rollout batches with
checkpoints every ``checkpoint_every`` steps, evaluates the final policy (``after``) on the same
problems with the same sampling seeds, and writes ``summary.json``. Everything stochastic is a
function of ``(cfg.seed, step)``, so ``resume`` continues exactly and two runs that differ in
one factor (reward, advantage, loss) share prompts and first rollouts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from priorlab import click, runtime
from priorlab.checkpoint import latest_checkpoint, loading, restore, save_checkpoint, storage_errors, trainer_state
from priorlab.config import ConfigError, EvalConfig
from priorlab.evaluate import checkpoint_meta, contexts_for, evaluate, evaluate_cached, sample_and_verify, world_for
from priorlab.model import load_model, n_params
from priorlab.pretrain import make_optimizer
from priorlab.progress import progress_bar
from priorlab.rl import metrics as M
from priorlab.rl.advantages import ADVANTAGES
from priorlab.rl.config import check_critique, check_prior
from priorlab.rl.policy import Critic, to_batch, token_logprobs
from priorlab.rl.refine import refine
from priorlab.rl.rollout import Pool, build_pool, collect, perturbed_label, probe_pool, step_prompts
from priorlab.rl.update import advantages_for, chunked_logprobs, critic_targets, first_epoch_chunks, update
from priorlab.runs import MetricsLog, prepare_run, read_jsonl, write_json
from priorlab.tokenizer import load_tokenizer


def warmup_then_constant(opt, warm: int):
    """RL's learning-rate schedule: linear warm-up over ``warm`` steps, then constant."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) if warm else 1.0)


def rl_precision(cfg, dev: torch.device) -> bool:
    """bf16 autocast for training forwards ('auto': as pretraining, bf16 on CUDA with bf16 and on a
    CPU with native bf16 units, :func:`runtime.use_bf16`). On such a CPU a bf16 RL step took 1.89
    CPU-s against 2.80 in fp32 (TRL 3.85, 1 thread; docs/performance.md); the update recomputes the
    old log-probs in bf16, so the first ratio stays exactly 1 (rl/update.py). The sampler runs fp32
    on CPU either way."""
    return runtime.use_bf16(cfg.precision, dev)


def prepare_pool(cfg, out: Path, world, pool: Pool, model, tok, max_new: int, show: bool, reuse: bool) -> Pool:
    """Probe (when a filter or majority labels need it), label and filter the RL pool.

    The probe's pass rates and labels are written to ``out/pool.json``; with ``reuse`` (a
    resumed run) they are read back instead of probing again.
    """
    data = cfg.data
    cache = out / "pool.json"
    if reuse and cache.exists():
        saved = json.loads(cache.read_text())
        pool = Pool(pool.problems, saved["pass_rate"],
                    [None if lab is None else tuple(tuple(x) for x in lab) for lab in saved["label"]])
    else:
        if data.pass_rate is not None or ("incorrect_label" in cfg.reward.weights and data.labels == "majority"):
            pool = probe_pool(model, tok, world, pool, data, cfg.rollout, cfg.seed, max_new, show)
        if data.labels == "perturbed":
            pool.label = [perturbed_label(p, world.cfg.modulus, cfg.seed) for p in pool.problems]
        write_json(cache, {"pass_rate": pool.pass_rate, "label": pool.label, "uids": [p.uid for p in pool.problems]})
    keep = list(range(len(pool)))
    if data.pass_rate is not None:
        lo, hi = data.pass_rate
        keep = [i for i in keep if lo <= pool.pass_rate[i] <= hi]
        if not keep:
            raise ConfigError(f"data.pass_rate={list(data.pass_rate)}: no pool problem of depths {data.depths} has a "
                              f"prior pass rate in that range; widen it or change data.depths")
    if data.one_shot is not None:
        if data.one_shot >= len(keep):
            raise ConfigError(f"data.one_shot={data.one_shot}: the pool holds {len(keep)} problems")
        keep = [keep[data.one_shot]]
    return pool.subset(keep)


def band_config(cfg) -> EvalConfig:
    """The band evaluation: ``cfg.final`` on the RL pool's own split, depths and contexts.

    It stays inside the RL pool (problems 0 .. ``data.n_prompts`` − 1 of each band depth and
    context, before any pass-rate filter): it evaluates ``min(final.n_problems, data.n_prompts)``
    problems from ``final.problem_offset`` wrapped modulo the number of start indices that fit
    (``n_prompts − n + 1``). Seeds whose held-out offsets run past the pool (e.g. 5 seeds × 32
    problems on a 128-problem pool) then share some training problems.
    """
    n = min(cfg.final.n_problems, cfg.data.n_prompts)
    return cfg.final.model_copy(update={"splits": [cfg.data.split], "depths": list(cfg.data.depths),
                                       "contexts": cfg.data.contexts or cfg.final.contexts, "n_problems": n,
                                       "problem_offset": cfg.final.problem_offset % (cfg.data.n_prompts - n + 1)})


def final_evals(cfg) -> dict[str, EvalConfig]:
    """The before/after evaluations: the RL band (:func:`band_config`, unless ``cfg.band_eval`` is
    false) and ``cfg.final``."""
    return ({"band": band_config(cfg)} if cfg.band_eval else {}) | {"eval": cfg.final}


def evaluate_checkpoint(ckpt: Path, cfg, out: Path, show: bool, reuse: bool, cache: bool = False) -> list[dict]:
    """pass@k rows of ``ckpt`` for :func:`final_evals` (with ``reuse``, those already written;
    with ``cache``, an identical evaluation stored next to ``ckpt`` is reused: the prior's)."""
    rows = []
    for name, ecfg in final_evals(cfg).items():
        where = out / name
        if reuse and (where / "summary.json").exists():
            rows += json.loads((where / "summary.json").read_text())["passk"]
        else:
            run = evaluate_cached if cache else evaluate
            rows += run(ckpt, ecfg, where, show=show, threads=cfg.threads)["passk"]
    return rows


@dataclass
class Parts:
    """What one RL run holds while it trains."""

    cfg: object
    out: Path
    world: object
    pool: Pool
    tok: object
    model: torch.nn.Module
    ref: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    critic: Critic | None
    critic_opt: torch.optim.Optimizer | None
    max_new: int
    bf16: bool
    meta: dict
    contexts: list[str]

    def checkpoint(self, step: int) -> None:
        """``checkpoints/step-N``: policy, optimizer, scheduler, RNG (and the critic with its
        optimizer) in one atomic checkpoint."""
        critic = {} if self.critic is None else {"critic": self.critic.state_dict(),
                                                 "critic_optimizer": self.critic_opt.state_dict()}
        save_checkpoint(self.out / "checkpoints" / f"step-{step}", self.model, self.tok, self.meta | {"step": step},
                        trainer_state(self.opt, self.sched, step, **critic))

    def restore(self, ckpt: Path) -> int:
        """Load :meth:`checkpoint`'s ``ckpt`` into the parts; return its step."""
        state = restore(ckpt, self.model, self.opt, self.sched)
        with loading(ckpt):
            if self.critic is not None:
                self.critic.load_state_dict(state["critic"])
                self.critic_opt.load_state_dict(state["critic_optimizer"])
            return int(state["step"])


def build_parts(cfg, out: Path, prior: Path, show: bool, reuse: bool = False) -> Parts:
    """Load the policy, the frozen prior, the pool, the optimizers (and the PPO critic)."""
    dev = runtime.device()
    world, meta = world_for(prior), checkpoint_meta(prior)
    contexts = contexts_for(cfg.data.contexts, prior, world)
    tok = load_tokenizer(prior)
    model, ref = load_model(prior, dev), load_model(prior, dev).requires_grad_(False)
    pool = build_pool(world, cfg.data, contexts)
    max_new = cfg.rollout.max_new_tokens or world.max_new_tokens(pool.problems)
    pool = prepare_pool(cfg, out, world, pool, model, tok, max_new, show, reuse)
    needs_values = getattr(ADVANTAGES.get(cfg.algo.advantage), "needs_values", False)
    critic = Critic(prior).to(dev) if needs_values else None
    opt = make_optimizer(model, cfg.optim)
    sched = warmup_then_constant(opt, cfg.optim.warmup_steps)
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=cfg.algo.critic_lr) if critic else None
    meta = meta | {"prior": str(prior), "rl": {"advantage": cfg.algo.advantage, "loss": cfg.algo.loss,
                                               "reward": cfg.reward.weights, "band": cfg.data.depths}}
    return Parts(cfg, out, world, pool, tok, model, ref, opt, sched, critic, critic_opt, max_new,
                 rl_precision(cfg, dev), meta, contexts)


@dataclass
class Started:
    """A fine-tuning run (RL, SFT) set up by :func:`start_run`: its directory, the resolved prior,
    the prior's ``before`` rows, the trainer's parts, the first step to run and the metrics log."""

    out: Path
    prior: Path
    before: list[dict]
    parts: object
    start: int
    log: MetricsLog
    t0: float


def start_run(cfg, out: str | Path, resume: bool, show: bool, build) -> Started:
    """What RL and SFT runs do first: write ``config.yaml``, evaluate the prior (``before``),
    ``build(cfg, out, prior, show, reuse=resume)`` the parts and, with ``resume``, restore them
    from the newest checkpoint that verifies (newer broken ones are skipped with a warning)."""
    t0 = time.perf_counter()
    prior = Path(cfg.prior).resolve()
    out = prepare_run(out, cfg, resume)
    runtime.set_threads(cfg.threads)
    before = evaluate_checkpoint(prior, cfg, out / "before", show, reuse=resume, cache=True)
    p = build(cfg, out, prior, show, reuse=resume)
    ckpt = latest_checkpoint(out, deep=True, warn=True) if resume else None
    start = p.restore(ckpt) if ckpt is not None else 0
    return Started(out, prior, before, p, start, MetricsLog(out / "metrics.jsonl", resume_step=start if ckpt else None),
                   t0)


def run_steps(cfg, run: Started, title: str, step_fn, describe, show: bool, hook=None) -> None:
    """Steps ``run.start`` .. ``cfg.steps`` − 1: ``step_fn(parts, step)`` -> its metrics row, logged;
    a progress bar (``title``, then ``describe(row)``); ``hook(steps done)`` after each step; a
    checkpoint every ``cfg.checkpoint_every`` steps and after the last."""
    p = run.parts
    with progress_bar(show) as bar:
        task = bar.add_task(title, total=cfg.steps, completed=run.start)
        for step in range(run.start, cfg.steps):
            runtime.recheck_threads()
            row = step_fn(p, step)
            run.log.write(row)
            bar.update(task, completed=step + 1, description=describe(row))
            if hook is not None:
                hook(step + 1)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
                p.checkpoint(step + 1)


def finish_run(cfg, run: Started, show: bool, stage: str,
               selects_formats: bool = True) -> tuple[list[dict], list[dict]]:
    """Save the trained model as ``model/`` (its ``priorlab.json`` saying whether it kept the prior's
    click: :func:`priorlab.click.recheck`) and evaluate it (``after``); return the after rows and
    the metrics rows. ``stage``: the run kind, named where a model lost its click; ``selects_formats``:
    :func:`priorlab.click.recheck`'s."""
    p = run.parts
    kept = click.recheck(p.model, p.tok, world_for(run.prior), p.meta, stage, selects_formats)
    save_checkpoint(run.out / "model", p.model, p.tok, p.meta | {"step": cfg.steps} | kept)
    after = evaluate_checkpoint(run.out / "model", cfg, run.out / "after", show, reuse=False)
    return after, read_jsonl(run.out / "metrics.jsonl")


@storage_errors
def train(cfg, out: str | Path, resume: bool = False, show: bool = True) -> dict:
    """Run RL from ``cfg.prior`` into ``out``; return the summary (also ``out/summary.json``).

    ``resume`` continues from the newest checkpoint that verifies (newer broken ones are skipped
    with a warning). A full disk or a read-only directory raises StorageError."""
    check_prior(cfg)
    check_critique(cfg)
    run = start_run(cfg, out, resume, show, build_parts)
    out, p, start, log = run.out, run.parts, run.start, run.log
    probes = [q for d in cfg.data.depths for c in p.contexts for q in p.world.problems("eval", d, cfg.probe.n_problems, c)]
    probe_cfg = EvalConfig(n_samples=cfg.probe.n_samples, max_new_tokens=p.max_new,
                           temperature=cfg.rollout.temperature, top_p=cfg.rollout.top_p)
    if start == 0 and cfg.probe.every:
        log.write({"step": 0, "kind": "probe"} | run_probe(p, probes, probe_cfg))
    def probe(done: int) -> None:
        if cfg.probe.every and done % cfg.probe.every == 0:
            log.write({"step": done, "kind": "probe"} | run_probe(p, probes, probe_cfg))

    run_steps(cfg, run, f"RL {cfg.algo.advantage}/{cfg.algo.loss} {n_params(p.model) / 1e6:.2f}M params", rl_step,
              lambda row: f"RL reward {row['reward_mean'] or 0:.2f} verified {row['verified']:.2f}", show, probe)
    after, rows = finish_run(cfg, run, show, "rl")
    M.plot_training(rows, out / "training.png")
    summary = {"prior": str(run.prior), "checkpoint": str((out / "model").resolve()), "steps": cfg.steps,
               "pool_size": len(p.pool), "max_new_tokens": p.max_new, "before": run.before, "after": after,
               "wall_s": round(time.perf_counter() - run.t0, 2),
               "rl_seconds": round(sum(r.get("seconds_step", 0) for r in rows if r.get("kind") == "train"), 2)}
    write_json(out / "summary.json", summary)
    return summary


def rl_step(p: Parts, step: int) -> dict:
    """One rollout batch and its updates; returns the ``metrics.jsonl`` row."""
    cfg = p.cfg
    t0 = time.perf_counter()
    idx = step_prompts(len(p.pool), step, cfg.rollout.prompts_per_step, cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, cfg, step, p.max_new)
    row = M.rollout_metrics(ro)  # of the on-policy samples
    if cfg.critique.enabled:
        ro, refined = refine(p.model, p.tok, p.world, ro, [p.pool.label[i] for i in idx], cfg, step, p.max_new)
        row |= refined
    dev = next(p.model.parameters()).device
    batch = to_batch(ro.prompt_ids, ro.ids, ro.logp_old, dev, ro.off_policy)
    if cfg.rollout.mask_truncated:
        batch.mask *= torch.as_tensor(ro.finished, dtype=batch.mask.dtype, device=dev)[:, None]
    if bool(ro.off_policy.any()):
        question_logprobs(p, batch)
    t1 = time.perf_counter()
    ref_logp = None
    if cfg.algo.kl_coef > 0 or (cfg.kl_every and step % cfg.kl_every == 0):  # in the update's shapes and precision
        ref_logp = chunked_logprobs(p.ref, batch, first_epoch_chunks(cfg, step, len(batch), dev),
                                    cfg.rollout.temperature, p.bf16)
    values = returns = None
    if p.critic is not None:
        values, returns = critic_targets(p.critic, batch, ro.rewards, cfg.algo, p.bf16)
    adv, keep = advantages_for(cfg.algo, ro.rewards, ro.group, None if values is None else values.cpu(),
                               batch.mask.cpu())
    try:
        stats = update(p.model, p.opt, p.sched, batch, adv.to(dev), keep.to(dev), cfg, step, p.max_new,
                       ref_logp=ref_logp, critic=p.critic, critic_opt=p.critic_opt, old_values=values,
                       returns=returns, bf16=p.bf16)
    except FloatingPointError as e:
        raise FloatingPointError(f"{e}; the run stopped and nothing after the last good checkpoint "
                                 f"({latest_checkpoint(p.out, deep=True, finite=True)}) was saved (lower "
                                 f"optim.lr?)") from None
    t2 = time.perf_counter()
    return ({"step": step + 1, "kind": "train"} | row
            | (M.kl_metrics(batch.logp_old, ref_logp, batch.mask) if ref_logp is not None else {}) | stats
            | {"lr": p.sched.get_last_lr()[0], "seconds_sample": round(ro.seconds["sample"], 3),
               "seconds_score": round(ro.seconds["score"], 3), "seconds_update": round(t2 - t1, 3),
               "seconds_step": round(t2 - t0, 3)})


@torch.no_grad()
def question_logprobs(p: Parts, batch) -> None:
    """Set ``batch.logp_old`` of the off-policy rows (refinements, sampled with a critique in
    context) to their log-probs under the original question, what the loss and the ratio and KL
    statistics read."""
    rows = batch.off_policy.nonzero().squeeze(1)
    sub = batch.select(rows)
    logp, _ = token_logprobs(p.model, sub, p.cfg.rollout.temperature, bf16=p.bf16)
    batch.logp_old[rows] = 0.0
    batch.logp_old[rows, :logp.shape[1]] = logp * sub.mask


def run_probe(p: Parts, problems, probe_cfg) -> dict:
    """The periodic eval on a fixed subset with fixed sampling seeds."""
    t = time.perf_counter()
    records = sample_and_verify(p.model, p.tok, p.world, problems, probe_cfg, p.cfg.seed, show=False)
    return M.probe_metrics(records, probe_cfg.n_samples) | {"seconds_probe": round(time.perf_counter() - t, 3)}
