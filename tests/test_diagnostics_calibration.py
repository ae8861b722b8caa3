import numpy as np
import pytest

from priorlab.diagnostics.calibration import (
    MEASURES, auroc, calibration_metrics, calibration_rows, ece, metrics_from_stats, plot_reliability,
    reliability_bins, sufficient_stats,
)


def _calibrated(n=40_000, seed=0):
    rng = np.random.default_rng(seed)
    q = (rng.integers(0, 10, n) + rng.random(n)) / 10  # uniform within each of the 10 bins
    return q, rng.random(n) < q


def test_perfectly_calibrated_set_has_ece_near_zero():
    q, c = _calibrated()
    assert ece(q, c) < 0.02
    assert calibration_metrics(q, c)["brier"] == pytest.approx(np.mean(q * (1 - q)), abs=0.01)


def test_overconfident_set_has_large_ece():
    q, c = _calibrated()
    over = np.full_like(q, 0.95)  # always 95% sure, right about half the time
    assert ece(over, c) == pytest.approx(0.95 - c.mean(), abs=1e-12) and ece(over, c) > 0.4


def test_ece_by_hand_and_bin_edges():
    # bins [0.1,0.2): q .1 .15 -> mean q .125, c 1 0 -> .5 ; last bin holds 1.0 and 1.2 (outer edge +inf)
    q, c = np.array([0.1, 0.15, 1.0, 1.2, -0.5]), np.array([1, 0, 1, 1, 0])
    bins = reliability_bins(q, c)
    assert [b["n"] for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert ece(q, c) == pytest.approx((2 * abs(0.125 - 0.5) + 2 * abs(1.1 - 1) + abs(-0.5)) / 5)
    stated = np.array([int(t) / 100 for t in range(0, 101, 10)])  # the verifier's 0% .. 100%
    assert [b["n"] for b in reliability_bins(stated, np.ones(11))] == [1] * 9 + [2]  # 30% in [0.3, 0.4), ...


def test_auroc_perfect_inverted_ties_and_one_class():
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5
    assert auroc([0.3, 0.7], [1, 1]) == 0.5
    # pairs (pos, neg): (0.6 vs 0.6) tie, (0.6 vs 0.2) win, (0.9 vs both) wins -> 3.5 / 4
    assert auroc([0.6, 0.9, 0.6, 0.2], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_rows_from_eval_records_count_missing_confidence_as_zero(tmp_path):
    recs = [{"split": "eval", "depth": 2, "context": "letters", "index": i, "answer": a, "confidence": q}
            for i, (a, q) in enumerate(((True, 0.9), (False, None), (True, 0.8), (False, 0.2)))]
    (row,) = calibration_rows(recs)
    assert row["conf_rate"] == 0.75 and row["accuracy"] == 0.5 and row["auroc"] == 1.0
    assert row["mean_confidence"] == pytest.approx((0.9 + 0.8 + 0.2) / 4)
    q, c = _calibrated(2000)
    assert plot_reliability({"calibrated": (q, c), "overconfident": (np.full_like(q, 0.95), c)},
                            tmp_path / "r.png").stat().st_size > 1000


def test_bootstrap_weights_equal_duplicated_items():
    rng = np.random.default_rng(1)
    q, c, unit = rng.integers(0, 11, 60) / 10, rng.random(60) < 0.5, rng.integers(0, 8, 60)
    w = rng.integers(0, 3, 8)  # how often a resample drew each unit
    got = metrics_from_stats(sufficient_stats(q, c, unit, stated=q > 0.15), w[None])
    keep = np.repeat(np.arange(60), w[unit])
    want = calibration_metrics(q[keep], c[keep])
    for m in ("accuracy", "brier", "ece", "auroc", "mean_confidence"):
        assert got[m][0] == pytest.approx(want[m], abs=1e-12), m
    assert got["conf_rate"][0] == pytest.approx(np.mean(q[keep] > 0.15))


def _records(n_problems, per_problem):
    return [{"split": "eval", "depth": 3, "context": "letters", "index": i, "verified": c, "confidence": q}
            for i in range(n_problems) for q, c in per_problem(i)]


def test_cis_are_zero_width_on_identical_problems_and_bracket_the_value():
    same = _records(20, lambda i: [(0.9, True), (0.2, False), (None, True), (0.6, False)])
    (row,) = calibration_rows(same, "verified", n_boot=200, seed=3)
    assert row["n_problems"] == 20 and row["n"] == 80 and row["conf_rate"] == 0.75
    for m in MEASURES:
        assert row[f"{m}_ci_low"] == pytest.approx(row[m]) and row[f"{m}_ci_high"] == pytest.approx(row[m]), m
    rng = np.random.default_rng(0)
    mixed = _records(30, lambda i: [(round(float(rng.random()), 1), bool(rng.random() < 0.5)) for _ in range(6)])
    (row,) = calibration_rows(mixed, "verified", n_boot=300, seed=3)
    for m in MEASURES[:-1]:
        assert row[f"{m}_ci_low"] <= row[m] <= row[f"{m}_ci_high"], m
    assert row["brier_ci_high"] - row["brier_ci_low"] > 0.01
    assert "accuracy_ci_low" not in calibration_rows(mixed, "verified")[0]  # no bootstrap unless asked
