"""The statistics every claim shares, and each defect of the old verdict rule (issue 12): the
two-level bootstrap, zero-width intervals, non-inferiority, Holm, power, controls that gate,
C3's collapse epoch, C5's band kept apart from depth 8, C6's best test, C7's pair interval."""

import numpy as np
import pytest

import priorlab.claims.stats.bootstrap as B
from priorlab.claims import CLAIMS
from priorlab.claims.c03_formats import collapse_epoch, deficit, one_minus_epoch
from priorlab.claims.stats import ControlSpec, Estimate, PartSpec, judge, judge_part, pair_bootstrap, two_level
from priorlab.claims.stats.tdist import t_quantile


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(B, "N_BOOT", 400)


def diff(m):
    return m["a"] - m["b"]


def test_problem_variance_enters_even_when_every_seed_agrees():
    """C4's old case: −3/48 in every seed (same problems, same samples) gave a zero-width interval
    and 'contradicted'; resampling problems gives an interval that contains 0."""
    one = {f"p{i}": (-1.0 if i < 3 else 0.0) for i in range(48)}
    data = {s: {"a": dict(one), "b": {k: 0.0 for k in one}} for s in range(3)}
    est = two_level(data, diff, ["a", "b"])
    assert est.effect == pytest.approx(-3 / 48) and est.se > 0 and est.paired
    assert judge_part(PartSpec("x", "x", est, paper_effect=0.05)).verdict in ("underpowered", "no effect detected")


def test_zero_width_and_single_unit_give_no_verdict():
    same = {s: {"a": {"-": 0.3}} for s in range(3)}
    est = two_level(same, lambda m: m["a"], ["a"])
    assert est.se == 0
    part = judge_part(PartSpec("x", "x", est, paper_effect=0.1))
    assert part.verdict == "underpowered" and "zero width" in part.reason and part.ci_low is None
    one = judge_part(PartSpec("x", "x", two_level({0: {"a": {"p": 1.0, "q": 2.0}}}, lambda m: m["a"], ["a"])))
    assert one.verdict == "underpowered" and one.ci_low is None


def test_a_part_with_no_unit_is_not_run_not_underpowered():
    """An optional arm that never ran leaves its part with no data: 'underpowered' would say more
    seeds could decide it; nothing was measured. A claim whose primary part has none is not run."""
    none = two_level({}, lambda m: m["a"], ["a"])
    part = judge_part(PartSpec("x", "x", none, paper_effect=0.1))
    assert (part.verdict, part.units, part.ci_low) == ("not run", 0, None) and "nothing was measured" in part.reason
    some = two_level({s: {"a": {"p": 0.1 * s, "q": 0.2}} for s in range(3)}, lambda m: m["a"], ["a"])
    v = judge([PartSpec("x", "x", none), PartSpec("y", "y", some)], None, None)
    assert v.verdict == "not run" and v.parts[1].verdict != "not run"


def test_two_level_is_seeded_and_handles_disjoint_problem_sets():
    rng = np.random.default_rng(0)
    data = {s: {"a": {f"{s}/{p}": float(rng.normal(0.1, 0.2)) for p in range(20)},
                "b": {f"{s}/{p}": float(rng.normal(0.0, 0.2)) for p in range(20)}} for s in range(4)}
    assert two_level(data, diff, ["a", "b"], seed=3) == two_level(data, diff, ["a", "b"], seed=3)
    own = {s: {"a": {f"a{s}/{p}": v for p, v in enumerate(c["a"].values())},
               "b": {f"b{s}/{p}": v for p, v in enumerate(c["b"].values())}} for s, c in data.items()}
    est = two_level(own, diff, ["a", "b"])
    assert not est.paired and est.se > 0 and est.effect == pytest.approx(two_level(data, diff, ["a", "b"]).effect)


def test_non_inferiority_inside_minus_margin_to_zero_holds():
    """The old rule called an interval inside (−margin, 0) 'contradicted'; docs/claims.md: holds."""
    est = Estimate(-0.01, 0.001, 5)
    lo, hi = est.interval()
    assert -0.02 < lo < hi < 0
    assert judge_part(PartSpec("keeps", "x", est, margin=0.02)).verdict == "holds"
    assert judge_part(PartSpec("keeps", "x", Estimate(-0.05, 0.002, 5), margin=0.02)).verdict == "contradicted"
    assert judge_part(PartSpec("keeps", "x", Estimate(-0.02, 0.01, 5), margin=0.02)).verdict == "underpowered"


def test_a_keeps_part_with_a_negative_sign_is_refused_not_judged_backwards():
    with pytest.raises(ValueError, match="takes sign \\+1"):
        PartSpec("keeps", "s", Estimate(0.0, 0.01, 5), sign=-1, margin=0.02)


def test_power_splits_no_verdict_into_underpowered_and_no_effect_detected():
    est = Estimate(0.01, 0.02, 5)
    mde = (t_quantile(0.975, 4) + t_quantile(0.8, 4)) * 0.02
    assert est.mde() == pytest.approx(mde)
    assert judge_part(PartSpec("x", "x", est, paper_effect=mde * 1.1)).verdict == "no effect detected"
    assert judge_part(PartSpec("x", "x", est, paper_effect=mde * 0.9)).verdict == "underpowered"
    assert judge_part(PartSpec("x", "x", est, paper_effect=None)).verdict == "underpowered"


def test_headline_is_the_primary_part_and_the_others_are_holm_corrected():
    """The old rule: 'contradicted if any part is' (≈17% false contradictions with 5 null parts),
    and a headline interval containing 0 beside 'contradicted' (C1)."""
    primary = PartSpec("primary", "x", Estimate(0.01, 0.05, 3), paper_effect=1.0)
    strong = PartSpec("other", "y", Estimate(-0.5, 0.05, 3))
    v = judge([primary, strong], None, None)
    assert v.verdict == "no effect detected" and v.primary.ci_low < 0 < v.primary.ci_high
    assert v.parts[1].verdict == "contradicted" and "Holm" in v.reason
    # Holm: the level of a part follows its rank; an accepted part's interval contains 0
    parts = [PartSpec(str(i), "x", Estimate(e, 0.01, 30)) for i, e in enumerate((0.0, 0.05, 0.021, 0.0))]
    j = judge(parts, None, None)
    assert [p.level for p in j.parts[1:]] == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2])
    for p in j.parts:
        assert (p.verdict in ("holds", "contradicted")) == (p.ci_low > 0 or p.ci_high < 0)


def test_null_five_part_claim_is_rarely_contradicted():
    rng = np.random.default_rng(1)
    bad = 0
    for _ in range(400):
        specs = [PartSpec(str(i), "x", Estimate(float(rng.standard_t(2)) * 0.1, 0.1, 3)) for i in range(5)]
        bad += judge(specs, None, None).verdict == "contradicted"
    assert bad / 400 <= 0.05  # the old any-part rule gave ~17%


def test_controls_gate_the_verdict():
    holds = PartSpec("p", "x", Estimate(0.5, 0.05, 5))
    quiet = ControlSpec("neg", Estimate(0.0, 0.05, 5), positive=False, sign=0)
    seen = ControlSpec("pos", Estimate(0.5, 0.05, 5), positive=True)
    assert judge([holds], seen, quiet).verdict == "holds"
    fired = ControlSpec("neg", Estimate(0.5, 0.05, 5), positive=False, sign=0)
    v = judge([holds], seen, fired)
    assert v.verdict == "instrument failed" and "negative control fired" in v.reason
    assert all(p.verdict == "instrument failed" for p in v.parts)
    missed = ControlSpec("pos", Estimate(0.01, 0.05, 5), positive=True)
    assert judge([holds], missed, quiet).verdict == "instrument failed"
    assert set(quiet.result()) == {"description", "effect", "ci_low", "ci_high", "detected"}


def test_c4_plants_its_control_on_the_rl_arm_not_on_a_base_at_its_ceiling():
    """C4 at small: the prior's pass@64 is near 1, so a control planted on the base was clipped
    there and went undetected (`instrument failed`) though RL's pass@n falling, the claim's effect,
    had room. The effect moves the RL arm; the control is planted there."""
    rng = np.random.default_rng(3)
    rows = [{"seed": s, "n": 64, "problem": f"eval/letters/4/{s * 24 + i}", "base_n": 1.0,
             "rl_n": float(rng.uniform(0.8, 1.0)), "base_1": 0.3, "rl_1": float(rng.uniform(0.3, 0.5)),
             "half_a": float(rng.uniform(0.9, 1.0)), "half_b": float(rng.uniform(0.9, 1.0))}
            for s in range(3) for i in range(24)]
    v = CLAIMS.get("C4")().judge(rows)
    assert v.positive_control["detected"] and "on 'b'" in v.positive_control["description"], v.reason
    assert v.verdict != "instrument failed"


def test_a_measured_positive_control_gates_a_zero_width_primary():
    """C12 at medium: the primary was 0 in every draw (no verdict) and its run-level positive control,
    with an interval of its own, went undetected: that is the instrument failing, not 'underpowered'."""
    flat = PartSpec("p", "x", Estimate(0.0, 0.0, 5))
    missed = ControlSpec("pos", Estimate(0.01, 0.02, 5), positive=True)
    v = judge([flat], missed, None)
    assert v.verdict == "instrument failed" and "positive control went undetected" in v.reason
    unmeasured = ControlSpec("pos", Estimate(0.0, 0.0, 5), positive=True)
    assert judge([flat], unmeasured, None).verdict == "underpowered"


def test_c3_collapse_epoch_counts_the_updates_before_the_rollouts():
    """The metrics row of step k holds rollouts sampled before update k: a collapse seen in the
    first row happened after 0 updates (the old code said one batch)."""
    rows = [{"step": 1, "share_steps": 0.95, "share_answer": 0.05}]
    assert collapse_epoch(rows, 16 / 128) == 0.0
    rows = [{"step": 1, "share_steps": 0.5}, {"step": 2, "share_steps": 0.5}, {"step": 3, "share_steps": 0.92}]
    assert collapse_epoch(rows, 16 / 128) == pytest.approx(2 * 16 / 128)


def test_c3_a_run_that_never_collapsed_is_censored_at_what_it_observed_not_at_a_cap():
    """'Within the first epoch' is 1 − epochs to collapse: a run that never collapsed over 1.8 epochs
    gives at most 1 − 1.8 (it was −9, a cap at 10 epochs), and one that saw under an epoch gives nothing."""
    assert one_minus_epoch(0.75, 1.8) == pytest.approx(0.25)
    assert one_minus_epoch(float("inf"), 1.8) == pytest.approx(-0.8)
    assert one_minus_epoch(float("inf"), 0.5) is None


def test_two_rows_for_one_unit_and_problem_are_an_error_not_a_silent_replacement():
    rows = [{"seed": 0, "problem": "p", "arm": a, "v": x} for a, x in (("x", 0.1), ("y", 0.9))]
    with pytest.raises(ValueError, match="tells them apart"):
        B.cells(rows, "v", {"a": {}})
    assert B.cells(rows, "v", {"a": {"arm": "y"}}) == {0: {"a": {"p": 0.9}}}


def test_c3_pools_both_compositions_as_their_own_units():
    """C3 runs two replica priors per seed on the same problems; keyed by seed, the second
    composition's values replaced the first's (the old effect was rare-accurate's alone)."""
    rows = [{"kind": "problem", "arm": a, "seed": s, "unit": f"{a}@s{s}", "problem": f"eval/c/4/{p}",
             "winner_share": share + 0.01 * p, "prior_mode_share": 0.5}
            for a, share in (("answer-reward-3f", 1.0), ("answer-reward-rare-accurate", 0.6))
            for s in range(3) for p in range(4)]
    primary = CLAIMS.get("C3")().judge(rows).primary
    assert primary.units == 6 and primary.effect == pytest.approx((1.0 + 0.6) / 2 + 0.015 - 0.9)


def test_c3_deficit_is_the_strongest_rivals_share_minus_the_formats_own_per_problem():
    recs = [{"split": "eval", "context": "c", "depth": 4, "index": i, "format": f}
            for i, fmts in enumerate((["steps"] * 3 + ["code"], ["steps", "code", "code", "answer"]))
            for f in fmts]
    assert deficit(recs, "steps") == pytest.approx({"eval/c/4/0": 0.25 - 0.75, "eval/c/4/1": 0.5 - 0.25})
    assert deficit(recs, "code") == pytest.approx({"eval/c/4/0": 0.75 - 0.25, "eval/c/4/1": 0.25 - 0.5})
    assert deficit([r for r in recs if r["format"] == "steps"], "steps") == pytest.approx(
        {"eval/c/4/0": -1.0, "eval/c/4/1": -1.0})  # no rival: it holds every sample


def test_c3_winner_parts_get_a_verdict_where_every_run_agrees():
    """Every run keeps its initial mode and none picks the most accurate format: as per-run indicators
    (0 and 1 in every unit) both parts had a zero-width interval and no verdict; per problem, with
    sampling noise, each gets an interval with width and a verdict."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(6):
        rows.append({"kind": "seed", "unit": f"u{u}", "seed": u, "one_minus_epoch": float(rng.normal(0, 0.2))})
        rows += [{"kind": "problem", "unit": f"u{u}", "seed": u, "problem": f"eval/c/4/{p}",
                  "winner_share": 0.85 + rng.normal(0, 0.05), "prior_mode_share": 0.6,
                  "mode_deficit": -0.7 + rng.normal(0, 0.1), "best_deficit": 0.7 + rng.normal(0, 0.1)}
                 for p in range(8)]
    parts = {p.name: p for p in CLAIMS.get("C3")().judge(rows).parts}
    mode, best = parts["winner ≠ initial mode"], parts["winner ≠ most accurate"]
    assert mode.verdict == "contradicted" and mode.ci_low < mode.ci_high < 0
    assert best.verdict == "holds" and 0 < best.ci_low < best.ci_high


def test_c5_depth_beyond_the_edge_band_is_never_pooled_with_the_band():
    """The band's depths are the edge arm's own training depths: a gain there makes the primary (the
    paper's in-band measurement) hold and leaves the beyond-band part alone; a gain beyond the band
    moves that part only."""
    rng = np.random.default_rng(3)

    def rows(band: float, beyond: float):
        return [{"arm": a, "seed": s, "region": region, "problem": f"eval/c/{d}/{p}",
                 "gain_n": (g if a == "edge" else 0.0) + rng.normal(0, 0.05)}
                for a in ("edge", "in-distribution", "too-hard") for s in range(3) for p in range(8)
                for region, d, g in (("edge band", 6, band), ("beyond", 8, beyond))]

    inside = CLAIMS.get("C5")().judge(rows(0.4, 0.0))
    assert inside.primary.verdict == "holds" and inside.parts[3].verdict not in ("holds", "contradicted")
    assert "depth 8" in inside.parts[3].name and "depths 6-7" in inside.primary.name
    beyond = CLAIMS.get("C5")().judge(rows(0.0, 0.4))
    assert beyond.parts[3].verdict == "holds" and beyond.primary.verdict not in ("holds", "contradicted")


def test_c7_overlap_interval_resamples_seeds_not_dependent_pairs():
    """Pairs sharing a seed are dependent: a t-interval over the 3 pairs is too narrow; the seed
    bootstrap is not (false 'above chance' rate under the null, 400 simulated experiments)."""
    rng = np.random.default_rng(2)
    naive = ours = 0
    for _ in range(400):
        u = rng.normal(0, 0.05, 4)
        vals = {(a, b): float(u[a] + u[b] + rng.normal(0, 0.005)) for a in range(4) for b in range(a + 1, 4)}
        v = np.array(list(vals.values()))
        half = t_quantile(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
        naive += abs(v.mean()) > half
        lo, hi = pair_bootstrap(vals, n_boot=400).interval()
        ours += lo > 0 or hi < 0
    assert ours / 400 <= 0.08 < naive / 400
