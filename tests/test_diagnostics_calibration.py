import numpy as np
import pytest

from priorlab.diagnostics.calibration import (
    auroc, calibration_metrics, calibration_rows, ece, plot_reliability, reliability_bins,
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


def test_auroc_perfect_inverted_ties_and_one_class():
    assert auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auroc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5
    assert auroc([0.3, 0.7], [1, 1]) == 0.5
    # pairs (pos, neg): (0.6 vs 0.6) tie, (0.6 vs 0.2) win, (0.9 vs both) wins -> 3.5 / 4
    assert auroc([0.6, 0.9, 0.6, 0.2], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_rows_from_eval_records_count_missing_confidence_as_zero(tmp_path):
    recs = [{"split": "eval", "depth": 2, "answer": a, "confidence": q}
            for a, q in ((True, 0.9), (False, None), (True, 0.8), (False, 0.2))]
    (row,) = calibration_rows(recs)
    assert row["conf_rate"] == 0.75 and row["accuracy"] == 0.5 and row["auroc"] == 1.0
    assert row["mean_confidence"] == pytest.approx((0.9 + 0.8 + 0.2) / 4)
    q, c = _calibrated(2000)
    assert plot_reliability({"calibrated": (q, c), "overconfident": (np.full_like(q, 0.95), c)},
                            tmp_path / "r.png").stat().st_size > 1000
