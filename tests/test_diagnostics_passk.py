import itertools

import numpy as np
import pytest

from priorlab.diagnostics import DiagnosticInputError
from priorlab.diagnostics.passk_compare import compare_passk, plot_compare


def _records(outcomes: list[list[int]], depth: int = 2, split: str = "eval") -> list[dict]:
    """Records for problems whose samples have the given 0/1 outcomes."""
    return [{"split": split, "depth": depth, "context": "letters", "index": i, "verified": bool(o), "answer": bool(o)}
            for i, outs in enumerate(outcomes) for o in outs]


def _curve(res, model, k, depth=None):
    return next(r for r in res["curves"] if (r["model"], r["k"], r["depth"]) == (model, k, depth))


def test_curves_equal_exhaustive_enumeration_of_k_subsets():
    rng = np.random.default_rng(0)
    n = 8
    outs = {m: (rng.random((6, n)) < p).astype(int).tolist() for m, p in (("base", 0.2), ("rl", 0.5))}
    res = compare_passk({m: _records(o) for m, o in outs.items()}, n_boot=50)
    for m, o in outs.items():
        for k in (1, 2, 4, 8):
            exact = np.mean([np.mean([any(row[i] for i in s) for s in itertools.combinations(range(n), k)])
                             for row in o])
            row = _curve(res, m, k)
            assert row["pass_at_k"] == pytest.approx(exact, abs=1e-12)
            assert row["ci_low"] <= row["pass_at_k"] + 1e-12 <= row["ci_high"] + 2e-12
    assert _curve(res, "rl", 4)["diff_ref"] == pytest.approx(_curve(res, "base", 4)["pass_at_k"]
                                                             - _curve(res, "rl", 4)["pass_at_k"])


def test_crossover_solvable_sets_and_sampling_efficiency_gap(tmp_path):
    n, P = 8, 40
    base = [[1] + [0] * (n - 1)] * P  # 1/8 on every problem: pass@k = k/8
    rl = [[1] * n if i % 2 else [0] * n for i in range(P)]  # all-or-nothing on half
    res = compare_passk({"base": _records(base), "rl": _records(rl)}, n_boot=200)
    (cmp_depth, cmp_all) = [c for c in res["comparisons"]]
    assert cmp_depth["depth"] == 2 and cmp_all["depth"] is None
    assert cmp_all["crossover_k"] == 8 and cmp_all["crossover_significant"] and cmp_all["significant_k"] == 8
    assert _curve(res, "rl", 4)["diff_ref"] == pytest.approx(0.0)  # 4/8 vs 1/2: a tie is no crossover
    assert cmp_all["delta_se"] == pytest.approx(1 - 0.5)
    assert (cmp_all["n_solved_ref"], cmp_all["n_solved_model"], cmp_all["n_only_ref"]) == (40, 20, 20)
    assert cmp_all["model_subset_of_ref"] and cmp_all["only_model"] == []
    assert cmp_all["only_ref"][0] == "eval/letters/d2/0"
    assert (cmp_all["n_zero_ref"], cmp_all["n_zero_model"]) == (0, 20)
    assert plot_compare(res, tmp_path / "c.png").stat().st_size > 1000


def test_no_crossover_when_the_model_dominates():
    res = compare_passk({"base": _records([[0, 0, 0, 1]] * 5), "rl": _records([[1, 1, 0, 1]] * 5)}, n_boot=20)
    c = res["comparisons"][-1]
    assert c["crossover_k"] is None and not c["crossover_significant"] and c["significant_k"] is None


def test_groups_by_split_and_depth_and_pools_depths():
    recs = _records([[1, 0]] * 3, depth=2) + _records([[0, 0]] * 3, depth=4)
    res = compare_passk({"only": recs}, n_boot=20)
    assert {(r["depth"], r["k"], r["pass_at_k"]) for r in res["curves"]} == {
        (2, 1, 0.5), (2, 2, 1.0), (4, 1, 0.0), (4, 2, 0.0), (None, 1, 0.25), (None, 2, 0.5)}
    assert res["comparisons"] == []


def test_mismatched_inputs_are_clear_errors():
    a = _records([[1, 0]] * 3)
    with pytest.raises(DiagnosticInputError, match="different problems"):
        compare_passk({"a": a, "b": _records([[1, 0]] * 4)})
    with pytest.raises(DiagnosticInputError, match="4 samples per problem but a has 2"):
        compare_passk({"a": a, "b": _records([[1, 0, 0, 0]] * 3)})
    with pytest.raises(DiagnosticInputError, match="different sample counts"):
        compare_passk({"a": a[:-1]})
