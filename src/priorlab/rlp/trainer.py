"""The RLP loop: positions -> thoughts -> information gain -> RLOO advantage -> clipped surrogate
on thought tokens -> AdamW, then the EMA baseline follows the weights.

``train(cfg, out)`` evaluates the prior (``before``, RL's evaluations), appends ``<think>`` and
``</think>`` to its vocabulary (new embedding rows: the mean of the old ones), runs ``cfg.steps``
steps with checkpoints (weights, optimizer, scheduler, RNG, the EMA weights, tokens seen and
FLOPs) every ``checkpoint_every`` steps, evaluates the final model (``after``) and writes
``summary.json`` in RL's layout plus tokens seen, FLOPs and the budgets a continued-pretraining
baseline needs to match them (:mod:`priorlab.rlp.matched`). Every draw is a function of
``(cfg.seed, step)``, so ``resume`` continues bit-identically on CPU.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab import runtime
from priorlab.checkpoint import latest_checkpoint, loading, restore, save_checkpoint, storage_errors, trainer_state
from priorlab.evaluate import checkpoint_meta, world_for
from priorlab.model import load_model, n_params
from priorlab.pretrain import make_optimizer, solution_loss
from priorlab.rl.policy import to_batch
from priorlab.rl.rollout import step_seed
from priorlab.rl.trainer import finish_run, rl_precision, run_steps, start_run, warmup_then_constant
from priorlab.rl.update import advantages_for, update
from priorlab.rlp.config import check_inputs
from priorlab.rlp.objective import (
    FLOPS_FORMULA, cut_thought, ema_update, information_gain, step_flops, step_positions, target_logprob,
    thought_prefixes,
)
from priorlab.runs import write_json
from priorlab.sampling import sample, stop_ids
from priorlab.sft.data import Examples, corpus_examples, pad_batch
from priorlab.tokenizer import load_tokenizer, with_words
from priorlab.worlds.formats import THOUGHT_TOKENS


def add_thought_tokens(model, tok):
    """``tok`` with ``<think>`` / ``</think>`` appended (:func:`priorlab.tokenizer.with_words`) and
    ``model`` resized to it in place, each new input and output row the mean of the old rows
    (deterministic: no draw). A prior trained on thought documents (``corpus.thoughts``) has them."""
    new = with_words(tok, list(THOUGHT_TOKENS))
    old = model.get_input_embeddings().weight.shape[0]
    if len(new) > old:
        model.resize_token_embeddings(len(new), mean_resizing=False)
        with torch.no_grad():
            for emb in {model.get_input_embeddings().weight, model.get_output_embeddings().weight}:
                emb[old:] = emb[:old].mean(0)
    return new


@dataclass
class Parts:
    """What one RLP run holds while it trains."""

    cfg: object
    out: Path
    model: torch.nn.Module
    ema: torch.nn.Module
    tok: object
    opt: torch.optim.Optimizer
    sched: object
    data: Examples
    bf16: bool
    meta: dict
    think: tuple[int, int]
    n_params: int
    tokens_seen: int = 0
    flops: int = 0

    def checkpoint(self, step: int) -> None:
        """``checkpoints/step-N``: weights, optimizer, scheduler, RNG, EMA weights, tokens and FLOPs."""
        save_checkpoint(self.out / "checkpoints" / f"step-{step}", self.model, self.tok, self.meta | {"step": step},
                        trainer_state(self.opt, self.sched, step, ema=self.ema.state_dict(),
                                      tokens_seen=self.tokens_seen, flops=self.flops))

    def restore(self, ckpt: Path) -> int:
        state = restore(ckpt, self.model, self.opt, self.sched)
        with loading(ckpt):
            self.ema.load_state_dict(state["ema"])
            self.tokens_seen, self.flops = int(state["tokens_seen"]), int(state["flops"])
            return int(state["step"])


def build_parts(cfg, out: Path, prior: Path, show: bool, reuse: bool = False) -> Parts:
    """Load the prior with the thought tokens added, its EMA copy, the documents and the optimizer
    (RL's: warm-up, then constant)."""
    dev = runtime.device()
    model = load_model(prior, dev)
    tok = add_thought_tokens(model, load_tokenizer(prior))
    ema = copy.deepcopy(model).requires_grad_(False)
    data = corpus_examples(cfg, world_for(prior), tok)
    opt = make_optimizer(model, cfg.optim)
    sched = warmup_then_constant(opt, cfg.optim.warmup_steps)
    meta = checkpoint_meta(prior) | {"prior": str(prior), "rlp": {
        "target_tokens": cfg.rlp.target_tokens, "thought_tokens": cfg.rollout.max_new_tokens,
        "group_size": cfg.rollout.group_size, "ema_decay": cfg.rlp.ema_decay, "ntp_coef": cfg.rlp.ntp_coef}}
    think = tuple(tok.convert_tokens_to_ids(list(THOUGHT_TOKENS)))
    return Parts(cfg, out, model, ema, tok, opt, sched, data, rl_precision(cfg, dev), meta, think, n_params(model))


def sample_thoughts(p: Parts, contexts: list[list[int]], step: int):
    """G thoughts per context after ``<think>``; returns (thoughts, their sampler log-probs, closed
    flags, group [R], tokens generated)."""
    ro = p.cfg.rollout
    texts = [" ".join(p.tok.convert_ids_to_tokens(c + [p.think[0]])) for c in contexts]
    s = sample(p.model, p.tok, texts, ro.group_size, max_new_tokens=ro.max_new_tokens, temperature=ro.temperature,
               top_p=ro.top_p, seed=step_seed(p.cfg.seed, step))
    stop = set(stop_ids(p.model, p.tok))
    cut = [cut_thought(ids, lp, p.think[1], stop) for ids, lp in zip(s.ids, s.logprobs)]
    return ([c[0] for c in cut], [c[1] for c in cut], [c[2] for c in cut], s.prompt_index,
            sum(len(i) for i in s.ids))


@dataclass
class Scored:
    """One step's thoughts and their rewards: ``pos`` (positions), ``group`` [R] (each thought's
    position), ``prefixes`` / ``targets`` (the reward's teacher-forced inputs), ``logp_think`` [R]
    and ``logp_ema`` [B] (log p of the targets with and without the thought), ``rewards`` [R]
    (information gain), ``batch`` (the policy's tensors: ``context <think>`` then the thought),
    ``closed`` [R] (the thought ended with a sampled ``</think>``), ``generated``: tokens sampled."""

    pos: object
    group: torch.Tensor
    prefixes: list[list[int]]
    targets: list[list[int]]
    logp_think: torch.Tensor
    logp_ema: torch.Tensor
    rewards: torch.Tensor
    batch: object
    closed: list[bool]
    generated: int


def score(p: Parts, step: int) -> Scored:
    """Sample step ``step``'s positions and thoughts and reward each thought (no gradient)."""
    cfg = p.cfg
    pos = step_positions(p.data.prompts, p.data.completions, step, cfg.rollout.prompts_per_step, cfg.seed,
                         cfg.rlp.target_tokens)
    p.model.eval()
    thoughts, logp_old, closed, group, generated = sample_thoughts(p, pos.contexts, step)
    prefixes = thought_prefixes(pos.contexts, thoughts, closed, group, *p.think)
    targets = [pos.targets[g] for g in group]
    logp_think = target_logprob(p.model, prefixes, targets, p.bf16)
    logp_ema = target_logprob(p.ema, pos.contexts, pos.targets, p.bf16)
    g = torch.from_numpy(group.astype(np.int64))
    batch = to_batch([pos.contexts[i] + [p.think[0]] for i in group], thoughts, logp_old,
                     next(p.model.parameters()).device)
    return Scored(pos, g, prefixes, targets, logp_think, logp_ema, information_gain(logp_think, logp_ema, g), batch,
                  closed, generated)


def step_compute(p: Parts, sc: Scored, ntp_tokens: int) -> tuple[int, int]:
    """(document tokens read, FLOPs) of a step by :data:`FLOPS_FORMULA`."""
    contexts, targets = sc.pos.contexts, sc.pos.targets
    docs = sum(len(c) + len(t) for c, t in zip(contexts, targets))
    forward = (sum(len(c) + 1 for c in contexts) + sc.generated + docs
               + sum(len(a) + len(b) for a, b in zip(sc.prefixes, sc.targets)))
    trained = p.cfg.algo.epochs * int(sc.batch.mask.sum() + sum(len(contexts[i]) + 1 for i in sc.group))
    return docs, step_flops(p.n_params, forward, trained + ntp_tokens)


def rlp_step(p: Parts, step: int) -> dict:
    """One RLP step; returns the ``metrics.jsonl`` row."""
    cfg, t0 = p.cfg, time.perf_counter()
    sc = score(p, step)
    t1 = time.perf_counter()
    adv, keep = advantages_for(cfg.algo, sc.rewards, sc.group)
    dev = sc.batch.tokens.device
    p.model.train()
    stats = update(p.model, p.opt, p.sched, sc.batch, adv.to(dev), keep.to(dev), cfg, step,
                   cfg.rollout.max_new_tokens, bf16=p.bf16)
    ntp = ntp_step(p, sc.pos.doc) if cfg.rlp.ntp_coef else {}
    ema_update(p.ema, p.model, cfg.rlp.ema_decay)
    t2 = time.perf_counter()
    docs, flops = step_compute(p, sc, ntp.get("tokens", 0))
    p.tokens_seen, p.flops = p.tokens_seen + docs, p.flops + flops
    return ({"step": step + 1, "kind": "train", "reward_mean": float(sc.rewards.mean()),
             "reward_std": float(sc.rewards.std()), "logp_think": float(sc.logp_think.mean()),
             "logp_ema": float(sc.logp_ema.mean()), "thought_len": float(sc.batch.mask.sum(1).mean()),
             "closed": float(np.mean(sc.closed))} | stats
            | ({"ntp_loss": ntp["loss"]} if ntp else {})
            | {"tokens": docs, "tokens_seen": p.tokens_seen, "flops_step": flops, "flops": p.flops,
               "lr": p.sched.get_last_lr()[0], "seconds_sample": round(t1 - t0, 3),
               "seconds_update": round(t2 - t1, 3), "seconds_step": round(t2 - t0, 3)})


def ntp_step(p: Parts, docs: np.ndarray) -> dict:
    """One optimizer step on ``rlp.ntp_coef`` × the next-token loss of the step's documents
    (solution tokens, as pretraining); returns its loss and the tokens it trained."""
    dev = next(p.model.parameters()).device
    tokens, doc, sol = pad_batch([p.data.prompts[d] for d in docs], [p.data.completions[d] for d in docs], dev)
    with runtime.autocast(dev, p.bf16):
        loss = solution_loss(p.model, tokens, doc, sol)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the next-token loss became {loss.item()}; the last good checkpoint is "
                                 f"{latest_checkpoint(p.out, deep=True, finite=True) or 'none'} (lower optim.lr?)")
    p.opt.zero_grad(set_to_none=True)
    runtime.backward(p.cfg.rlp.ntp_coef * loss)
    torch.nn.utils.clip_grad_norm_(p.model.parameters(), p.cfg.optim.grad_clip)
    p.opt.step()
    return {"loss": loss.item(), "tokens": int(doc.bool().sum())}


@storage_errors
def train(cfg, out: str | Path, resume: bool = False, show: bool = True) -> dict:
    """RLP from ``cfg.prior`` into ``out``; return the summary (also ``out/summary.json``).

    ``resume`` continues from the newest checkpoint that verifies. A full disk or a read-only
    directory raises StorageError."""
    check_inputs(cfg)
    run = start_run(cfg, out, resume, show, build_parts)
    out, p = run.out, run.parts
    run_steps(cfg, run, f"RLP {n_params(p.model) / 1e6:.2f}M params, {len(p.data)} documents", rlp_step,
              lambda row: f"RLP info gain {row['reward_mean']:+.3f}", show)
    p.model.eval()
    after, rows = finish_run(cfg, run, show, "rlp", selects_formats=False)  # RLP should leave formats alone
    prior_params = n_params(load_model(run.prior))
    train_rows = [r for r in rows if r.get("kind") == "train"]
    summary = {"prior": str(run.prior), "checkpoint": str((out / "model").resolve()), "steps": cfg.steps,
               "documents": len(p.data), "params": p.n_params, "tokens_seen": p.tokens_seen, "flops": p.flops,
               "flops_formula": FLOPS_FORMULA,
               "matched": {"tokens": p.tokens_seen, "flops_tokens": p.flops // (6 * prior_params),
                           "prior_params": prior_params},
               "reward_first": train_rows[0]["reward_mean"], "reward_last": train_rows[-1]["reward_mean"],
               "before": run.before, "after": after, "wall_s": round(time.perf_counter() - run.t0, 2),
               "rlp_seconds": round(sum(r.get("seconds_step", 0) for r in train_rows), 2)}
    write_json(out / "summary.json", summary)
    return summary
