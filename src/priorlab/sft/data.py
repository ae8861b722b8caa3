"""The SFT training set: (prompt, completion) texts from a teacher or from the world, as token ids.

Teacher samples are a pure function of ``(seed, prompt index, sample index)`` (the sampler's
guarantee, :func:`priorlab.sampling.sample`): completion j of pool problem i is drawn by
:func:`priorlab.evaluate.sample_and_verify` with seed ``cfg.seed``. They are written, with the
verifier's verdicts, to ``teacher_samples.parquet`` in the run directory, so a resumed run reads
them back instead of sampling again. Corpus demonstrations are :func:`priorlab.corpus.document_texts`
split at ``<sol>``: a pure function of ``data.corpus``, rebuilt on resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from priorlab.config import EvalConfig
from priorlab.errors import ConfigError, InputDataError
from priorlab.tokenizer import SOL

SAMPLES = "teacher_samples.parquet"


@dataclass
class Examples:
    """The training set: ``prompts`` / ``completions`` token id lists (one pair per example) and
    ``stats`` (source, teacher_samples, kept, kept_share, examples) for metrics and the summary."""

    prompts: list[list[int]]
    completions: list[list[int]]
    stats: dict

    def __len__(self) -> int:
        return len(self.prompts)


def tokenize(tok, prompts: list[str], completions: list[str], stats: dict) -> Examples:
    """Prompt texts with the special tokens the tokenizer adds (as the sampler encodes them);
    completions as they stand (their ``<eos>`` is text: ``tok`` maps it to the stop id)."""
    from priorlab.sampling import encode

    p = encode(tok, prompts)["input_ids"] if prompts else []
    c = tok(completions, add_special_tokens=False)["input_ids"] if completions else []
    return Examples(list(p), list(c), stats | {"examples": len(prompts)})


def teacher_records(cfg, out: Path, world, problems, max_new: int, show: bool, reuse: bool) -> list[dict]:
    """Verified teacher samples of ``problems`` (``data.samples_per_prompt`` each), read from
    ``out/teacher_samples.parquet`` when ``reuse`` finds it, else sampled and written there."""
    path = out / SAMPLES
    if reuse and path.exists():
        records = pq.read_table(path).to_pylist()
        if [r["uid"] for r in records[::cfg.data.samples_per_prompt]] != [p.uid for p in problems]:
            raise InputDataError(f"{path}: its prompts are not this run's; remove it to sample the teacher again")
        return records
    from priorlab.evaluate import sample_and_verify
    from priorlab.model import load_model
    from priorlab.runtime import device
    from priorlab.tokenizer import load_tokenizer

    d = cfg.data
    teacher = load_model(cfg.teacher, device())
    scfg = EvalConfig(n_samples=d.samples_per_prompt, max_new_tokens=max_new, temperature=d.temperature, top_p=d.top_p)
    records = sample_and_verify(teacher, load_tokenizer(cfg.teacher), world, problems, scfg, cfg.seed, show)
    del teacher
    tmp = path.with_name(f".{SAMPLES}.tmp-{os.getpid()}")
    pq.write_table(pa.Table.from_pylist(records), tmp)
    os.replace(tmp, path)  # a kill leaves the whole file or none
    return records


def keep_records(records: list[dict], how: str) -> list[dict]:
    """The teacher samples ``data.filter`` keeps: all (``none``) or the verified ones; an empty
    verified set is a ConfigError (nothing to fine-tune on)."""
    if how == "none":
        return records
    kept = [r for r in records if r["verified"]]
    if not kept:
        raise ConfigError(f"no teacher completion verified (0 of {len(records)}); use data.filter=none or a "
                          f"stronger teacher")
    return kept


def teacher_examples(cfg, out: Path, world, problems, tok, max_new: int, show: bool, reuse: bool) -> Examples:
    """The teacher's completions of ``problems`` that ``data.filter`` keeps, tokenized."""
    records = teacher_records(cfg, out, world, problems, max_new, show, reuse)
    kept = keep_records(records, cfg.data.filter)
    stats = {"source": "teacher", "teacher_samples": len(records), "kept": len(kept),
             "kept_share": len(kept) / len(records),
             "teacher_verified": sum(bool(r["verified"]) for r in records) / len(records)}
    return tokenize(tok, [world.model_input(problems[r["problem"]]) for r in kept], [r["text"] for r in kept], stats)


def corpus_examples(cfg, world, tok) -> Examples:
    """``data.corpus_tokens`` words of world-rendered demonstrations (``data.corpus``: formats,
    depths, contexts, seed), each ``<bos> prompt <sol>`` + ``solution <eos>``."""
    from priorlab.corpus import document_texts

    docs, _ = document_texts(world, cfg.data.corpus, cfg.data.corpus_tokens)
    pairs = [text.split(f" {SOL} ", 1) for text, _ in docs]
    return tokenize(tok, [p + f" {SOL}" for p, _ in pairs], [c for _, c in pairs],
                    {"source": "corpus", "teacher_samples": 0, "kept": len(pairs), "kept_share": None})


def pad_batch(prompts: list[list[int]], completions: list[list[int]], device) -> tuple[torch.Tensor, ...]:
    """``tokens`` [B, L] long (prompt + completion, right-padded with 0), ``doc`` [B, L] long (1 on
    tokens, 0 on padding) and ``sol`` [B, L] bool (completion tokens): the inputs of
    :func:`priorlab.pretrain.solution_loss`, so the loss covers completion tokens only."""
    L = max(len(p) + len(c) for p, c in zip(prompts, completions))
    tokens = torch.zeros(len(prompts), L, dtype=torch.long)
    sol = torch.zeros(len(prompts), L, dtype=torch.bool)
    doc = torch.zeros(len(prompts), L, dtype=torch.long)
    for b, (p, c) in enumerate(zip(prompts, completions)):
        tokens[b, :len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
        doc[b, :len(p) + len(c)] = 1
        sol[b, len(p):len(p) + len(c)] = True
    return tokens.to(device), doc.to(device), sol.to(device)
