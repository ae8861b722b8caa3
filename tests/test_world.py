import pytest

from priorlab.worlds import SPLIT_BUCKETS, make_world
from priorlab.worlds.base import split_of


def test_items_are_deterministic(world):
    a = world.problem("rl", 7, 4, "greek")
    b = make_world("arith_dag").problem("rl", 7, 4, "greek")
    assert a == b and a.prompt == b.prompt and a.answer == b.answer
    assert make_world("arith_dag", seed=1).problem("rl", 7, 4, "greek").prompt != a.prompt


def test_splits_are_disjoint_and_owned_by_content(world):
    seen: dict[str, set[str]] = {}
    for split in SPLIT_BUCKETS:
        ps = [world.problem(split, i, d) for d in (1, 2, 3) for i in range(150)]
        assert all(split_of(p.prompt) == split for p in ps)
        seen[split] = {p.prompt for p in ps}
    splits = list(seen)
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not seen[a] & seen[b], (a, b)


def test_depth_is_number_of_operations_and_contexts_rename(world):
    names = set()
    for ctx in world.contexts:
        p = world.problem("eval", 0, 5, ctx)
        assert len(p.gold["nodes"]) == 5 and p.context == ctx
        names.add(p.gold["nodes"][0].target)
    assert len(world.contexts) >= 3 and len(names) == len(world.contexts)


@pytest.mark.parametrize("fmt", ["steps", "code", "answer"])
def test_gold_solutions_verify_in_every_format(world, fmt):
    for depth in (1, 3, 7):
        p = world.problem("eval", depth, depth, "animals")
        v = world.verify(p, world.render_solution(p, fmt, confidence=0.8))
        assert v.answer_correct and v.well_formed and v.format == fmt
        assert v.verified == (fmt != "answer")
        assert v.confidence == 0.8


@pytest.mark.parametrize("knobs", [{"shuffle_prompt": True}, {"inline_values": False},
                                   {"modulus": 97, "n_query": 3}, {"ops": ["+"]},
                                   {"min_leaves": 1, "max_leaves": 1}, {"branches": 2}])
def test_knobs_change_prompts_and_stay_verifiable(knobs):
    base, w = make_world("arith_dag"), make_world("arith_dag", **knobs)
    ps = [w.problem("rl", i, 4) for i in range(20)]
    assert [p.prompt for p in ps] != [base.problem("rl", i, 4).prompt for i in range(20)]
    assert all(w.verify(p, w.render_solution(p, "steps")).verified for p in ps)


def test_bad_requests_name_the_problem(world):
    with pytest.raises(ValueError, match="depth 40"):
        world.problem("eval", 0, 40)
    with pytest.raises(ValueError, match="Did you mean 'eval'"):
        world.problem("evl", 0, 2)
    with pytest.raises(ValueError, match="Did you mean 'greek'"):
        world.problem("eval", 0, 2, "greeks")
