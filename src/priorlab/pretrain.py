"""Pretraining a controlled prior from scratch on a composed corpus.

Loss on solution tokens only (the prompt is given at test time); documents are packed with
per-document attention (block-diagonal causal mask) and positions restarting at 0, so a packed
row computes exactly what separate documents would. AdamW (no decay on embeddings and norms),
linear warm-up then cosine to ``min_lr_ratio``, gradient clipping, bf16 autocast.
Data order is a pure function of the step, so ``resume`` continues exactly.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from priorlab import runtime
from priorlab.corpus import Corpus, build_corpus
from priorlab.model import build_model, load_model, n_params, quiet_hf
from priorlab.progress import progress_bar
from priorlab.config import ConfigError
from priorlab.runs import MetricsLog, latest_checkpoint, prepare_run, write_json
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


def batch_indices(step: int, batch_size: int, n_rows: int, seed: int) -> np.ndarray:
    """Row indices of ``step``: a seeded permutation per pass over the corpus."""
    g = step * batch_size + np.arange(batch_size)
    out = np.empty(batch_size, np.int64)
    for epoch in np.unique(g // n_rows):
        perm = np.random.default_rng([seed, int(epoch)]).permutation(n_rows)
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


def save_checkpoint(path: Path, model, tok, meta: dict, state: dict | None = None) -> None:
    """HF directory (safetensors) + tokenizer + ``priorlab.json`` (+ ``trainer_state.pt``)."""
    quiet_hf()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    (path / "priorlab.json").write_text(json.dumps(meta, indent=2))
    if state is not None:
        torch.save(state, path / "trainer_state.pt")


def restore(ckpt: Path, model, opt, sched) -> int:
    """Load weights, optimizer, scheduler and RNG state from ``ckpt``; return its step."""
    from safetensors.torch import load_file

    state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
    model.load_state_dict(load_file(str(ckpt / "model.safetensors")), strict=False)
    model.tie_weights()
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"])
    return state["step"]


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


def init_weights(model, tok, path: str) -> dict:
    """Load a priorlab checkpoint's weights into ``model`` (continued pretraining); returns its
    ``priorlab.json`` so the new prior's metadata covers both corpora's depths and contexts."""
    from priorlab.evaluate import checkpoint_meta
    from priorlab.tokenizer import load_tokenizer

    if not (Path(path) / "config.json").exists():
        raise ConfigError(f"pretrain.init_from: {path} is not a model directory (config.json + safetensors)")
    if load_tokenizer(path).get_vocab() != tok.get_vocab():
        raise ConfigError(f"pretrain.init_from: {path} has another vocabulary than this world's; continue "
                          f"from a prior of the same world config")
    try:
        model.load_state_dict(load_model(path).state_dict())
    except RuntimeError as e:
        raise ConfigError(f"pretrain.init_from: {path} has another model shape than model.* here "
                          f"({str(e).splitlines()[0]}); set the same model preset") from None
    return checkpoint_meta(path)


def pretrain(cfg, out: str | Path, resume: bool = False, show: bool = True) -> Path:
    """Train the prior described by ``cfg`` (a PriorConfig) into ``out``; return ``out/model``."""
    if not cfg.world.build().pretrainable:
        raise ConfigError(f"world {cfg.world.name!r} only evaluates checkpoints; pretraining needs a procedural "
                          f"world with a fixed vocabulary (world.name=arith_dag)")
    out = prepare_run(out, cfg, resume)
    pc = cfg.pretrain
    dev = runtime.device()
    threads = runtime.set_threads(pc.threads)
    bf16 = runtime.use_bf16(pc.precision, dev)
    world = cfg.world.build()
    tok = build_tokenizer(world.vocabulary())
    corpus: Corpus = build_corpus(world, cfg.corpus, tok.get_vocab(), pc.tokens, pc.seq_len)
    corpus.save_stats(out / "corpus.json")
    total = max(1, pc.tokens // (pc.batch_size * pc.seq_len))
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
    ckpt = latest_checkpoint(out) if resume else None
    start = restore(ckpt, model, opt, sched) if ckpt is not None else 0
    log = MetricsLog(out / "metrics.jsonl", resume_step=start if ckpt else None)
    rows = {k: torch.from_numpy(getattr(corpus, k)).to(dev) for k in ("tokens", "doc", "sol")}
    rows["tokens"] = rows["tokens"].long()
    model.train()
    t0, losses = time.perf_counter(), []
    with progress_bar(show) as bar:
        task = bar.add_task(f"pretrain {n_params(model) / 1e6:.2f}M params, {threads} threads",
                            total=total, completed=start)
        for step in range(start, total):
            runtime.recheck_threads()
            idx = torch.from_numpy(batch_indices(step, pc.batch_size, len(corpus.tokens), pc.seed)).to(dev)
            with runtime.autocast(dev, bf16):
                loss = solution_loss(model, rows["tokens"][idx], rows["doc"][idx], rows["sol"][idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; the last good "
                                         f"checkpoint is {latest_checkpoint(out)} (lower pretrain.lr?)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), pc.grad_clip)
            opt.step()
            sched.step()
            losses.append(loss.item())
            done = step + 1
            if done % pc.log_every == 0 or done == total:
                elapsed = time.perf_counter() - t0
                log.write({"step": done, "tokens": done * pc.batch_size * pc.seq_len,
                           "loss": float(np.mean(losses)), "lr": sched.get_last_lr()[0],
                           "grad_norm": float(gnorm), "elapsed_s": round(elapsed, 2),
                           "tok_per_s": round((done - start) * pc.batch_size * pc.seq_len / elapsed, 1)})
                bar.update(task, completed=done, description=f"pretrain loss {np.mean(losses):.3f}")
                losses = []
            if done % pc.checkpoint_every == 0 or done == total:
                state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                         "rng": _rng_state(), "step": done}
                save_checkpoint(out / "checkpoints" / f"step-{done}", model, tok, meta | {"step": done}, state)
    model.eval()
    save_checkpoint(out / "model", model, tok, meta | {"step": total})
    write_json(out / "pretrain.json", {"steps": total, "threads": threads, "bf16": bf16,
                                       "device": str(dev), "params": n_params(model),
                                       "wall_s": round(time.perf_counter() - t0, 2)})
    return out / "model"


def pretrain_and_evaluate(cfg, out: str | Path, resume: bool = False, show: bool = True) -> dict:
    """The prior pipeline of ``priorlab demo`` and of store ``pretrain`` runs: :func:`pretrain`,
    then ``cfg.eval`` on ``out/model`` into ``out/eval``; the eval summary is also ``out/summary.json``."""
    from priorlab.evaluate import evaluate

    model_dir = pretrain(cfg, out, resume=resume, show=show)
    summary = evaluate(model_dir, cfg.eval, Path(out) / "eval", show=show, threads=cfg.pretrain.threads)
    write_json(Path(out) / "summary.json", summary)
    return summary
