"""Run-level positive controls (issue 12): arms in which a claim's effect exists by construction.
They must appear in the plan of the scale that is run, and gate the verdict on constructed tables:
detected when the table holds the planted effect, undetected (instrument failed) when it does not."""

import sys
from pathlib import Path

import pytest

import priorlab.claims.stats.bootstrap as B
from priorlab.claims import CLAIMS, SCALES
from priorlab.claims.retest import chosen, plan

sys.path.insert(0, str(Path(__file__).parent))
from claim_tables import Gen, c7  # noqa: E402


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
