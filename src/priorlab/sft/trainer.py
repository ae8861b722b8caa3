"""The SFT loop: a fixed training set (:mod:`priorlab.sft.data`) -> completion-token NLL -> AdamW.

``train(cfg, out)`` evaluates the prior (``before``, the RL trainer's evaluations:
:func:`priorlab.rl.trainer.evaluate_checkpoint`), builds the training set, runs ``cfg.steps``
optimizer steps on batches of ``data.batch_size`` examples (a seeded permutation per pass,
:func:`priorlab.pretrain.batch_indices`, so the batch of a step is a pure function of
``(cfg.seed, step)``), checkpoints every ``checkpoint_every`` steps, evaluates the final model
(``after``) on the same problems with the same sampling seeds, and writes ``summary.json`` in
RL's layout. ``resume`` continues bit-identically (on CPU) from the newest checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from priorlab import runtime
from priorlab.checkpoint import latest_checkpoint, loading, restore, save_checkpoint, storage_errors, trainer_state
from priorlab.evaluate import checkpoint_meta, contexts_for, world_for
from priorlab.model import load_model, n_params
from priorlab.pretrain import batch_indices, lr_factor, make_optimizer, solution_loss
from priorlab.rl.rollout import build_pool
from priorlab.rl.trainer import finish_run, rl_precision, run_steps, start_run
from priorlab.rl.update import frozen_entries, zero_frozen_grads
from priorlab.runs import write_json
from priorlab.sft.config import check_inputs
from priorlab.sft.data import Examples, corpus_examples, pad_batch, teacher_examples
from priorlab.tokenizer import load_tokenizer


@dataclass
class Parts:
    """What one SFT run holds while it trains."""

    cfg: object
    out: Path
    model: torch.nn.Module
    tok: object
    opt: torch.optim.Optimizer
    sched: object
    data: Examples
    bf16: bool
    meta: dict
    frozen: dict
    tokens_seen: int = 0

    def checkpoint(self, step: int) -> None:
        """``checkpoints/step-N``: weights, optimizer, scheduler, RNG and the tokens seen, atomically."""
        save_checkpoint(self.out / "checkpoints" / f"step-{step}", self.model, self.tok, self.meta | {"step": step},
                        trainer_state(self.opt, self.sched, step, tokens_seen=self.tokens_seen))

    def restore(self, ckpt: Path) -> int:
        state = restore(ckpt, self.model, self.opt, self.sched)
        with loading(ckpt):
            self.tokens_seen = int(state["tokens_seen"])
            return int(state["step"])


def build_parts(cfg, out: Path, prior: Path, show: bool, reuse: bool = False) -> Parts:
    """Load the prior as the model to train, build the training set (teacher samples or corpus
    demonstrations) and the optimizer (warm-up, then a constant learning rate)."""
    dev = runtime.device()
    world, tok = world_for(prior), load_tokenizer(prior)
    d = cfg.data
    if d.source == "teacher":
        problems = build_pool(world, d, contexts_for(d.contexts, prior, world)).problems
        max_new = d.max_new_tokens or world.max_new_tokens(problems)
        data = teacher_examples(cfg, out, world, problems, tok, max_new, show, reuse)
    else:
        data = corpus_examples(cfg, world, tok)
    model = load_model(prior, dev)
    opt = make_optimizer(model, cfg.optim)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg.steps, cfg.optim.warmup_steps, 1.0))
    meta = checkpoint_meta(prior) | {"prior": str(prior), "sft": {"source": d.source, "filter": d.filter,
                                                                  "teacher": cfg.teacher}}
    return Parts(cfg, out, model, tok, opt, sched, data, rl_precision(cfg, dev), meta,
                 frozen_entries(model, cfg.optim.update_fraction, cfg.seed))


def sft_step(p: Parts, step: int) -> dict:
    """One optimizer step on the batch of ``step``; returns the ``metrics.jsonl`` row."""
    cfg = p.cfg
    t0 = time.perf_counter()
    idx = batch_indices(step, cfg.data.batch_size, len(p.data), cfg.seed)
    dev = next(p.model.parameters()).device
    tokens, doc, sol = pad_batch([p.data.prompts[i] for i in idx], [p.data.completions[i] for i in idx], dev)
    p.model.train()
    with runtime.autocast(dev, p.bf16):
        loss = solution_loss(p.model, tokens, doc, sol)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the SFT loss became {loss.item()} at step {step}; the last good checkpoint is "
                                 f"{latest_checkpoint(p.out, deep=True, finite=True) or 'none'} (lower optim.lr?)")
    p.opt.zero_grad(set_to_none=True)
    runtime.backward(loss)
    zero_frozen_grads(p.model, p.frozen)
    gnorm = torch.nn.utils.clip_grad_norm_(p.model.parameters(), cfg.optim.grad_clip)
    lr = p.sched.get_last_lr()[0]
    p.opt.step()
    p.sched.step()
    n = int(sol[:, 1:].sum())
    p.tokens_seen += n
    return {"step": step + 1, "kind": "train", "loss": loss.item(), "tokens": n, "tokens_seen": p.tokens_seen,
            "grad_norm": float(gnorm), "lr": lr, "seconds_step": round(time.perf_counter() - t0, 3)}


@storage_errors
def train(cfg, out: str | Path, resume: bool = False, show: bool = True) -> dict:
    """Fine-tune ``cfg.prior`` into ``out``; return the summary (also ``out/summary.json``).

    ``resume`` continues from the newest checkpoint that verifies, reusing the teacher samples
    already written. A full disk or a read-only directory raises StorageError."""
    check_inputs(cfg)
    run = start_run(cfg, out, resume, show, build_parts)
    out, p, start, log = run.out, run.parts, run.start, run.log
    if start == 0:
        log.write({"step": 0, "kind": "data"} | p.data.stats)
    run_steps(cfg, run, f"SFT ({cfg.data.source}) {n_params(p.model) / 1e6:.2f}M params, {len(p.data)} examples",
              sft_step, lambda row: f"SFT loss {row['loss']:.3f}", show)
    p.model.eval()
    after, rows = finish_run(cfg, run, show, "sft")
    summary = {"prior": str(run.prior), "teacher": cfg.teacher and str(Path(cfg.teacher).resolve()),
               "checkpoint": str((out / "model").resolve()), "steps": cfg.steps} | p.data.stats | {
        "tokens_seen": p.tokens_seen, "before": run.before, "after": after,
        "wall_s": round(time.perf_counter() - run.t0, 2),
        "sft_seconds": round(sum(r.get("seconds_step", 0) for r in rows if r.get("kind") == "train"), 2)}
    write_json(out / "summary.json", summary)
    return summary
