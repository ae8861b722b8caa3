import itertools
import math

import numpy as np
import pytest

from priorlab.passk import bootstrap_ci, bootstrap_weights, guess_pass_at_k, ks_up_to, pass_at_k, percentile_ci


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_exhaustive_enumeration(n):
    for c in range(n + 1):
        outcomes = [1] * c + [0] * (n - c)
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            exact = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_is_stable_at_large_n():
    n = 1024
    for c in (0, 1, 3, 100, 1000, 1024):
        for k in (1, 16, 256, 1024):
            exact = 1 - math.comb(n - c, k) / math.comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-10, abs=1e-12)
    vals = [pass_at_k(n, 5, k) for k in ks_up_to(n)]
    assert all(0 <= v <= 1 for v in vals) and vals == sorted(vals)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 8)


def test_bootstrap_ci_brackets_the_mean_and_collapses_on_constants():
    vals = np.random.default_rng(0).random(200)
    lo, hi = bootstrap_ci(vals, n_boot=500)
    assert lo < vals.mean() < hi
    assert bootstrap_ci(np.full(10, 0.3)) == pytest.approx((0.3, 0.3))


def test_guessing_baseline():
    assert guess_pass_at_k(1 / 23, 64) == pytest.approx(1 - (22 / 23) ** 64)
    assert ks_up_to(64) == [1, 2, 4, 8, 16, 32, 64] and ks_up_to(100)[-1] == 64


def test_eval_rows_keep_items_with_identical_prompts_apart():
    from priorlab.evaluate import passk_rows, problem_key
    from priorlab.worlds import make_world

    world = make_world("arith_dag")
    p = world.problem("eval", 0, 2)
    twin = type(p)(p.world, p.split, 1, p.depth, p.context, p.prompt, p.answer, p.gold)  # same uid
    recs = [{"split": q.split, "depth": q.depth, "context": q.context, "index": q.index, "uid": q.uid,
             "format": "steps", "verified": True, "answer": True} for q in (p, twin) for _ in range(2)]
    rows = passk_rows(recs, {problem_key(q): q for q in (p, twin)}, world, {2}, n=2, n_boot=20, seed=0)
    top = next(r for r in rows if r["format"] == "all" and r["metric"] == "verified" and r["k"] == 1)
    assert top["n_problems"] == 2 and top["pass_at_k"] == 1.0


def test_bootstrap_weights_and_percentile_ci():
    w = bootstrap_weights(7, 50, seed=4)
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all() and (w == bootstrap_weights(7, 50, seed=4)).all()
    values = np.arange(5.0)
    assert percentile_ci(np.r_[values, np.nan]) == percentile_ci(values)  # NaN resamples left out
    assert all(np.isnan(percentile_ci([np.nan, np.nan])))
