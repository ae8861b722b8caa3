"""Format trajectory and partial-contribution C_d on crafted records with known answers."""

import math

import pytest

from priorlab.diagnostics import DiagnosticInputError
from priorlab.diagnostics.formats import format_trajectory, partial_contribution


def rec(index, sample, fmt, ok, split="eval"):
    return {"split": split, "context": "letters", "depth": 2, "index": index, "sample": sample, "format": fmt,
            "verified": ok, "answer": ok}


def test_partial_contribution_known_scores():
    # 4 paired draws: answer->steps gains 2, steps->steps gains 1 and loses 0, code->answer loses 1
    before = [rec(0, 0, "answer", False), rec(0, 1, "answer", False), rec(1, 0, "steps", False),
              rec(1, 1, "code", True)]
    after = [rec(0, 0, "steps", True), rec(0, 1, "steps", True), rec(1, 0, "steps", True),
             rec(1, 1, "answer", False)]
    rows = {(r["format_before"], r["format_after"]): r for r in partial_contribution(before, after)}
    assert rows[("answer", "steps")]["contribution"] == pytest.approx(2 / 2)
    assert rows[("steps", "steps")]["contribution"] == pytest.approx(1 / 2)
    assert rows[("code", "answer")]["contribution"] == pytest.approx(-1 / 2)
    assert sum(r["contribution"] for r in rows.values()) == pytest.approx(1.0)
    assert rows[("answer", "steps")]["n"] == 2
    assert {r["total_delta"] for r in rows.values()} == {2} and rows[("code", "answer")]["share"] == 0.25


def test_pairing_is_by_problem_and_sample_not_order():
    before = [rec(0, 0, "steps", False), rec(0, 1, "steps", True)]
    after = [rec(0, 1, "steps", True), rec(0, 0, "answer", True)]  # shuffled
    rows = partial_contribution(before, after)
    by = {(r["format_before"], r["format_after"]): r for r in rows}
    assert by[("steps", "answer")]["delta"] == 1 and by[("steps", "steps")]["delta"] == 0


def test_zero_total_gain_gives_nan_and_splits_are_separate():
    before = [rec(0, 0, "steps", True), rec(0, 0, "steps", False, split="rl")]
    after = [rec(0, 0, "steps", True), rec(0, 0, "steps", True, split="rl")]
    rows = {r["split"]: r for r in partial_contribution(before, after)}
    assert math.isnan(rows["eval"]["contribution"]) and rows["rl"]["contribution"] == 1.0


def test_unpaired_records_are_an_input_error():
    with pytest.raises(DiagnosticInputError, match="not paired draws"):
        partial_contribution([rec(0, 0, "steps", True)], [rec(1, 0, "steps", True)])
    with pytest.raises(DiagnosticInputError, match="repeated"):
        partial_contribution([rec(0, 0, "steps", True)] * 2, [rec(0, 0, "steps", True)] * 2)


def test_format_trajectory_reads_train_and_probe_rows():
    rows = [{"step": 0, "kind": "probe", "probe_verified": 0.25},
            {"step": 1, "kind": "train", "share_steps": 0.75, "acc_steps": 0.5, "share_answer": 0.25,
             "acc_answer": None, "entropy": 1.0}]
    traj = format_trajectory(rows)
    assert {"step": 1, "source": "rollouts", "format": "steps", "share": 0.75, "verified_acc": 0.5} in traj
    assert {"step": 1, "source": "rollouts", "format": "answer", "share": 0.25, "verified_acc": None} in traj
    assert {"step": 0, "source": "probe", "format": "all", "share": 1.0, "verified_acc": 0.25} in traj
    with pytest.raises(DiagnosticInputError):
        format_trajectory([{"step": 1, "kind": "other"}])


def test_contribution_cis_zero_width_on_identical_problems_and_bracket_the_value():
    same_b = [rec(i, s, f, False) for i in range(10) for s, f in enumerate(("answer", "steps", "steps"))]
    same_a = [rec(i, s, "steps", ok) for i in range(10) for s, ok in enumerate((True, True, False))]
    rows = partial_contribution(same_b, same_a, n_boot=200)
    assert {(r["format_before"], r["contribution"]) for r in rows} == {("answer", 0.5), ("steps", 0.5)}
    assert all(r["ci_low"] == r["contribution"] == r["ci_high"] for r in rows)
    # problem i gains through answer->steps only when i is even, through steps->steps always
    b = [rec(i, s, f, False) for i in range(20) for s, f in enumerate(("answer", "steps"))]
    a = [r for i in range(20) for r in (rec(i, 0, "steps", i % 2 == 0), rec(i, 1, "steps", True))]
    rows = {r["format_before"]: r for r in partial_contribution(b, a, n_boot=500, seed=1)}
    assert rows["answer"]["contribution"] == pytest.approx(10 / 30)
    assert rows["answer"]["ci_low"] < 10 / 30 < rows["answer"]["ci_high"]
    assert rows["steps"]["ci_low"] == pytest.approx(1 - rows["answer"]["ci_high"])  # C_d sum to 1 in every resample
    zero = partial_contribution([rec(0, 0, "steps", True)], [rec(0, 0, "steps", True)])[0]
    assert math.isnan(zero["ci_low"]) and math.isnan(zero["ci_high"])
