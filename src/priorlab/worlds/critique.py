"""Critiques written by a world's verifier, and the context a refinement is sampled in
(Critique-GRPO, Zhang et al., arXiv 2506.03106).

A critique is world-vocabulary text, so a word-level prior reads it token by token:

- ``none``:   ``<crit> <wrong>`` -- right or wrong only (the paper's ``simple``);
- ``answer``: ``<crit> <wrong> <ans> t 4 l 3`` -- plus the gold answer (the paper's ``simple_gt``);
- ``step``:   ``<crit> <wrong> l = e 5 * 11 = l 9`` -- plus the first gold step the attempt did
  not get right, written in the steps format with its expected values; when every step is right
  (the error is in the answer line, an extra line, a truncation) it names the gold answer.

The body after the verdict is in the verifier's own syntax, so it parses back with it
(``world.verify(problem, body)``). A refinement is sampled after :func:`refine_input`:
``<bos> question <sol> attempt <crit> ... <sol>``; a refinement document of the corpus
(``corpus.refine``) is that text followed by a correct solution.
"""

from __future__ import annotations

from priorlab.worlds.base import Problem, Verdict, World
from priorlab.worlds.formats import ANS, CRIT, FORMATS, RIGHT, WRONG, Step

KINDS = ("none", "answer", "step")


def first_wrong_step(world: World, problem: Problem, verdict: Verdict) -> Step | None:
    """The first gold step (dependency order) that the judged attempt did not state correctly
    (missing, wrong parents or wrong values); None when all are right or the world has no trace."""
    ok = {s["target"] for s in verdict.steps if s["status"] == "ok"}
    return next((s for s in world.gold_steps(problem) if s.target not in ok), None)


def critique(world: World, problem: Problem, verdict: Verdict, kind: str) -> str:
    """The critique of kind ``kind`` (:data:`KINDS`) of an attempt with ``verdict``."""
    if kind not in KINDS:
        raise ValueError(f"unknown critique kind {kind!r}; choose one of {', '.join(KINDS)}")
    head = [CRIT, RIGHT if verdict.verified else WRONG]
    if kind == "none" or verdict.verified:
        return " ".join(head)
    step = first_wrong_step(world, problem, verdict) if kind == "step" else None
    if step is not None:
        return " ".join(head + FORMATS.get("steps").render_step(step))
    return " ".join(head + [ANS] + [str(t) for pair in problem.answer for t in pair])


def read_critique(text: str) -> tuple[bool, str]:
    """(attempt judged right, the body after the verdict) of a :func:`critique` text."""
    toks = text.split()
    if len(toks) < 2 or toks[0] != CRIT or toks[1] not in (RIGHT, WRONG):
        raise ValueError(f"not a critique: {text[:60]!r}")
    return toks[1] == RIGHT, " ".join(toks[2:])


def attempt_text(completion: str) -> str:
    """A sampled completion as the attempt of a refinement context: the text before ``<eos>``."""
    from priorlab.tokenizer import EOS

    toks = completion.split()
    return " ".join(toks[:toks.index(EOS)] if EOS in toks else toks)


def refine_input(world: World, problem: Problem, attempt: str, critique_text: str) -> str:
    """The model input of a refinement: question, the attempt, its critique, then ``<sol>``."""
    from priorlab.tokenizer import SOL

    return " ".join(t for t in (world.model_input(problem), attempt_text(attempt), critique_text, SOL) if t)
