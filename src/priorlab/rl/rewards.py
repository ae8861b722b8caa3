"""Rewards: plain callables ``(problems, completions, verdicts, **ctx) -> list[float | None]``.

``None`` means "does not apply to this sample" (e.g. ``brier`` without a stated confidence);
:func:`combine` sums the weighted rewards that apply and returns None only when none does.
Context keys used: ``seed`` and ``step`` (random), ``group`` (majority vote), ``labels``
(incorrect label), ``lengths`` and ``max_tokens`` (length penalty).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from priorlab.registry import Registry

REWARDS: Registry = Registry("reward")


@REWARDS.register("correct")
def correct(problems, completions, verdicts, **ctx):
    """1 if the strict trace check passes (``Verdict.verified``), else 0."""
    return [float(v.verified) for v in verdicts]


@REWARDS.register("answer")
def answer(problems, completions, verdicts, **ctx):
    """1 if the final answer is right, whatever the trace."""
    return [float(v.answer_correct) for v in verdicts]


@REWARDS.register("inverse")
def inverse(problems, completions, verdicts, **ctx):
    """1 − verified: rewards failing (a negative control)."""
    return [1.0 - v.verified for v in verdicts]


@REWARDS.register("format")
def format_only(problems, completions, verdicts, **ctx):
    """1 for a well-formed answer, whatever its value (spurious reward, claims.md §1)."""
    return [float(v.well_formed) for v in verdicts]


@REWARDS.register("random")
def random_reward(problems, completions, verdicts, seed: int = 0, step: int = 0, gamma: float = 0.5, **ctx):
    """Bernoulli(γ) independent of the completion, seeded by (seed, step, sample index)."""
    rng = np.random.default_rng([seed, step])
    return [float(x) for x in rng.random(len(verdicts)) < gamma]


@REWARDS.register("majority_vote")
def majority_vote(problems, completions, verdicts, group=None, **ctx):
    """1 if the parsed answer equals the most common parsed answer of its group (label-free)."""
    group = list(range(len(verdicts))) if group is None else list(group)
    votes: dict = {}
    for g, v in zip(group, verdicts):
        if v.parsed_answer is not None:
            votes.setdefault(g, Counter())[tuple(sorted(v.parsed_answer))] += 1
    out = []
    for g, v in zip(group, verdicts):
        top = votes[g].most_common(1)[0][0] if g in votes else None
        out.append(float(v.parsed_answer is not None and tuple(sorted(v.parsed_answer)) == top))
    return out


@REWARDS.register("incorrect_label")
def incorrect_label(problems, completions, verdicts, labels=None, **ctx):
    """1 if the parsed answer equals a fixed (wrong) label per sample; None without a label."""
    labels = labels if labels is not None else [None] * len(verdicts)
    return [None if lab is None else float(v.parsed_answer is not None
                                           and tuple(sorted(v.parsed_answer)) == tuple(sorted(lab)))
            for v, lab in zip(verdicts, labels)]


@REWARDS.register("process")
def process(problems, completions, verdicts, **ctx):
    """0.2·outcome + 0.8·process, zeroed unless the answer is right (claims.md §9), with
    process = max(0, 1 − penalty/|V|), penalty = value + dependency mismatches + missing nodes
    + min(extra, |V|) + 1 if the answer is wrong."""
    out = []
    for v in verdicts:
        n = max(1, v.n_gold)
        penalty = (v.n_value_mismatch + v.n_dep_mismatch + v.n_missing + min(v.n_extra, n)
                   + (0 if v.answer_correct else 1))
        proc = max(0.0, 1 - penalty / n)
        out.append(0.2 + 0.8 * proc if v.answer_correct else 0.0)
    return out


@REWARDS.register("brier")
def brier(problems, completions, verdicts, **ctx):
    """c − (q − c)² with c = verified and q the stated confidence (claims.md §6); None if no q."""
    return [None if v.confidence is None else float(v.verified) - (v.confidence - float(v.verified)) ** 2
            for v in verdicts]


@REWARDS.register("length")
def length(problems, completions, verdicts, lengths=None, max_tokens: int = 128, **ctx):
    """−len/max_tokens: a length penalty in [−1, 0] (combine with a small weight)."""
    lengths = lengths if lengths is not None else [len(c.split()) for c in completions]
    return [-min(1.0, n / max_tokens) for n in lengths]


def combine(weights: dict[str, float], problems, completions, verdicts, **ctx) -> list[float | None]:
    """Σ_name w·reward over the rewards that apply; None where none applies."""
    parts = [(w, REWARDS.get(name)(problems, completions, verdicts, **ctx)) for name, w in weights.items()]
    out = []
    for i in range(len(verdicts)):
        vals = [w * r[i] for w, r in parts if r[i] is not None]
        out.append(sum(vals) if vals else None)
    return out
