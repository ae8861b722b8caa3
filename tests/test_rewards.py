import pytest

from priorlab.rl.rewards import REWARDS, combine
from priorlab.worlds import Verdict


def V(**kw):
    return Verdict(**kw)


GOOD = V(verified=True, answer_correct=True, well_formed=True, parsed_answer=(("j", 1), ("l", 2)), n_gold=4)
RIGHT_ANSWER_BAD_TRACE = V(answer_correct=True, well_formed=True, parsed_answer=(("l", 2), ("j", 1)),
                           n_gold=4, n_value_mismatch=1, n_extra=9)
WRONG = V(well_formed=True, parsed_answer=(("j", 5), ("l", 2)), n_gold=4, n_missing=4)
GARBAGE = V(n_gold=4)
ALL = [GOOD, RIGHT_ANSWER_BAD_TRACE, WRONG, GARBAGE]


def r(name, verdicts=ALL, **ctx):
    return REWARDS.get(name)([None] * len(verdicts), [""] * len(verdicts), verdicts, **ctx)


def test_outcome_rewards():
    assert r("correct") == [1, 0, 0, 0]
    assert r("answer") == [1, 1, 0, 0]
    assert r("inverse") == [0, 1, 1, 1]
    assert r("format") == [1, 1, 1, 0]


def test_process_reward_follows_claims_section_9():
    # GOOD: penalty 0 -> 0.2 + 0.8; bad trace: penalty 1 + min(9, 4) = 5 -> process 0 -> 0.2
    assert r("process") == pytest.approx([1.0, 0.2, 0.0, 0.0])


def test_random_reward_is_seeded_and_ignores_content():
    a = r("random", ALL * 25, seed=1, step=3)
    assert a == r("random", ALL[::-1] * 25, seed=1, step=3)
    assert a != r("random", ALL * 25, seed=2, step=3) and set(a) == {0.0, 1.0}
    assert sum(r("random", ALL * 250, seed=0, gamma=0.2)) / 1000 == pytest.approx(0.2, abs=0.05)


def test_majority_vote_and_incorrect_label():
    other = V(parsed_answer=(("j", 5), ("l", 2)))
    assert r("majority_vote", [GOOD, RIGHT_ANSWER_BAD_TRACE, other, GARBAGE], group=[0, 0, 0, 0]) == [1, 1, 0, 0]
    assert r("incorrect_label", [WRONG, GOOD], labels=[(("l", 2), ("j", 5)), None]) == [1.0, None]


def test_brier_and_none_handling():
    conf = [V(verified=True, confidence=0.9), V(verified=False, confidence=0.9), V(verified=True)]
    assert r("brier", conf) == pytest.approx([1 - 0.01, -0.81, None])
    assert combine({"brier": 1.0}, [None] * 3, [""] * 3, conf) == pytest.approx([0.99, -0.81, None])
    both = combine({"brier": 1.0, "format": 0.5}, [None] * 3, [""] * 3, conf)
    assert both == pytest.approx([0.99, -0.81, 0.0])
    assert r("length", [GOOD], lengths=[64], max_tokens=128) == [-0.5]
