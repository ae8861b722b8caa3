"""Several valid orders of computation: ``world.branches=2`` (two chains joined by the last
operation) and ``corpus.drawn_orders`` (a share of documents whose trace is in a drawn valid order)."""

import random

import pytest

from priorlab.config import load_config
from priorlab.corpus import document_texts
from priorlab.diagnostics.trajectories import count_trajectories, trajectory
from priorlab.worlds import make_world


def is_valid_order(problem) -> bool:
    known = {n for n, _ in problem.gold["leaves"]}
    for step in problem.gold["nodes"]:
        if any(n is not None and n not in known for n, _ in step.args):
            return False
        known.add(step.target)
    return True


def test_a_chain_world_is_unchanged_and_has_one_order():
    chain, one = make_world("arith_dag"), make_world("arith_dag", branches=1)
    two = make_world("arith_dag", branches=2)
    for depth in (1, 2, 4):
        p = chain.problem("eval", 3, depth)
        assert p == one.problem("eval", 3, depth)
        assert {chain.in_drawn_order(p, random.Random(s)).gold["nodes"] for s in range(20)} == {p.gold["nodes"]}
    assert two.problem("eval", 3, 2) == chain.problem("eval", 3, 2)  # too shallow for two chains


@pytest.mark.parametrize("depth", [3, 5, 7])
def test_two_branches_allow_several_orders_and_every_drawn_order_verifies(depth):
    world = make_world("arith_dag", branches=2)
    orders = set()
    for index in range(6):
        p = world.problem("eval", index, depth)
        sink, before = p.gold["nodes"][-1], p.gold["nodes"][:-1]
        assert {n for n, _ in sink.args} <= {s.target for s in before}  # the sink joins two operations
        assert [q for q, _ in p.answer][0] == sink.target and is_valid_order(p)
        for s in range(10):
            q = world.in_drawn_order(p, random.Random(s))
            assert is_valid_order(q) and set(q.gold["nodes"]) == set(p.gold["nodes"])
            for fmt in ("steps", "code"):
                v = world.verify(p, world.render_solution(q, fmt))
                assert v.verified, (fmt, world.render_solution(q, fmt))
            orders.add((index, q.gold["nodes"]))
    assert len(orders) > 6  # some problem has more than one order
    p = world.problem("eval", 0, depth)
    texts = {world.render_solution(world.in_drawn_order(p, random.Random(s)), "steps") for s in range(30)}
    counts = count_trajectories(("p", trajectory(world.verify(p, t)), True) for t in texts)
    assert counts["p"]["correct"] == len(texts)  # each order is a trajectory of its own


@pytest.mark.parametrize("share", [0.5, 1.0])
def test_drawn_orders_reorder_trace_lines_only(share):
    world = make_world("arith_dag", branches=2)
    prompt_docs, _ = document_texts(world, load_config(None, []).corpus, 5000)
    drawn_docs, _ = document_texts(world, load_config(None, [f"corpus.drawn_orders={share}"]).corpus, 5000)
    assert [t.split(" <sol> ")[0] for t, _ in prompt_docs] == [t.split(" <sol> ")[0] for t, _ in drawn_docs]
    lines = lambda t: sorted(t.split(" <sol> ")[1].split(" ; "))  # noqa: E731
    assert all(lines(a) == lines(b) for (a, _), (b, _) in zip(prompt_docs, drawn_docs))
    assert sum(a != b for (a, _), (b, _) in zip(prompt_docs, drawn_docs)) > 3
    chain = make_world("arith_dag")
    assert document_texts(chain, load_config(None, []).corpus, 3000) == document_texts(
        chain, load_config(None, [f"corpus.drawn_orders={share}"]).corpus, 3000)
