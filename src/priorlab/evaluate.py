"""Evaluate a checkpoint: n samples per problem, strict verdicts, pass@k tables and a plot.

Row schema of ``passk`` (Parquet and ``summary.json``): split, depth, context, format ("all" or
one format: only samples in that format count as correct, over all n), metric ("verified" =
strict trace check, "answer" = final answer only), k, pass_at_k, ci_low, ci_high (95%
bootstrap over problems), chance (uniform guessing), in_distribution (depth seen in
pretraining), n_problems, n_samples (per problem).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from priorlab import runtime
from priorlab.errors import CheckpointError, ConfigError
from priorlab.model import load_model
from priorlab.passk import bootstrap_ci, guess_pass_at_k, ks_up_to, pass_at_k_many
from priorlab.runs import write_json
from priorlab.sampling import sample
from priorlab.tokenizer import check_vocabulary, load_tokenizer
from priorlab.worlds import Problem, World

METRICS = ("verified", "answer")


def problem_key(p) -> tuple:
    """Identity of an evaluated item: (split, context, depth, index). Two indices can draw the same
    prompt, so the content uid would merge them and count more than n samples per problem."""
    return (p["split"], p["context"], p["depth"], p["index"]) if isinstance(p, dict) else \
        (p.split, p.context, p.depth, p.index)


def guess_prob(problems: list[Problem], world: World) -> float:
    """Mean chance that one uniform guess of the answer is right (``World.guess_prob``; NaN
    for worlds without a guessing model)."""
    return float(np.mean([world.guess_prob(p) for p in problems]))


def checkpoint_meta(path: str | Path) -> dict:
    """``priorlab.json`` of a priorlab checkpoint ({} for a foreign HF directory); a file that is
    not a JSON object is a :class:`~priorlab.errors.CheckpointError`."""
    p = Path(path) / "priorlab.json"
    if not p.exists():
        return {}
    try:
        meta = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{p}: not valid JSON ({e}); copy the checkpoint again") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{p}: expected a JSON object, got {type(meta).__name__}")
    return meta


def world_for(path: str | Path, world_cfg=None) -> World:
    """The world a checkpoint was trained on (or ``world_cfg`` for foreign checkpoints). The
    checkpoint's own world must be a valid config whose every word its tokenizer knows."""
    from priorlab.config import WorldConfig
    from priorlab.overrides import first_error

    meta = checkpoint_meta(path)
    if world_cfg is None and "world" not in meta:
        raise ConfigError(f"{path} has no priorlab.json; pass the world config (--config) to evaluate it")
    if world_cfg is not None:
        return world_cfg.build()
    where = Path(path) / "priorlab.json"
    if not isinstance(meta["world"], dict):
        raise CheckpointError(f"{where}: 'world' must be a mapping of world config fields")
    try:
        world = WorldConfig(**meta["world"]).build()
    except ValidationError as e:
        raise CheckpointError(f"{where}: world.{first_error(e, WorldConfig).removeprefix('world.')}") from None
    if world.pretrainable:
        check_vocabulary(path, world.vocabulary())
    return world


def contexts_for(asked: list[str] | None, checkpoint: str | Path, world: World) -> list[str]:
    """``asked`` contexts, else the checkpoint's pretraining contexts, else the world's first."""
    return asked or checkpoint_meta(checkpoint).get("corpus_contexts") or world.contexts[:1]


def sample_and_verify(model, tok, world: World, problems: list[Problem], cfg, seed: int, show: bool) -> list[dict]:
    """Sample ``cfg.n_samples`` completions per problem; one record per completion."""
    s = sample(model, tok, [world.model_input(p) for p in problems], cfg.n_samples,
               max_new_tokens=cfg.max_new_tokens or world.max_new_tokens(problems),
               temperature=cfg.temperature, top_p=cfg.top_p, seed=seed, max_rows=cfg.max_rows,
               show=show, desc=f"sampling depth {problems[0].depth}")
    rows = [problems[i] for i in s.prompt_index]
    verdicts = world.verify_many(rows, s.text, [not f for f in s.finished])
    records = []
    for r, (text, p, v) in enumerate(zip(s.text, rows, verdicts)):
        records.append({
            "split": p.split, "depth": p.depth, "context": p.context, "problem": int(s.prompt_index[r]),
            "index": p.index, "uid": p.uid, "sample": r % cfg.n_samples, "format": v.format,
            "verified": v.verified, "answer": v.answer_correct, "well_formed": v.well_formed,
            "truncated": v.truncated, "process_acc": v.process_acc, "confidence": v.confidence,
            "n_tokens": len(s.ids[r]), "sum_logprob": float(s.logprobs[r].sum()),
            "mean_entropy": float(s.entropies[r].mean()) if len(s.ids[r]) else 0.0, "text": text,
        })
    return records


def sample_eval(model, tok, world: World, cfg, contexts: list[str], show: bool) -> tuple[list[dict], dict]:
    """Records of :func:`sample_and_verify` over ``cfg``'s splits and depths (default: the world's
    eval depths): problems ``cfg.problem_offset .. + cfg.n_problems - 1`` of each (split, depth,
    context), sampling seed ``cfg.seed + depth``, so every checkpoint evaluated with one config
    sees the same problems and random draws; and ``{problem_key: Problem}``."""
    records, problems = [], {}
    for depth in cfg.depths or world.eval_depths:
        probs = [p for split in cfg.splits for ctx in contexts
                 for p in world.problems(split, depth, cfg.n_problems, ctx, start=cfg.problem_offset)]
        if not probs:
            raise ConfigError(f"eval: no problems of splits {cfg.splits} at depth {depth} from index "
                              f"{cfg.problem_offset} (problem_offset); lower eval.problem_offset or drop the depth")
        problems.update({problem_key(p): p for p in probs})
        records += sample_and_verify(model, tok, world, probs, cfg, cfg.seed + depth, show)
    return records, problems


def passk_rows(records: list[dict], problems: dict[str, Problem], world: World, in_dist: set[int],
               n: int, n_boot: int, seed: int) -> list[dict]:
    """Aggregate per-sample records into pass@k rows (see module docstring)."""
    rows = []
    groups: dict[tuple, list[dict]] = {}
    contexts = {r["context"] for r in records}
    for r in records:
        groups.setdefault((r["split"], r["depth"], "all"), []).append(r)
        if len(contexts) > 1:
            groups.setdefault((r["split"], r["depth"], r["context"]), []).append(r)
    for (split, depth, ctx), recs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        uids = sorted({problem_key(r) for r in recs})
        pos = {u: i for i, u in enumerate(uids)}
        idx = np.random.default_rng([seed, depth]).integers(0, len(uids), (n_boot, len(uids)))
        p_guess = guess_prob([problems[u] for u in uids], world)
        formats = ["all"] + list(world.formats) if ctx == "all" else ["all"]
        for fmt in formats:
            for metric in METRICS:
                correct = np.zeros(len(uids))
                for r in recs:
                    if r[metric] and (fmt == "all" or r["format"] == fmt):
                        correct[pos[problem_key(r)]] += 1
                for k in ks_up_to(n):
                    vals = pass_at_k_many(n, correct, k)
                    lo, hi = bootstrap_ci(vals, idx=idx)
                    rows.append({"split": split, "depth": depth, "context": ctx, "format": fmt,
                                 "metric": metric, "k": k, "pass_at_k": float(vals.mean()),
                                 "ci_low": lo, "ci_high": hi,
                                 "chance": 0.0 if metric == "verified" else guess_pass_at_k(p_guess, k),
                                 "in_distribution": depth in in_dist, "n_problems": len(uids), "n_samples": n})
    return rows


def format_rows(records: list[dict]) -> list[dict]:
    """Share and accuracy of each detected format, per split and depth."""
    out = []
    by: dict[tuple, list[dict]] = {}
    for r in records:
        by.setdefault((r["split"], r["depth"]), []).append(r)
    for (split, depth), recs in sorted(by.items()):
        counts = Counter(r["format"] for r in recs)
        for fmt, c in sorted(counts.items()):
            sel = [r for r in recs if r["format"] == fmt]
            out.append({"split": split, "depth": depth, "format": fmt, "share": c / len(recs),
                        "verified_acc": float(np.mean([r["verified"] for r in sel])),
                        "answer_acc": float(np.mean([r["answer"] for r in sel])), "n_samples": c})
    return out


def guessing_baseline(problems: list[Problem], world: World, n: int) -> dict:
    """Uniform guessing (NaN for worlds without a guessing model) and the best constant answer,
    per sample and at k = n."""
    p_uniform = guess_prob(problems, world)
    modes = Counter(tuple(v for _, v in p.answer) for p in problems)
    best_constant = modes.most_common(1)[0][1] / len(problems) if problems else 0.0
    return {"uniform_pass_at_1": p_uniform, f"uniform_pass_at_{n}": guess_pass_at_k(p_uniform, n),
            "best_constant_pass_at_1": best_constant, "verified_pass_at_k": 0.0,
            "note": "guessing never produces a verified trace (arithmetic world); answer-metric chance is a "
                    "uniform guess (P^-q in the arithmetic world)"}


def evaluate(checkpoint: str | Path, cfg, out: str | Path | None = None, world_cfg=None,
             show: bool = True, threads: int | None = None) -> dict:
    """Evaluate ``checkpoint`` on ``cfg`` (an EvalConfig); write tables and plot into ``out``.

    The world is the checkpoint's own (``priorlab.json``); ``world_cfg`` (a WorldConfig) is used
    for a checkpoint without one (any HF causal LM)."""
    t0 = time.perf_counter()
    runtime.set_threads(threads)
    dev = runtime.device()
    meta = checkpoint_meta(checkpoint)
    world = world_for(checkpoint, None if "world" in meta else world_cfg)
    model, tok = load_model(checkpoint, dev), load_tokenizer(checkpoint)
    contexts = contexts_for(cfg.contexts, checkpoint, world)
    records, problems = sample_eval(model, tok, world, cfg, contexts, show)
    in_dist = set(meta.get("pretrain_depths", []))
    rows = passk_rows(records, problems, world, in_dist, cfg.n_samples, cfg.bootstrap, cfg.seed)
    summary = {"checkpoint": str(Path(checkpoint).resolve()), "world": meta.get("world") or world_cfg.model_dump(mode="json"),
               "eval": cfg.model_dump(mode="json"), "passk": rows, "formats": format_rows(records),
               "guessing": guessing_baseline(list(problems.values()), world, cfg.n_samples),
               "n_completions": len(records), "n_tokens": int(sum(r["n_tokens"] for r in records)),
               "wall_s": round(time.perf_counter() - t0, 2)}
    if out is not None:
        write_outputs(Path(out), records, summary)
    return summary


def _cache_key(checkpoint: Path, cfg) -> str:
    """Eval config + the checkpoint's weight files (path, size, mtime): a changed file is a miss."""
    files = sorted(checkpoint.glob("*.safetensors"))
    ident = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    blob = json.dumps([cfg.model_dump(mode="json"), ident], sort_keys=True).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def evaluate_cached(checkpoint: str | Path, cfg, out: str | Path, show: bool = True,
                    threads: int | None = None) -> dict:
    """:func:`evaluate`, reusing an identical earlier evaluation stored in ``CHECKPOINT/evals/KEY/``.

    Many RL runs start from one prior with one eval config (every arm and seed of a claim); the
    prior's evaluation is deterministic, so it is computed once and copied into each ``out``.
    A read-only checkpoint directory just means no cache.
    """
    checkpoint, out = Path(checkpoint), Path(out)
    hit = checkpoint / "evals" / _cache_key(checkpoint, cfg)
    if (hit / "summary.json").exists():
        shutil.copytree(hit, out, dirs_exist_ok=True)
        return json.loads((hit / "summary.json").read_text())
    summary = evaluate(checkpoint, cfg, out, show=show, threads=threads)
    tmp = hit.parent / f".tmp-{os.getpid()}-{hit.name}"
    try:
        shutil.copytree(out, tmp, dirs_exist_ok=True)
        os.rename(tmp, hit)  # atomic; loses the race harmlessly if another run stored it first
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def write_outputs(out: Path, records: list[dict], summary: dict) -> None:
    """``samples.parquet``, ``passk.parquet``, ``summary.json``, ``passk.png``."""
    from priorlab.plots import plot_passk

    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records), out / "samples.parquet")
    pq.write_table(pa.Table.from_pylist(summary["passk"]), out / "passk.parquet")
    write_json(out / "summary.json", summary)
    plot_passk(summary["passk"], out / "passk.png")
