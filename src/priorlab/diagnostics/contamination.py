"""Partial-prompt contamination probe: can the model finish a question it was only half shown?

Source: Wu et al., "Reasoning or Memorization?" (arXiv 2507.10532, §3.2, §4.2, Table 1;
shared/research/claims.md §7). Each question is cut to its first 40 / 60 / 80% and the model
continues it greedily (argmax, no chat template). Lengths are counted in **whitespace tokens**
(the paper does not say whether it used characters or tokens; whitespace tokens are the
priorlab world's tokens and tokenizer-independent for foreign models): the prefix keeps
``max(1, floor(f · L))`` of the L words, at most L − 1.

Per item and fraction (the continuation's first ``len(remainder)`` words are compared):

- ``exact_match``: those words equal the true remainder.
- ``rouge_l``: ROUGE-L F1 on words, ``2PR / (P + R)`` with ``P = LCS / len(candidate)`` and
  ``R = LCS / len(reference)`` (Lin 2004; 0 when the LCS is empty).
- ``answer_contained``: every answer phrase occurs as a contiguous run of words anywhere in the
  whole continuation (priorlab items: each queried ``name value`` pair, e.g. ``t 4``).

Inputs are ``<bos> prefix`` (``bos`` only if the tokenizer has one) with **no** ``<sol>``
marker, unlike :func:`priorlab.sampling.sample`. ``mode="solve"`` appends the tokenizer's
``<sol>`` token and scores only ``answer_contained``: priorlab priors are trained on solution
tokens only (unless ``corpus.contamination.whole_document`` trains the planted documents whole),
so they never learn to continue a *question*, and the paper's completion metrics cannot see their
contamination; producing the answer from a question whose end (the last operations and the query)
was cut off can. Works with any local HF causal LM and tokenizer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab.diagnostics import DiagnosticInputError
from priorlab.sampling import fit_context
from priorlab.tokenizer import SOL

FRACTIONS = (0.4, 0.6, 0.8)
MODES = ("continue", "solve")
METRICS = ("exact_match", "rouge_l", "answer_contained")


@dataclass(frozen=True)
class ProbeItem:
    """A question (whitespace-token text) and the answer phrases a continuation must contain."""

    split: str
    id: str
    question: str
    answers: tuple[str, ...]


def world_items(world, splits: list[str], depths: list[int], n: int, contexts: list[str],
                start: int = 0) -> list[ProbeItem]:
    """Items start..start+n-1 of each split, depth and context of a priorlab world (answer phrases:
    ``World.answer_phrases``, e.g. ``name value`` pairs; a text world's gold answer).
    Contaminated items are indices 0..n_items-1 of ``eval-contaminated``."""
    from priorlab.diagnostics.passk_compare import key_str
    from priorlab.evaluate import problem_key

    return [ProbeItem(p.split, key_str(problem_key(p)), p.prompt, world.answer_phrases(p))
            for split in splits for depth in depths for ctx in contexts
            for p in world.problems(split, depth, n, ctx, start=start)]


def jsonl_items(path: str | Path) -> list[ProbeItem]:
    """Items from JSON lines ``{"question": str, "answer": str | [str], "split"?: str, "id"?: str}``."""
    items = []
    for i, line in enumerate(Path(path).read_text().splitlines()):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise DiagnosticInputError(f"{path}, line {i + 1}: not valid JSON ({e})") from None
        if not isinstance(d, dict) or "question" not in d or "answer" not in d:
            raise DiagnosticInputError(f"{path}, line {i + 1}: needs fields 'question' and 'answer' "
                                       f"(optional 'split', 'id'); got {sorted(d) if isinstance(d, dict) else d!r}")
        answers = d["answer"] if isinstance(d["answer"], list) else [d["answer"]]
        items.append(ProbeItem(d.get("split", "items"), str(d.get("id", i)), d["question"],
                               tuple(str(a) for a in answers)))
    return items


def truncate(question: str, fraction: float) -> tuple[list[str], list[str]]:
    """(prefix words, remainder words): the first ``floor(fraction · L)`` words, clipped to [1, L − 1]."""
    words = question.split()
    if len(words) < 2:
        raise DiagnosticInputError(f"question {question!r} has fewer than 2 words; nothing to truncate")
    keep = min(max(1, int(fraction * len(words))), len(words) - 1)
    return words[:keep], words[keep:]


def lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence (O(len(a) · len(b)) dynamic programme)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: list[str], reference: list[str]) -> float:
    """ROUGE-L F1 of word lists (module docstring)."""
    lcs = lcs_len(candidate, reference)
    if not lcs:
        return 0.0
    p, r = lcs / len(candidate), lcs / len(reference)
    return 2 * p * r / (p + r)


def contains(words: list[str], phrase: list[str]) -> bool:
    """``phrase`` occurs as a contiguous run in ``words``."""
    m = len(phrase)
    return any(words[i:i + m] == phrase for i in range(len(words) - m + 1))


@torch.no_grad()
def greedy_continue(model, tok, prefixes: list[list[str]], max_new_tokens: int, suffix_ids: tuple[int, ...] = (),
                    batch_size: int = 64) -> list[str]:
    """Greedy (argmax) continuations of ``<bos> prefix [suffix]`` with HF ``generate``, decoded
    up to (not including) ``<eos>``; special tokens are kept as words. A fresh generation config
    ignores the checkpoint's own (sampling, repetition penalty, ...), so decoding is pure argmax."""
    from transformers import GenerationConfig

    dev = next(model.parameters()).device
    head = [tok.bos_token_id] if tok.bos_token_id is not None else []
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    greedy = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                              eos_token_id=tok.eos_token_id, pad_token_id=pad)
    out = []
    for s in range(0, len(prefixes), batch_size):
        rows = [head + tok(" ".join(p), add_special_tokens=False)["input_ids"] + list(suffix_ids)
                for p in prefixes[s:s + batch_size]]
        width = max(map(len, rows))
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=dev)
        attn = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=dev)
        gen = model.generate(input_ids=ids, attention_mask=attn, generation_config=greedy)[:, width:].tolist()
        for g in gen:
            g = g[:g.index(tok.eos_token_id)] if tok.eos_token_id in g else g
            out.append(tok.decode(g, skip_special_tokens=False))
    return out


def probe_contamination(model, tok, items: list[ProbeItem], fractions=FRACTIONS, mode: str = "continue",
                        max_new_tokens: int | None = None, batch_size: int = 64) -> list[dict]:
    """One row per item and fraction: ``{split, id, fraction, mode, n_prefix_words,
    n_remainder_words, exact_match, rouge_l, answer_contained, continuation}`` (metrics in
    [0, 1]; ``exact_match``/``rouge_l`` are NaN in ``solve`` mode). ``max_new_tokens`` defaults
    to 3x the longest question in model tokens + 16 (room for the remainder and a solution), capped
    to the model's positions (:func:`priorlab.sampling.fit_context`)."""
    if mode not in MODES:
        raise DiagnosticInputError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    suffix: tuple[int, ...] = ()
    if mode == "solve":
        if SOL not in tok.get_vocab():
            raise DiagnosticInputError(f"mode 'solve' needs a {SOL} token; this tokenizer has none "
                                       f"(use mode 'continue' for foreign checkpoints)")
        suffix = (tok.convert_tokens_to_ids(SOL),)
    if max_new_tokens is None:
        max_new_tokens = 3 * max(len(tok(it.question, add_special_tokens=False)["input_ids"]) for it in items) + 16
    max_new_tokens = fit_context(model, tok, [it.question for it in items], max_new_tokens)
    cuts = [(it, f, *truncate(it.question, f)) for f in fractions for it in items]
    texts = greedy_continue(model, tok, [c[2] for c in cuts], max_new_tokens, suffix, batch_size)
    rows = []
    for (it, f, prefix, rest), text in zip(cuts, texts):
        words = text.split()
        cand = words[:len(rest)]
        scored = mode == "continue"
        rows.append({"split": it.split, "id": it.id, "fraction": f, "mode": mode, "n_prefix_words": len(prefix),
                     "n_remainder_words": len(rest),
                     "exact_match": float(cand == rest) if scored else float("nan"),
                     "rouge_l": rouge_l(cand, rest) if scored else float("nan"),
                     "answer_contained": float(all(contains(words, a.split()) for a in it.answers)),
                     "continuation": text})
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Means per (split, fraction, mode): ``{split, fraction, mode, n_items, exact_match,
    rouge_l, answer_contained}``."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["split"], r["fraction"], r["mode"]), []).append(r)
    return [{"split": s, "fraction": f, "mode": m, "n_items": len(rs)} | {k: float(np.mean([r[k] for r in rs]))
                                                                        for k in METRICS}
            for (s, f, m), rs in sorted(groups.items())]


def plot_contamination(summary: list[dict], path: str | Path) -> Path:
    """Exact match, ROUGE-L and answer containment vs prefix fraction, one line per split
    (contaminated vs clean side by side)."""
    from priorlab.plots import plt, save

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, metric in zip(axes, METRICS):
        for split in sorted({r["split"] for r in summary}):
            sel = sorted((r for r in summary if r["split"] == split), key=lambda r: r["fraction"])
            ax.plot([r["fraction"] for r in sel], [r[metric] for r in sel], "-o", label=split)
        ax.set(xlabel="prefix fraction (whitespace tokens)", ylabel=metric, ylim=(-0.02, 1.02), title=metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"partial-prompt probe ({summary[0]['mode']} mode, greedy)" if summary else "", fontsize=9)
    return save(fig, path)
