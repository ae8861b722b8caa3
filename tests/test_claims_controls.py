"""Run-level positive controls (issue 12): arms in which a claim's effect exists by construction.
They must appear in the plan of the scale that is run, and gate the verdict on constructed tables:
detected when the table holds the planted effect, undetected (instrument failed) when it does not."""

import sys
from pathlib import Path

import pytest

import priorlab.claims.stats.bootstrap as B
from priorlab.claims import CLAIMS, SCALES
from priorlab.claims.retest import arm_config, chosen, plan

sys.path.insert(0, str(Path(__file__).parent))
from claim_tables import Gen, c2, c7, c10  # noqa: E402


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(B, "N_BOOT", 400)


def test_c7_masked_arm_is_planned_at_tiny_scale_with_half_its_entries_frozen():
    from priorlab.claims.c07_sparsity import MASKED, UPDATE_FRACTION

    _, arms = plan(chosen(["C7"]), SCALES["tiny"])
    sets = arms[MASKED].sets
    assert f"optim.update_fraction={UPDATE_FRACTION}" in sets and arms[MASKED].prior == "demo"
    plain = [s for s in sets if not s.startswith(("optim.update_fraction", "final.n_"))]
    assert plain == [s for s in arms["grpo-correct"].sets if not s.startswith("final.n_")]  # otherwise the same arm


def test_c7_positive_control_sees_planted_sparsity_and_misses_none():
    claim = CLAIMS.get("C7")()
    v = claim.judge(c7(Gen(3), 0.3))
    assert v.positive_control["detected"] is True and v.verdict == "holds", v.reason
    assert v.positive_control["description"].startswith("run-level")
    v = claim.judge(c7(Gen(3), 0.3, frozen=0.0))  # the arm's rows say nothing is frozen
    assert v.positive_control["detected"] is False and v.verdict == "instrument failed", v.reason
    v = claim.judge([r for r in c7(Gen(3), 0.3) if r.get("arm") != "grpo-correct-masked"])  # the arm is missing
    assert v.positive_control["detected"] is False and v.verdict == "instrument failed"


def test_c7_large_learning_rate_arm_is_planned_and_its_gap_gates_the_verdict():
    """C7's negative control: the GRPO arm at 100x the learning rate, whose updates bf16 resolves.
    Quiet while its bf16 − fp32 gap stays under the tolerance; a gap that persists at that learning
    rate is not the resolution effect the claim is about, so the claim reports instrument failed."""
    from priorlab.claims.c07_sparsity import CONTROL_TOL, LOUD, LOUD_HORIZON, LOUD_LR

    for name, scale in SCALES.items():
        _, arms = plan(chosen(["C7"]), scale)
        sets, main = arms[LOUD].sets, arms["grpo-correct"].sets
        assert f"optim.lr={LOUD_LR}" in sets, name
        if scale.horizons:
            assert f"steps={LOUD_HORIZON.steps}" in sets, name
        else:  # otherwise the main arm: its steps, another learning rate, its evaluation shrunk
            assert [s for s in sets if not s.startswith(("optim.lr", "final.n_"))] == [
                s for s in main if not s.startswith("final.n_")], name
    claim = CLAIMS.get("C7")()
    v = claim.judge(c7(Gen(3), 0.3))
    assert v.negative_control["detected"] is False and v.verdict == "holds", v.reason
    v = claim.judge(c7(Gen(3), 0.3, loud=0.3))  # the gap did not shrink with 100x larger updates
    assert v.negative_control["detected"] is True and v.verdict == "instrument failed", v.reason
    v = claim.judge(c7(Gen(3), 0.3, loud=CONTROL_TOL / 2))
    assert v.negative_control["detected"] is False


def test_c11_distilled_arm_is_planned_at_every_scale_from_a_teacher_that_saw_deeper_problems():
    """C11's run-level positive control is the distilled arm: it must be planned (SFT on the samples
    of a teacher continued from the demo prior on depths beyond the student's), next to the GRPO
    arm it is compared with on the same evaluation."""
    from priorlab.claims.c11_distillation import DISTILL, GRPO, TEACHER

    for name, scale in SCALES.items():
        priors, arms = plan(chosen(["C11"]), scale)
        distill = arms[DISTILL]
        assert distill.kind == "sft" and distill.preset == "rft" and distill.teacher == TEACHER.name, name
        assert "data.depths=[2, 3, 4, 5, 6, 7]" in distill.sets  # the teacher's new depths, and the student's own
        teacher = priors[TEACHER.name]
        assert teacher.base == "demo" and any("6: 2.0, 7: 2.0" in s for s in teacher.sets) and teacher.budget > 1
        finals = {a: [s for s in arms[a].sets if s.startswith("final.")] for a in (DISTILL, GRPO)}
        assert finals[DISTILL] == finals[GRPO]  # paired: same problems, same samples per problem
        cfg = arm_config(distill, 0, Path("prior"), Path("teacher"))  # R1's rejection sampling; tiny verifies nothing
        assert cfg.data.filter == ("none" if name == "tiny" else "verified"), name


def test_c2_verified_control_arm_is_planned_with_one_update_per_batch():
    _, arms = plan(chosen(["C2"]), SCALES["tiny"])
    control, random1 = arms["verified-1-update"], arms["random-1-update"]
    assert "algo.mini_batches=1" in control.sets and not any(s.startswith("reward.") for s in control.sets)
    assert [s for s in random1.sets if not s.startswith("reward.")] == list(control.sets)  # only the reward differs


def test_c2_positive_control_needs_the_verified_arm_to_move():
    claim = CLAIMS.get("C2")()
    v = claim.judge(c2(Gen(3), 0.3))
    assert v.positive_control["detected"] is True and v.verdict == "holds", v.reason
    assert v.positive_control["description"].startswith("run-level")
    v = claim.judge(c2(Gen(3), 0.3, verified=-0.05))  # the verified reward did not raise accuracy
    assert v.positive_control["detected"] is False and v.verdict == "instrument failed", v.reason
    v = claim.judge([r for r in c2(Gen(3), 0.3) if r["arm"] != "verified-1-update"])  # the arm is missing
    assert v.positive_control["detected"] is False and v.verdict == "instrument failed"


def test_c2_a_clip_that_only_restrains_the_walk_does_not_hold():
    """With a clip that binds, the unclipped walk is the wider one: clipped − unclipped drift can be
    positive with no drift toward the mode under the clip (a trust region, not the clipping bias the
    claim names). The primary is the drift under the clip; the difference is a part."""
    rows = [r | {"d_mode": r["d_mode"] - 0.4} if r["arm"] == "random-noclip" else r for r in c2(Gen(3), 0.0)]
    v = CLAIMS.get("C2")().judge(rows)
    parts = {p.name: p.verdict for p in v.parts}
    assert parts["clip vs no clip, same mini-batches"] == "holds" and v.verdict != "holds", (v.verdict, parts)


def test_c2_an_accuracy_loss_without_the_clip_contradicts_that_part_not_the_headline():
    """'Without the clip the change disappears', on the loss side: a 1-update arm that lost 0.55 of
    accuracy contradicts its 'keeps' part; the headline stays the drift comparison's verdict."""
    claim = CLAIMS.get("C2")()
    rows = [r | {"d_answer": r["d_answer"] - 0.5} if r["arm"] == "random-1-update" else r for r in c2(Gen(3), 0.3)]
    v = claim.judge(rows)
    parts = {p.name: p.verdict for p in v.parts}
    assert parts["1 update per batch: no accuracy loss"] == "contradicted" and v.verdict == "holds", parts
    assert parts["RLOO: no accuracy loss"] != "contradicted"


def test_c12_gold_trace_arm_is_planned_and_differs_from_the_critique_arm_only_in_the_critique_and_its_loss():
    """The label leak is trained by its likelihood (critique.loss=reinforce): the shaped loss cannot
    raise a token the prior gives p << gamma, such as a 6th step after 5 (C12 at medium)."""
    from priorlab.claims.c12_critiques import REFINE

    priors, arms = plan(chosen(["C12"]), SCALES["tiny"])
    assert priors[REFINE.name].from_scratch and "corpus.refine.share=0.1" in priors[REFINE.name].sets
    gold, step, grpo = arms["gold-trace"], arms["critique-step"], arms["grpo-refine"]
    own = ("critique.kind=gold", "critique.loss=reinforce")
    assert set(own) <= set(gold.sets) and gold.preset == step.preset == "critique_grpo"
    assert [s for s in gold.sets if s not in own] == [s for s in step.sets if s != "critique.kind=step"]
    assert not any(s.startswith("critique.loss") for s in step.sets)
    assert grpo.preset == "grpo" and not any(s.startswith("critique.") for s in grpo.sets)


def test_c12_positive_control_sees_a_gold_trace_gain_and_misses_none():
    from claim_tables import c12

    claim = CLAIMS.get("C12")()
    v = claim.judge(c12(Gen(3), 0.3))
    assert v.positive_control["detected"] is True and v.verdict == "holds", v.reason
    v = claim.judge(c12(Gen(3), 0.3, gold=0.0))  # the label leak taught nothing: the instrument is blind
    assert v.positive_control["detected"] is False and v.verdict == "instrument failed", v.reason


def test_c10_reports_the_absolute_regression_apart_from_the_contrast_with_medium():
    """Both arms improve the easy items, hard RL less: the relative part holds, and the paper's
    absolute claim ("hard RL degrades easy items") is its own part, which the gains contradict."""
    rows = c10(Gen(4), 0.40, medium=0.75)  # hard RL: +0.35 on the easy items, medium RL: +0.75
    parts = {p.name: p for p in CLAIMS.get("C10")().judge(rows).parts}
    assert parts["easy items fare worse after hard RL than after medium RL"].verdict == "holds"
    assert parts["easy items regress after hard RL"].verdict == "contradicted"
