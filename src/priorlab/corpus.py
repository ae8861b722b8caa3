"""Corpus composition -> deterministic packed token stream.

A :class:`priorlab.config.CorpusConfig` fixes the format mix, depth mix, context exposure,
deliberate contamination and refinement documents. Documents are ``<bos> prompt <sol> solution
<eos>`` (a refinement document: :func:`refine_doc`; the loss covers what follows the last
``<sol>``); they are packed into rows of ``seq_len`` tokens without being split (a few rows stay
open for first-fit packing), and the *actual* composition is written next to the run
(``corpus.json``).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from priorlab.tokenizer import BOS, EOS, SOL
from priorlab.worlds import World
from priorlab.worlds.critique import critique, refine_input
from priorlab.worlds.formats import ANS, CRITIQUE_TOKENS, END_THINK, THINK, THOUGHT_TOKENS

OPEN_ROWS = 8  # rows kept open for first-fit packing
FIRST_INDEX = 10**9  # problem indices of a curriculum's first phase start here (no overlap with the rest)
FACTS = "facts"  # the tag of an operation-fact drill document (corpus.facts), not a solution format


@dataclass
class Corpus:
    """Packed rows. ``tokens``/``doc``: int32 [R, L]; ``sol``: bool [R, L] (solution tokens).

    ``doc`` is 0 on padding and a per-row document number (1, 2, ...) elsewhere. The first
    ``first_rows`` rows are a curriculum's first phase, served before the others.
    """

    tokens: np.ndarray
    doc: np.ndarray
    sol: np.ndarray
    stats: dict = field(default_factory=dict)
    first_rows: int = 0


def _weighted(rng: random.Random, weights: dict):
    keys = [k for k, w in weights.items() if w > 0]
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


@dataclass
class _Streams:
    """A corpus's seeded streams, one per kind of draw, so one knob's draws leave the others alone."""

    main: random.Random
    noise: random.Random
    refine: random.Random
    thought: random.Random
    order: random.Random
    facts: random.Random
    errors: random.Random

    @classmethod
    def of(cls, tag: str, seed: int) -> "_Streams":
        names = ("", "-confidence-noise", "-refine", "-thoughts", "-order", "-facts", "-errors")
        return cls(*(random.Random(f"{tag}corpus{n}/{seed}") for n in names))


def document_texts(world: World, cfg, n_tokens: int, first: bool = False) -> tuple[list[tuple[str, dict]], list[dict]]:
    """Documents (text, tags) totalling at least ``n_tokens`` words, plus the contaminated items.

    Pretraining documents come from the world's ``pretrain`` split; contamination copies eval
    items (indices 0..n_items-1 per depth and context) ``repeats`` times. Shuffled with
    ``cfg.seed``. ``first``: the curriculum's first phase (``cfg.curriculum``): its depth and format mix,
    its own seeded streams and problem indices, no contamination.
    """
    tag, depths, index0 = ("curriculum-", cfg.curriculum.depths, FIRST_INDEX) if first else ("", cfg.depths, 0)
    formats = (cfg.curriculum.formats or cfg.formats) if first else cfg.formats
    slips = cfg.curriculum.format_accuracy if first and cfg.curriculum.format_accuracy is not None else \
        cfg.format_accuracy
    st = _Streams.of(tag, cfg.seed)
    docs, contaminated = ([], []) if first else _contaminated_docs(world, cfg)
    total = sum(len(t.split()) for t, _ in docs)
    facts_total, i = 0, index0
    while total < n_tokens:
        if facts_total < cfg.facts * total:
            prompt, value = world.fact(st.facts)
            text = f"{BOS} {prompt} {SOL} {value} {EOS}"
            docs.append((text, {"format": FACTS, "depth": 1, "context": "", "contaminated": False}))
            n = text.count(" ") + 1
            facts_total, total = facts_total + n, total + n
            continue
        depth, ctx, fmt = _weighted(st.main, depths), _weighted(st.main, cfg.contexts), _weighted(st.main, formats)
        conf = stated_confidence(cfg, st.main, fmt, int(depth), st.noise)
        problem = world.problem("pretrain", i, int(depth), ctx)
        fmt, text, thought = _problem_doc(world, cfg, st, problem, fmt, conf, slips or {})
        docs.append((text, {"format": fmt, "depth": int(depth), "context": ctx, "contaminated": False,
                            "thought": thought}))
        total += text.count(" ") + 1
        i += 1
    st.main.shuffle(docs)
    return docs, contaminated


def _contaminated_docs(world: World, cfg) -> tuple[list[tuple[str, dict]], list[dict]]:
    """The planted documents (``cfg.contamination``: ``repeats`` copies of each eval item) and the items."""
    docs: list[tuple[str, dict]] = []
    items: list[dict] = []
    cont = cfg.contamination
    for depth in (cont.depths or sorted(cfg.depths)) if cont.n_items else []:
        for ctx in (c for c, w in cfg.contexts.items() if w > 0):
            for i in range(cont.n_items):
                p = world.problem(cont.split, i, int(depth), ctx)
                items.append({"split": p.split, "depth": p.depth, "context": ctx, "index": i, "uid": p.uid})
                tags = {"format": cont.format, "depth": p.depth, "context": ctx, "contaminated": True}
                docs += [(_doc(world, p, cont.format, None), tags)] * cont.repeats
    return docs, items


def _problem_doc(world: World, cfg, st: _Streams, problem, fmt: str, conf: float | None,
                 accuracy: dict[str, float]) -> tuple[str, str, bool]:
    """One problem document: (its format, or ``refine`` for a refinement document; text; whether it
    carries a thought), with the trace order, refinement share and thought share of ``cfg`` and the
    per-format ``accuracy`` (its phase's) each drawn from its own stream."""
    if cfg.drawn_orders and st.order.random() < cfg.drawn_orders:
        problem = world.in_drawn_order(problem, st.order)
    if cfg.refine.share and st.refine.random() < cfg.refine.share:
        fmt, text = "refine", refine_doc(world, problem, st.refine, cfg.refine.critiques)
    else:
        if fmt in accuracy:
            problem = world.with_errors(problem, accuracy[fmt], st.errors)
        text = _doc(world, problem, fmt, conf)
    thought = cfg.thoughts > 0 and fmt != "refine" and st.thought.random() < cfg.thoughts
    return fmt, with_thought(world, problem, text, st.thought) if thought else text, thought


def stated_confidence(cfg, rng: random.Random, fmt: str, depth: int, noise_rng: random.Random) -> float | None:
    """The ``<conf>`` value of one pretraining document, or None (no field), per
    ``cfg.confidence_prob``, ``confidence_op_acc`` and ``confidence_noise`` (CorpusConfig). The
    same ``rng`` draws are made whatever the last two are (the noise comes from ``noise_rng``),
    so the documents themselves do not change with them."""
    uniform = rng.choice(range(5, 11)) / 10 if rng.random() < cfg.confidence_prob else None
    if uniform is None or cfg.confidence_op_acc is None:
        return uniform
    q = cfg.confidence_op_acc[fmt] ** depth
    return min(1.0, max(0.0, q + noise_rng.gauss(0.0, cfg.confidence_noise))) if cfg.confidence_noise else q


def corpus_vocabulary(cfg) -> list[str]:
    """Tokens a corpus adds to its world's vocabulary: the critique markers of refinement
    documents, the thought markers of thought documents (appended after the world's, so every
    other token keeps its id)."""
    return (list(CRITIQUE_TOKENS) if cfg.refine.share else []) + (list(THOUGHT_TOKENS) if cfg.thoughts else [])


def _doc(world: World, problem, fmt: str, conf: float | None) -> str:
    return f"{BOS} {problem.prompt} {SOL} {world.render_solution(problem, fmt, conf)} {EOS}"


def with_thought(world: World, problem, doc: str, rng: random.Random) -> str:
    """``doc`` (``<bos> prompt <sol> solution <eos>``) with a thought: ``<think>``, the problem's
    steps-format trace (without its answer line), ``</think>``, inserted before a uniformly drawn
    token of the solution (``<eos>`` included), as RLP inserts its thoughts at any position."""
    toks = doc.split()
    trace = world.render_solution(problem, "steps").split()
    at = toks.index(SOL) + 1 + rng.randrange(len(toks) - toks.index(SOL) - 1)
    return " ".join(toks[:at] + [THINK, *trace[:trace.index(ANS)], END_THINK] + toks[at:])


def refine_doc(world: World, problem, rng: random.Random, critiques: dict[str, float]) -> str:
    """``<bos> question <sol> wrong attempt <crit> critique <sol> correct solution <eos>``: a wrong
    attempt (``World.wrong_solution``), the verifier's critique of it (a kind drawn from
    ``critiques``), then the gold solution in the steps format."""
    attempt = world.wrong_solution(problem, rng)
    crit = critique(world, problem, world.verify(problem, attempt), _weighted(rng, critiques))
    return f"{refine_input(world, problem, attempt, crit)} {world.render_solution(problem, 'steps')} {EOS}"


def build_corpus(world: World, cfg, vocab: dict[str, int], n_tokens: int, seq_len: int,
                 first_world: World | None = None) -> Corpus:
    """Pack documents worth ``n_tokens`` (rounded up to whole rows) into ``seq_len`` rows; with a
    curriculum (``cfg.curriculum.share`` > 0) its first phase is packed apart, into the first rows,
    its documents drawn from ``first_world`` (default ``world``; ``cfg.curriculum.world``)."""
    n_rows = -(-n_tokens // seq_len)
    n_first = round(n_rows * cfg.curriculum.share)
    used_docs: Counter = Counter()
    rows = []
    if n_first:
        first_docs = document_texts(first_world or world, cfg, int(n_first * seq_len * 0.97), first=True)[0]
        rows = _pack(first_docs, vocab, seq_len, used_docs)
    docs, contaminated = document_texts(world, cfg, int((n_rows - n_first) * seq_len * 0.97))
    n_first = len(rows)
    rows += _pack(docs, vocab, seq_len, used_docs, cfg.contamination.whole_document)
    sol_id = vocab[SOL]
    tokens = np.zeros((len(rows), seq_len), np.int32)
    doc = np.zeros_like(tokens)
    sol = np.zeros(tokens.shape, bool)
    for r, row in enumerate(rows):
        pos = 0
        for d, (ids, whole) in enumerate(row, start=1):
            tokens[r, pos:pos + len(ids)] = ids
            doc[r, pos:pos + len(ids)] = d
            s = 0 if whole else len(ids) - 1 - ids[::-1].index(sol_id)  # the solution follows the last <sol>
            sol[r, pos + s + 1:pos + len(ids)] = True
            pos += len(ids)
    stats = _composition(used_docs, tokens, doc, sol, contaminated, cfg) | {"curriculum_rows": n_first}
    return Corpus(tokens, doc, sol, stats, first_rows=n_first)


def _pack(docs: list[tuple[str, dict]], vocab: dict[str, int], seq_len: int, used_docs: Counter,
          whole_contaminated: bool = False) -> list:
    """First-fit packing of documents into rows, counting them in ``used_docs``. A row is a list of
    ``(ids, whole)``: ``whole`` when every token after ``<bos>`` is a training target (a contaminated
    document with ``whole_contaminated``), else only the solution's are."""
    rows: list[list[tuple[list[int], bool]]] = []
    open_rows: list[list[tuple[list[int], bool]]] = []
    for text, tags in docs:
        ids = [vocab[w] for w in text.split()]
        if len(ids) > seq_len:
            raise ValueError(f"a depth-{tags['depth']} document has {len(ids)} tokens > "
                             f"pretrain.seq_len={seq_len}; raise pretrain.seq_len")
        row = next((r for r in open_rows if sum(len(i) for i, _ in r) + len(ids) <= seq_len), None)
        if row is None:
            if len(open_rows) == OPEN_ROWS:
                rows.append(open_rows.pop(0))
            row = []
            open_rows.append(row)
        row.append((ids, whole_contaminated and tags["contaminated"]))
        key = (tags["format"], tags["depth"], tags["context"], tags["contaminated"], tags.get("thought", False))
        used_docs[key] += 1
    return rows + open_rows


def _composition(used: Counter, tokens, doc, sol, contaminated, cfg) -> dict:
    """The corpus as built: shares by format/depth/context (of the problem documents; fact drills
    are counted apart), token counts, a stream hash."""
    n_facts = sum(n for k, n in used.items() if k[0] == FACTS)
    used = Counter({k: n for k, n in used.items() if k[0] != FACTS})
    n_docs = sum(used.values())

    def share(i: int) -> dict:
        c: Counter = Counter()
        for key, n in used.items():
            c[str(key[i])] += n
        return {k: round(v / n_docs, 4) for k, v in sorted(c.items())}

    return {
        "requested": cfg.model_dump(mode="json"),
        "n_documents": n_docs,
        "n_rows": int(tokens.shape[0]),
        "seq_len": int(tokens.shape[1]),
        "n_tokens": int((doc > 0).sum()),
        "n_solution_tokens": int(sol.sum()),
        "padding_fraction": round(float((doc == 0).mean()), 4),
        "format_share": share(0),
        "depth_share": share(1),
        "context_share": share(2),
        "fact_documents": n_facts,
        "contaminated_documents": sum(n for k, n in used.items() if k[3]),
        "thought_documents": sum(n for k, n in used.items() if k[4]),
        "contaminated_items": contaminated,
        "sha256": hashlib.sha256(tokens.tobytes()).hexdigest(),
    }
