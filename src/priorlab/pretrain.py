"""Pretraining a controlled prior from scratch on a composed corpus.

Loss on solution tokens only (the prompt is given at test time); documents are packed with
per-document attention (block-diagonal causal mask) and positions restarting at 0, so a packed
row computes exactly what separate documents would. AdamW (no decay on embeddings and norms),
linear warm-up then cosine to ``min_lr_ratio``, gradient clipping, bf16 autocast.
Data order is a pure function of the step and a checkpoint holds the optimizer, scheduler, RNG
state and the partial loss window (:mod:`priorlab.checkpoint`), so ``resume`` continues exactly,
metrics rows included.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from priorlab import click, runtime
from priorlab.checkpoint import latest_checkpoint, loading, restore, save_checkpoint, storage_errors, trainer_state
from priorlab.corpus import Corpus, build_corpus, corpus_vocabulary
from priorlab.model import build_model, load_model, n_params
from priorlab.progress import progress_bar
from priorlab.config import ConfigError
from priorlab.errors import first_line
from priorlab.runs import MetricsLog, prepare_run, read_jsonl, write_json
from priorlab.tokenizer import build_tokenizer


def packed_inputs(tokens: torch.Tensor, doc: torch.Tensor):
    """Block-diagonal causal mask [B, 1, L, L] (bool) and per-document positions [B, L]."""
    B, L = tokens.shape
    causal = torch.ones(L, L, dtype=torch.bool, device=tokens.device).tril()
    mask = (doc[:, :, None] == doc[:, None, :]) & causal
    idx = torch.arange(L, device=tokens.device).expand(B, L)
    starts = torch.ones_like(doc, dtype=torch.bool)
    starts[:, 1:] = doc[:, 1:] != doc[:, :-1]
    first = torch.cummax(torch.where(starts, idx, torch.zeros_like(idx)), dim=1).values
    return mask[:, None], idx - first


def solution_loss(model, tokens, doc, sol) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) over solution targets. Inputs [B, L]."""
    mask, pos = packed_inputs(tokens, doc)
    logits = model(input_ids=tokens, attention_mask=mask, position_ids=pos).logits
    target_ok = sol[:, 1:] & (doc[:, 1:] == doc[:, :-1])
    return F.cross_entropy(logits[:, :-1][target_ok].float(), tokens[:, 1:][target_ok])


def batch_indices(step: int, batch_size: int, n_rows: int, seed: int, first: int = 0) -> np.ndarray:
    """Row indices of ``step``: a seeded permutation per pass over the corpus. ``first``: in the
    first pass, rows 0..first-1 (a curriculum's first phase) come first, each part in its own order."""
    g = step * batch_size + np.arange(batch_size)
    out = np.empty(batch_size, np.int64)
    for epoch in np.unique(g // n_rows):
        rng = np.random.default_rng([seed, int(epoch)])
        perm = (np.concatenate([rng.permutation(first), first + rng.permutation(n_rows - first)])
                if first and epoch == 0 else rng.permutation(n_rows))
        sel = g // n_rows == epoch
        out[sel] = perm[g[sel] % n_rows]
    return out


def make_optimizer(model, cfg):
    """AdamW with weight decay on matrices only (not embeddings, norms or biases)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim == 2 and "embed" not in name else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas))
    return opt


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def init_weights(model, tok, path: str) -> dict:
    """Load a priorlab checkpoint's weights into ``model`` (continued pretraining); returns its
    ``priorlab.json`` so the new prior's metadata covers both corpora's depths and contexts."""
    from priorlab.evaluate import checkpoint_meta
    from priorlab.tokenizer import load_tokenizer

    if not (Path(path) / "config.json").exists():
        raise ConfigError(f"pretrain.init_from: {path} is not a model directory (config.json + safetensors)")
    vocab = tok.get_vocab()
    if any(vocab.get(w) != i for w, i in load_tokenizer(path).get_vocab().items()):
        raise ConfigError(f"pretrain.init_from: {path} has another vocabulary than this world's; continue "
                          f"from a prior of the same world config")
    try:
        model.load_state_dict(grown(load_model(path).state_dict(), model.state_dict()))
    except RuntimeError as e:
        raise ConfigError(f"pretrain.init_from: {path} has another model shape than model.* here "
                          f"({str(e).splitlines()[0]}); set the same model preset") from None
    return checkpoint_meta(path)


def grown(state: dict, own: dict) -> dict:
    """``state`` with each tensor that has fewer rows than the model's own (the embedding and
    the head of a vocabulary that the new corpus extends, e.g. by critique markers) padded with
    the model's freshly initialised rows: old tokens keep their weights, new ones start fresh."""
    out = dict(state)
    for name, t in state.items():
        mine = own.get(name)
        if mine is not None and t.dim() == 2 and t.shape[1] == mine.shape[1] and t.shape[0] < mine.shape[0]:
            out[name] = torch.cat([t, mine[t.shape[0]:]])
    return out


@dataclass
class _Run:
    """What one pretraining run holds while it trains."""

    cfg: object
    out: Path
    dev: torch.device
    bf16: bool
    threads: int
    world: object
    tok: object
    corpus: Corpus
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    meta: dict
    total: int
    rows: dict
    forward: torch.nn.Module  # the model, or its torch.compile wrapper (pretrain.compile)


def prior_corpus(cfg):
    """The world, tokenizer and corpus of prior config ``cfg``: a curriculum's first phase from the
    world with ``corpus.curriculum.world`` changed."""
    world = cfg.world.build()
    tok = build_tokenizer(world.vocabulary() + corpus_vocabulary(cfg.corpus))
    first = cfg.world.changed(cfg.corpus.curriculum.world).build() if cfg.corpus.curriculum.world else None
    pc = cfg.pretrain
    corpus: Corpus = build_corpus(world, cfg.corpus, tok.get_vocab(), pc.tokens, pc.seq_len, first)
    return world, tok, corpus


def _build(cfg, out: Path) -> _Run:
    """World, tokenizer, corpus (``out/corpus.json``), model, optimizer, schedule and metadata."""
    pc = cfg.pretrain
    dev = runtime.device()
    threads = runtime.set_threads(pc.threads)
    world, tok, corpus = prior_corpus(cfg)
    write_json(out / "corpus.json", corpus.stats)
    total = pc.total_steps
    torch.manual_seed(pc.seed)
    model = build_model(cfg.model, tok, max_positions=max(1024, pc.seq_len)).to(dev)
    base = init_weights(model, tok, pc.init_from) if pc.init_from else {}
    opt = make_optimizer(model, pc)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, total, pc.warmup_steps, pc.min_lr_ratio))
    contexts = [c for c, w in cfg.corpus.contexts.items() if w > 0]
    meta = {"world": cfg.world.model_dump(mode="json"),
            "pretrain_depths": sorted({int(d) for d in cfg.corpus.depths} | set(base.get("pretrain_depths", []))),
            "corpus_contexts": list(dict.fromkeys(base.get("corpus_contexts", []) + contexts)),
            "corpus_formats": cfg.corpus.formats, "corpus_sha256": corpus.stats["sha256"]}
    if pc.init_from:
        meta["init_from"] = str(Path(pc.init_from).resolve())
    rows = {k: torch.from_numpy(getattr(corpus, k)).to(dev) for k in ("tokens", "doc", "sol")}
    rows["tokens"] = rows["tokens"].long()
    forward = torch.compile(model, dynamic=False) if runtime.use_compile(pc.compile, total, dev) else model
    return _Run(cfg, out, dev, runtime.use_bf16(pc.precision, dev), threads, world, tok, corpus, model, opt,
                sched, meta, total, rows, forward)


def _train_step(r: _Run, step: int) -> tuple[float, float]:
    """One optimizer step on the batch of ``step``; returns (loss, grad norm)."""
    pc = r.cfg.pretrain
    idx = torch.from_numpy(batch_indices(step, pc.batch_size, len(r.corpus.tokens), pc.seed,
                                         r.corpus.first_rows)).to(r.dev)
    try:
        loss = _loss_backward(r, idx, step)
    except RuntimeError as e:  # a failed torch.compile (first step, or a recompile for new threads)?
        _go_eager(r, e)
        loss = _loss_backward(r, idx, step)
    gnorm = torch.nn.utils.clip_grad_norm_(r.model.parameters(), pc.grad_clip)
    r.opt.step()
    r.sched.step()
    return loss.item(), float(gnorm)


def _loss_backward(r: _Run, idx: torch.Tensor, step: int) -> torch.Tensor:
    """The batch's loss, its gradients in the parameters' ``.grad`` (zeroed first)."""
    r.opt.zero_grad(set_to_none=True)
    with runtime.autocast(r.dev, r.bf16):
        loss = solution_loss(r.forward, r.rows["tokens"][idx], r.rows["doc"][idx], r.rows["sol"][idx])
    if not torch.isfinite(loss):
        good = latest_checkpoint(r.out, deep=True, finite=True)
        raise FloatingPointError(f"loss became {loss.item()} at step {step}; the last good (finite) "
                                 f"checkpoint is {good or 'none'} (lower pretrain.lr?)")
    loss.backward()
    return loss


def _go_eager(r: _Run, e: Exception) -> None:
    """After a failed ``torch.compile``: go on eagerly (the step is redone, no update was made)
    under ``compile: auto``; a ConfigError under ``compile: true``, which asked for it. Any other
    error ``e`` is raised again."""
    from torch._dynamo.exc import TorchDynamoException  # imported here: 1 s, paid only on an error

    if r.forward is r.model or not isinstance(e, TorchDynamoException):
        raise e
    why = first_line(e)
    if r.cfg.pretrain.compile is True:
        raise ConfigError(f"pretrain.compile=on: torch.compile failed ({why}); set pretrain.compile=off") from e
    print(f"warning: torch.compile failed ({why}); pretraining goes on without it (pretrain.compile=off "
          f"skips the attempt)", file=sys.stderr)
    r.forward = r.model


@storage_errors
def pretrain(cfg, out: str | Path, resume: bool = False, show: bool = True) -> Path:
    """Train the prior described by ``cfg`` (a PriorConfig) into ``out``; return ``out/model``.

    ``resume`` continues from the newest checkpoint that verifies (newer broken ones are skipped
    with a warning). A full disk or a read-only directory raises StorageError. Every
    ``pretrain.probe_every`` steps and at the end the plateau probe (:mod:`priorlab.click`) is
    logged; ``clicked`` / ``click_step`` go to ``pretrain.json`` and the model's ``priorlab.json``."""
    if not cfg.world.build().pretrainable:
        raise ConfigError(f"world {cfg.world.name!r} only evaluates checkpoints; pretraining needs a procedural "
                          f"world with a fixed vocabulary (world.name=arith_dag)")
    out = prepare_run(out, cfg, resume)
    pc, r = cfg.pretrain, _build(cfg, out)
    ckpt = latest_checkpoint(out, deep=True, warn=True) if resume else None
    state = restore(ckpt, r.model, r.opt, r.sched) if ckpt is not None else {"step": 0, "losses": []}
    with loading(ckpt):  # the step, and the losses since the last metrics row
        start, losses = int(state["step"]), [float(x) for x in state["losses"]]
    log = MetricsLog(out / "metrics.jsonl", resume_step=start if ckpt else None)
    probes = click.probe_problems(r.world, cfg.corpus) if pc.probe_every else []
    r.model.train()
    t0 = time.perf_counter()
    with progress_bar(show) as bar:
        task = bar.add_task(f"pretrain {n_params(r.model) / 1e6:.2f}M params, {r.threads} threads",
                            total=r.total, completed=start)
        for step in range(start, r.total):
            runtime.recheck_threads()
            loss, gnorm = _train_step(r, step)
            losses.append(loss)
            done = step + 1
            if done % pc.log_every == 0 or done == r.total:
                elapsed = time.perf_counter() - t0
                log.write({"step": done, "tokens": done * pc.batch_size * pc.seq_len,
                           "loss": float(np.mean(losses)), "lr": r.sched.get_last_lr()[0],
                           "grad_norm": gnorm, "elapsed_s": round(elapsed, 2),
                           "tok_per_s": round((done - start) * pc.batch_size * pc.seq_len / elapsed, 1)})
                bar.update(task, completed=done, description=f"pretrain loss {np.mean(losses):.3f}")
                losses = []
            if probes and (done % pc.probe_every == 0 or done == r.total):
                log.write({"step": done} | click.probe(r.model, r.tok, r.world, probes, pc.seed))
            if done % pc.checkpoint_every == 0 or done == r.total:
                save_checkpoint(out / "checkpoints" / f"step-{done}", r.model, r.tok, r.meta | {"step": done},
                                trainer_state(r.opt, r.sched, done, losses=losses))
    return _finish(r, t0)


def _finish(r: _Run, t0: float) -> Path:
    """The final HF directory and ``pretrain.json``, both with the click summary (null when the run
    did not probe: ``pretrain.probe_every=0``)."""
    pc = r.cfg.pretrain
    clicked = (click.click_summary(read_jsonl(r.out / "metrics.jsonl"), pc.click_threshold) if pc.probe_every
               else {"clicked": None, "click_step": None})
    r.model.eval()
    save_checkpoint(r.out / "model", r.model, r.tok, r.meta | {"step": r.total} | clicked)
    write_json(r.out / "pretrain.json", {"steps": r.total, "threads": r.threads, "bf16": r.bf16,
                                         "compiled": r.forward is not r.model,
                                         "device": str(r.dev), "params": n_params(r.model),
                                         "wall_s": round(time.perf_counter() - t0, 2)} | clicked)
    return r.out / "model"


def pretrain_and_evaluate(cfg, out: str | Path, resume: bool = False, show: bool = True) -> dict:
    """The prior pipeline of ``priorlab demo`` and of store ``pretrain`` runs: :func:`pretrain`,
    then ``cfg.eval`` on ``out/model`` into ``out/eval``; the eval summary is also ``out/summary.json``."""
    from priorlab.evaluate import evaluate

    model_dir = pretrain(cfg, out, resume=resume, show=show)
    summary = evaluate(model_dir, cfg.eval, Path(out) / "eval", show=show, threads=cfg.pretrain.threads)
    info = json.loads((Path(out) / "pretrain.json").read_text())
    summary |= {k: info[k] for k in ("clicked", "click_step")}
    write_json(Path(out) / "summary.json", summary)
    return summary
