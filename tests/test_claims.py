"""Claims: the shared verdict rule, and verdicts that follow the measurements (doctored tables
and negative controls flip them)."""

import math

import pytest

from priorlab.claims import CLAIMS, SCALES
from priorlab.claims.retest import chosen, plan
from priorlab.claims.stats import directional, non_inferior, seed_ci, t_quantile


def test_t_quantile_matches_the_normal_limit_and_is_symmetric():
    assert t_quantile(0.975, 100000) == pytest.approx(1.96, abs=0.001)
    assert t_quantile(0.025, 3) == pytest.approx(-t_quantile(0.975, 3))
    assert t_quantile(0.975, 2) > t_quantile(0.975, 5) > t_quantile(0.975, 50)


def test_seed_ci_brackets_the_mean_and_collapses_for_equal_values():
    mean, lo, hi = seed_ci([0.1, 0.2, 0.3, float("nan")])
    assert lo < mean < hi and mean == pytest.approx(0.2)
    assert seed_ci([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    assert math.isnan(seed_ci([0.5])[1])


@pytest.mark.parametrize("values,sign,verdict", [
    ([0.30, 0.32, 0.31], +1, "holds"), ([0.30, 0.32, 0.31], -1, "contradicted"),
    ([0.3, -0.2, 0.1], +1, "inconclusive"), ([0.0, 0.0, 0.0], +1, "inconclusive"), ([0.4], +1, "inconclusive"),
    ([-0.30, -0.32, -0.31], -1, "holds"), ([0.04, -0.01, 0.09], -1, "inconclusive"), ([0.3, 0.31, 0.32], -1,
                                                                                    "contradicted")])
def test_directional_verdicts(values, sign, verdict):
    assert directional(values, sign, "x").verdict == verdict


def test_non_inferior_needs_the_ci_above_minus_margin():
    assert non_inferior([0.0, 0.01, -0.01], 0.05, "x").verdict == "holds"
    assert non_inferior([-0.3, -0.31, -0.29], 0.05, "x").verdict == "contradicted"
    assert non_inferior([0.2, -0.3, 0.0], 0.05, "x").verdict == "inconclusive"


def test_registry_plan_shares_arms_and_priors_between_claims():
    scale = SCALES["small"]
    priors, arms = plan(chosen(None), scale)
    assert len(arms) == len({a for c in chosen(None) for a in (x.name for x in c.arms(scale))})
    assert "grpo-correct" in arms and "demo" in priors
    with pytest.raises(KeyError, match="Did you mean 'C4'"):
        CLAIMS.get("C44")


def _c4_rows(base_large, rl_large, base_1, rl_1):
    rows = []
    for seed, (bl, rlv, b1, r1) in enumerate(zip(base_large, rl_large, base_1, rl_1)):
        rows += [{"seed": seed, "k": 1, "base": b1, "rl": r1, "base_copy": b1},
                 {"seed": seed, "k": 64, "base": bl, "rl": rlv, "base_copy": bl}]
    return rows


def test_c4_verdict_follows_the_crossover_and_its_control_is_empty():
    c4 = CLAIMS.get("C4")()
    crossing = _c4_rows([0.9, 0.92, 0.91], [0.8, 0.81, 0.79], [0.2, 0.21, 0.19], [0.5, 0.52, 0.49])
    assert c4.judge(crossing).verdict == "holds"
    assert c4.judge_control(crossing).verdict == "inconclusive"
    no_cross = _c4_rows([0.8, 0.81, 0.79], [0.9, 0.92, 0.91], [0.2, 0.21, 0.19], [0.5, 0.52, 0.49])
    assert c4.judge(no_cross).verdict == "contradicted"


def test_c7_verdict_follows_the_dtype_gap_and_the_self_control_contradicts():
    c7 = CLAIMS.get("C7")()
    upd = [{"kind": "update", "seed": s, "unchanged_fp32": 0.01, "unchanged_bf16": 0.3 + s / 100,
            "bf16_minus_fp32": 0.29 + s / 100, "rank_ratio": 0.99, "self_bf16_minus_fp32": 0.0,
            "self_unchanged_fp32": 1.0} for s in range(3)]
    ov = [{"kind": "overlap", "seed": s, "dtype": "bf16", "o1_minus_random": 0.2 + s / 100} for s in range(3)]
    assert c7.judge(upd + ov).verdict == "holds"
    assert c7.judge_control(upd + ov).verdict == "contradicted"
    dense_bf16 = [r | {"bf16_minus_fp32": -0.1 - s / 100} for s, r in enumerate(upd)]
    assert c7.judge(dense_bf16 + ov).verdict == "contradicted"


def test_c1_verdict_follows_the_prior_gap_and_gamma0_control_is_inconclusive():
    c1 = CLAIMS.get("C1")()
    rows = [{"arm": a, "seed": s, "d_answer": d + s / 100}
            for a, d in (("random", 0.2), ("random-answer-heavy", -0.1), ("random-gamma0", 0.0)) for s in range(3)]
    rows = [r | {"d_answer": 0.0} if r["arm"] == "random-gamma0" else r for r in rows]
    assert c1.judge(rows).verdict == "holds"
    assert c1.judge_control(rows).verdict == "inconclusive"
    flipped = [r | {"d_answer": -r["d_answer"]} for r in rows]
    assert c1.judge(flipped).verdict == "contradicted"


def test_c2_needs_a_larger_move_with_clipping():
    c2 = CLAIMS.get("C2")()
    rows = [{"arm": a, "seed": s, "abs_d_answer": d + s / 100}
            for a, d in (("random", 0.2), ("random-1-update", 0.01), ("random-rloo", 0.02)) for s in range(3)]
    assert c2.judge(rows).verdict == "holds"
    same = [r | {"abs_d_answer": 0.05 + r["seed"] / 100} for r in rows]
    assert c2.judge(same).verdict == "inconclusive"


def test_retest_tiny_runs_shares_and_reuses_runs_and_writes_the_report(tmp_path):
    """End to end at the tiny scale: C4 and C7 share one prior and one arm (3 seeds); a second
    call reuses every run; the report and verdicts.json follow the contract."""
    import json

    from priorlab.claims.result import VERDICT_KEYS, VERDICTS
    from priorlab.claims.retest import retest

    store, out = tmp_path / "store", tmp_path / "retest"
    results = retest(["C4", "C7"], "tiny", out, workers=2, store=store, show=False)
    assert [r.id for r in results] == ["C4", "C7"] and all(r.verdict in VERDICTS for r in results)
    assert all("measurement failed" not in r.reason for r in results), [r.reason for r in results]
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert [set(v) >= set(VERDICT_KEYS) for v in verdicts] == [True, True]
    assert (out / "report.html").stat().st_size > 1000
    assert len(list(store.iterdir())) == 1 + 3  # one prior, one arm x 3 seeds, shared by both claims
    again = retest(["C4"], "tiny", out, workers=2, store=store, show=False)
    assert all(r["reused"] for r in again[0].runs)
    assert again[0].effect == results[0].effect
