"""Shortcut detectors: answer repetition, skipped computation, truncation, easy-item regression.

Source: shared/research/claims.md §8 (arXiv 2605.28388: overly hard RLVR samples induce "answer
repetition" and "skipping necessary computation" and can degrade prior capabilities; its own
detectors were not retrieved, so these are the mechanical ones of the re-test plan). Inputs are
per-completion records (:func:`priorlab.evaluate.sample_and_verify`, ``samples.parquet``); each
text is re-verified with the world (:meth:`World.verify`) to read its parsed steps and answer.

Per group (default: split and depth), over its N completions of Q questions:

- answer repetition: an answer is the tuple of queried *values* (names differ between
  questions, so they are dropped). The mode is the answer given for the most *different*
  questions; ``repeat_share`` = share of the N completions that give it (0 when no answer is
  shared by two questions). ``gold_repeat_share`` is the same statistic of the Q gold answers
  (one per question), the level that coincidence alone gives. ``answer_entropy`` = Shannon
  entropy (bits) of the answers of the completions that have a well-formed one.
- step skipping: ``right_not_verified`` = share with the right answer but no verified trace;
  ``skip_given_right`` = the same among right answers (NaN without any); ``fewer_steps`` =
  share with the right answer and fewer parsed step lines than gold operations.
- ``truncated``: share that hit the token limit; ``mean_tokens``: completion length.

95% CIs of the shares (``<share>_ci_low`` / ``<share>_ci_high`` for :data:`SHARES`): percentile
bootstrap over the group's questions (a drawn question brings all its completions); for
``repeat_share`` a question drawn twice is still one question when counting how many
*different* questions share an answer.

Regression on easy items (:func:`easy_regression`): verified pass@1 (mean correctness over all
samples) after − before on the easiest depth of each split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.diagnostics import DiagnosticInputError
from priorlab.evaluate import problem_key
from priorlab.passk import bootstrap_weights, percentile_ci


def reverify(records: list[dict], world) -> list:
    """One :class:`~priorlab.worlds.Verdict` per record (problems rebuilt from split, index, depth, context)."""
    problems: dict[tuple, object] = {}
    out = []
    for r in records:
        key = problem_key(r)
        if key not in problems:
            problems[key] = world.problem(r["split"], r["index"], r["depth"], r["context"])
        out.append(world.verify(problems[key], r["text"], truncated=bool(r["truncated"])))
    return out


def _values(answer) -> tuple | None:
    return None if answer is None else tuple(v for _, v in answer)


SHARES = ("repeat_share", "right_not_verified", "skip_given_right", "fewer_steps", "truncated")


def _answer_table(answers: list[tuple | None], questions: list[tuple]) -> tuple[list[tuple], np.ndarray, np.ndarray]:
    """Distinct answers [A] (sorted), completions per question and answer [Q, A], and
    completions per question [Q] (with or without an answer); questions in first-seen order."""
    qs = {q: i for i, q in enumerate(dict.fromkeys(questions))}
    distinct = sorted({a for a in answers if a is not None})
    col = {a: j for j, a in enumerate(distinct)}
    table, per_q = np.zeros((len(qs), len(distinct))), np.zeros(len(qs))
    for a, q in zip(answers, questions):
        per_q[qs[q]] += 1
        if a is not None:
            table[qs[q], col[a]] += 1
    return distinct, table, per_q


def _repeat_share(table: np.ndarray, per_q: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For question weights ``w`` [R, Q]: repeat share [R], mode answer column [R] and its number of
    different questions [R]; the mode has the most different questions, then the most completions."""
    if not table.shape[1]:
        return np.zeros(len(w)), np.zeros(len(w), int), np.zeros(len(w))
    n_q = (w > 0).astype(np.float64) @ (table > 0)  # different questions per answer [R, A]
    n_c = w @ table  # completions per answer [R, A]
    mode = np.argmax(n_q * (n_c.max() + 1) + n_c, axis=1)  # first maximum = first in sorted order
    rows = np.arange(len(w))
    share = np.where(n_q[rows, mode] >= 2, n_c[rows, mode] / (w @ per_q), 0.0)
    return share, mode, n_q[rows, mode]


def repetition(answers: list[tuple | None], questions: list[tuple]) -> dict:
    """``{repeat_share, mode_answer, mode_questions, answer_entropy, n_distinct_answers}`` of
    per-completion answers [N] (None = none parsed) and their question keys [N]."""
    distinct, table, per_q = _answer_table(answers, questions)
    if not distinct:
        return {"repeat_share": 0.0, "mode_answer": None, "mode_questions": 0, "answer_entropy": float("nan"),
                "n_distinct_answers": 0}
    share, mode, n_q = _repeat_share(table, per_q, np.ones((1, len(per_q))))
    p = table.sum(axis=0) / table.sum()
    return {"repeat_share": float(share[0]), "mode_answer": " ".join(map(str, distinct[mode[0]])),
            "mode_questions": int(n_q[0]), "answer_entropy": float(-(p * np.log2(p)).sum()),
            "n_distinct_answers": len(distinct)}


def _share_cis(answers, qs, right, verified, fewer, truncated, n_boot: int, seed: int) -> dict:
    """``{<share>_ci_low, <share>_ci_high}`` for :data:`SHARES` by bootstrap over questions."""
    _, table, per_q = _answer_table(answers, qs)
    order = {q: i for i, q in enumerate(dict.fromkeys(qs))}
    unit = np.array([order[q] for q in qs], dtype=np.int64)

    def per_question(x):
        return np.bincount(unit, weights=np.asarray(x, dtype=np.float64), minlength=len(per_q))

    skipped = per_question(right & ~verified)
    ratios = {"right_not_verified": (skipped, per_q), "skip_given_right": (skipped, per_question(right)),
              "fewer_steps": (per_question(fewer), per_q), "truncated": (per_question(truncated), per_q)}
    w = bootstrap_weights(len(per_q), n_boot, seed)
    boot = {"repeat_share": _repeat_share(table, per_q, w)[0]}
    with np.errstate(invalid="ignore", divide="ignore"):
        boot |= {k: (w @ num) / (w @ den) for k, (num, den) in ratios.items()}
    out = {}
    for k in SHARES:
        out[f"{k}_ci_low"], out[f"{k}_ci_high"] = percentile_ci(boot[k])
    return out


def shortcut_rows(records: list[dict], world, by: tuple[str, ...] = ("split", "depth"),
                  n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """Detector values per group (module docstring). Rows: the ``by`` fields, ``n, n_questions,
    parsed_answer_rate, repeat_share, gold_repeat_share, mode_answer, mode_questions,
    answer_entropy, n_distinct_answers, right_not_verified, skip_given_right, fewer_steps,
    mean_parsed_steps, mean_gold_steps, truncated, mean_tokens`` (shares in [0, 1]) and the
    95% CIs ``<share>_ci_low``, ``<share>_ci_high`` of :data:`SHARES` (``n_boot`` bootstrap
    resamples of the group's questions from ``np.random.default_rng(seed)``)."""
    if not records:
        raise DiagnosticInputError("no records to scan for shortcuts")
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(tuple(r[k] for k in by), []).append(i)
    verdicts = reverify(records, world)
    rows = []
    for key, idx in sorted(groups.items(), key=lambda kv: str(kv[0])):
        recs, vs = [records[i] for i in idx], [verdicts[i] for i in idx]
        qs = [problem_key(r) for r in recs]
        gold = {q: _values(world.problem(q[0], q[3], q[2], q[1]).answer) for q in dict.fromkeys(qs)}
        right = np.array([bool(r["answer"]) for r in recs])
        verified = np.array([bool(r["verified"]) for r in recs])
        truncated = np.array([bool(r["truncated"]) for r in recs])
        n_steps = np.array([len(v.steps) for v in vs])
        n_gold = np.array([v.n_gold for v in vs])
        answers = [_values(v.parsed_answer) for v in vs]
        rows.append(dict(zip(by, key)) | {
            "n": len(recs), "n_questions": len(gold),
            "parsed_answer_rate": float(np.mean([v.parsed_answer is not None for v in vs])),
            **repetition(answers, qs), "gold_repeat_share": repetition(list(gold.values()), list(gold))["repeat_share"],
            "right_not_verified": float((right & ~verified).mean()),
            "skip_given_right": float((right & ~verified).sum() / right.sum()) if right.any() else float("nan"),
            "fewer_steps": float((right & (n_steps < n_gold)).mean()),
            "mean_parsed_steps": float(n_steps.mean()), "mean_gold_steps": float(n_gold.mean()),
            "truncated": float(truncated.mean()), "mean_tokens": float(np.mean([r["n_tokens"] for r in recs]))}
            | _share_cis(answers, qs, right, verified, right & (n_steps < n_gold), truncated, n_boot, seed))
    return rows


def easy_regression(before: list[dict], after: list[dict], metric: str = "verified") -> list[dict]:
    """pass@1 of ``metric`` on the easiest depth of each split. Rows ``{split, depth,
    pass1_before, pass1_after, delta, n_problems, n_samples}`` (delta = after − before)."""
    rows = []
    for split in sorted({r["split"] for r in before}):
        b = [r for r in before if r["split"] == split]
        depth = min(r["depth"] for r in b)
        b = [r for r in b if r["depth"] == depth]
        a = [r for r in after if r["split"] == split and r["depth"] == depth]
        if not a:
            raise DiagnosticInputError(f"after records hold no {split} items at depth {depth}; "
                                       f"compare before/after evaluations of the same problems")
        pb, pa = float(np.mean([bool(r[metric]) for r in b])), float(np.mean([bool(r[metric]) for r in a]))
        rows.append({"split": split, "depth": depth, "pass1_before": pb, "pass1_after": pa, "delta": pa - pb,
                     "n_problems": len({problem_key(r) for r in b}), "n_samples": len(b)})
    return rows


def plot_shortcuts(rows: list[dict], path: str | Path) -> Path:
    """Repeat share (gold level dotted), skipped computation, fewer steps and truncation vs depth,
    one line per (eval, phase) of ``rows`` (before dashed, after solid), 95% CI bands."""
    from priorlab.plots import plt, save

    panels = (("repeat_share", "answer repetition share"), ("right_not_verified", "right answer, not verified"),
              ("fewer_steps", "right answer, fewer steps than gold"), ("truncated", "truncated"))
    fig, axes = plt.subplots(1, len(panels), figsize=(17, 3.8))
    lines = sorted({(r.get("eval", ""), r.get("phase", ""), r["split"]) for r in rows})
    for ev, phase, split in lines:
        sel = sorted((r for r in rows if (r.get("eval", ""), r.get("phase", ""), r["split"]) == (ev, phase, split)),
                     key=lambda r: r["depth"])
        color = plt.get_cmap("tab10")(sorted({(e, s) for e, _, s in lines}).index((ev, split)) % 10)
        for ax, (key, title) in zip(axes, panels):
            depths = [r["depth"] for r in sel]
            ax.plot(depths, [r[key] for r in sel], "--" if phase == "before" else "-",
                    marker="o", ms=3, color=color, label=" ".join(x for x in (ev, split, phase) if x))
            if f"{key}_ci_low" in sel[0]:
                ax.fill_between(depths, [r[f"{key}_ci_low"] for r in sel], [r[f"{key}_ci_high"] for r in sel],
                                color=color, alpha=0.12, lw=0)
            if key == "repeat_share":
                ax.plot([r["depth"] for r in sel], [r["gold_repeat_share"] for r in sel], ":", color=color, lw=1)
            ax.set(title=title, xlabel="depth", ylim=(-0.02, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    return save(fig, path)
