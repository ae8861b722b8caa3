"""Shortcut detectors on crafted completions of real world problems (known shares)."""

import math

import numpy as np
import pytest

from priorlab.diagnostics.shortcuts import _share_cis, easy_regression, repetition, shortcut_rows


def records(world, texts_by_problem, depth=3, truncated=False):
    """Records in the samples.parquet schema for ``{index: [text per sample]}``."""
    out = []
    for i, texts in texts_by_problem.items():
        p = world.problem("eval", i, depth, "letters")
        for j, t in enumerate(texts):
            v = world.verify(p, t, truncated=truncated)
            out.append({"split": "eval", "depth": depth, "context": "letters", "index": i, "sample": j,
                        "text": t, "verified": v.verified, "answer": v.answer_correct, "truncated": truncated,
                        "n_tokens": len(t.split())})
    return out


def const_answer(world, i, depth=3, values=(1, 1)):
    names = [n for n, _ in world.problem("eval", i, depth, "letters").answer]
    return "<ans> " + " ".join(f"{n} {v}" for n, v in zip(names, values))


def test_repeated_constant_answer_across_questions(world):
    # questions 0-2 answer "1 1" in both samples, question 3 answers correctly
    texts = {i: [const_answer(world, i)] * 2 for i in range(3)}
    texts[3] = [world.render_solution(world.problem("eval", 3, 3, "letters"), "steps")] * 2
    (row,) = shortcut_rows(records(world, texts), world)
    assert row["repeat_share"] == pytest.approx(6 / 8) and row["mode_answer"] == "1 1" and row["mode_questions"] == 3
    assert row["answer_entropy"] == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    assert row["n_questions"] == 4 and row["gold_repeat_share"] == 0.0


def test_one_question_repeating_itself_is_not_repetition():
    rep = repetition([(5,), (5,), (5,), (7,)], [("q", 0)] * 3 + [("q", 1)])
    assert rep["repeat_share"] == 0.0 and rep["n_distinct_answers"] == 2


def test_step_skipping_and_truncation(world):
    full = {i: world.render_solution(world.problem("eval", i, 3, "letters"), "steps") for i in range(2)}
    skipped = {i: " ; ".join(t.split(" ; ")[1:]) for i, t in full.items()}  # first step line dropped, answer kept
    bare = {i: t[t.index("<ans>"):] for i, t in full.items()}  # answer only
    row, = shortcut_rows(records(world, {0: [full[0], skipped[0]], 1: [bare[1], full[1]]}), world)
    assert row["right_not_verified"] == pytest.approx(2 / 4) and row["skip_given_right"] == pytest.approx(2 / 4)
    assert row["fewer_steps"] == pytest.approx(2 / 4)
    assert row["mean_parsed_steps"] == pytest.approx((3 + 2 + 0 + 3) / 4) and row["mean_gold_steps"] == 3
    assert row["truncated"] == 0.0
    row, = shortcut_rows(records(world, {0: [full[0][:10]]}, truncated=True), world)
    assert row["truncated"] == 1.0 and math.isnan(row["skip_given_right"])


def test_easy_regression_on_the_easiest_depth(world):
    right = {i: [world.render_solution(world.problem("eval", i, 2, "letters"), "steps")] * 2 for i in range(2)}
    wrong = {i: [const_answer(world, i, 2)] * 2 for i in range(2)}
    hard = {0: [const_answer(world, 0, 4)]}
    before = records(world, right, depth=2) + records(world, hard, depth=4)
    after = records(world, {0: right[0], 1: wrong[1]}, depth=2) + records(world, hard, depth=4)
    (row,) = easy_regression(before, after)
    assert (row["depth"], row["pass1_before"], row["pass1_after"]) == (2, 1.0, 0.5) and row["delta"] == -0.5
    assert (row["n_problems"], row["n_samples"]) == (2, 4)


def test_share_cis_zero_width_on_identical_questions_and_bracket_the_value(world):
    full = {i: world.render_solution(world.problem("eval", i, 3, "letters"), "steps") for i in range(8)}
    bare = {i: t[t.index("<ans>"):] for i, t in full.items()}  # right answer, skipped computation
    (row,) = shortcut_rows(records(world, {i: [const_answer(world, i), bare[i]] for i in range(8)}), world, n_boot=200)
    assert row["repeat_share"] == 0.5 and row["right_not_verified"] == 0.5
    for k in ("repeat_share", "right_not_verified", "skip_given_right", "fewer_steps", "truncated"):
        assert row[f"{k}_ci_low"] == row[k] == row[f"{k}_ci_high"], k
    mixed = {i: [full[i], bare[i] if i % 2 else full[i]] for i in range(8)}
    (row,) = shortcut_rows(records(world, mixed), world, n_boot=300, seed=2)
    assert row["right_not_verified"] == 0.25 and row["right_not_verified_ci_low"] < 0.25 < row["right_not_verified_ci_high"]


def test_a_question_drawn_twice_is_still_one_question():
    # only question 0 repeats "5": a resample that draws it twice must not call that repetition
    rep = repetition([(5,), (5,), (7,)], [("q", 0), ("q", 0), ("q", 1)])
    assert rep["repeat_share"] == 0.0
    t = np.array([True, True, True])
    ci = _share_cis([(5,), (5,), (7,)], [("q", 0), ("q", 0), ("q", 1)], t, t, ~t, ~t, 200, 0)
    assert ci["repeat_share_ci_low"] == ci["repeat_share_ci_high"] == 0.0
