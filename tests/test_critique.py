"""Critique-GRPO (arXiv 2506.03106): critiques from the verifier round-trip through it, refinement
documents, the shaped off-policy loss against hand-computed gradients, refinements entering the
group, and the preset end to end on the tiny prior."""

import random

import pytest
import torch

from priorlab.config import load_config
from priorlab.corpus import document_texts, refine_doc
from priorlab.worlds import make_world
from priorlab.worlds.critique import KINDS, critique, first_wrong_step, read_critique, refine_input
from priorlab.worlds.formats import CRITIQUE_TOKENS, parse_line


def attempts(world, n=24):
    """(problem, wrong attempt, its verdict) at depths 2-5, wrong in several ways."""
    out = []
    for i in range(n):
        p = world.problem("rl", i, 2 + i % 4)
        gold = world.render_solution(p, "steps")
        text = [world.wrong_solution(p, random.Random(i)), gold.split("<ans>")[0], "x = 1 + 2 = x 3 ; " + gold,
                gold.rsplit(" ", 1)[0]][i % 4]
        out.append((p, text, world.verify(p, text)))
    return out


def test_critique_tokens_are_world_vocabulary(world):
    assert set(CRITIQUE_TOKENS) <= set(world.vocabulary())


@pytest.mark.parametrize("kind", KINDS)
def test_critiques_round_trip_through_the_verifier(world, kind):
    for p, text, v in attempts(world):
        assert not v.verified
        right, body = read_critique(critique(world, p, v, kind))
        assert right is False
        step = first_wrong_step(world, p, v)
        if kind == "none":
            assert body == ""
        elif kind == "step" and step is not None:  # the named step is the verifier's expected one
            assert parse_line(body.split()) == ("steps", step)
            assert world.verify(p, body).steps == [{"target": step.target, "status": "ok"}]
            assert step in world.gold_steps(p) and all(
                s["status"] == "ok" for s in v.steps if s["target"] in
                {g.target for g in world.gold_steps(p)[:world.gold_steps(p).index(step)]})
        else:  # the gold answer, parsed back by the verifier
            back = world.verify(p, body)
            assert back.parsed_answer == p.answer and back.answer_correct


def test_a_right_attempt_gets_the_right_verdict_only(world):
    p = world.problem("rl", 0, 3)
    v = world.verify(p, world.render_solution(p, "steps"))
    for kind in KINDS:
        assert read_critique(critique(world, p, v, kind)) == (True, "")


def test_wrong_solutions_slip_once_and_are_never_verified(world):
    for i in range(40):
        p = world.problem("pretrain", i, 2 + i % 4)
        v = world.verify(p, world.wrong_solution(p, random.Random(i)))
        assert v.format == "steps" and v.well_formed and not v.verified and v.n_value_mismatch >= 1


def test_refinement_documents_hold_attempt_critique_solution_and_leave_the_rest_alone(world):
    cfg = load_config(None, ["corpus.refine.share=0.3"]).corpus
    docs, _ = document_texts(world, cfg, 4000)
    refine = [t for t, tags in docs if tags["format"] == "refine"]
    assert 0 < len(refine) < len(docs)
    for text in refine:
        toks = text.split()
        assert toks.count("<sol>") == 2 and toks.count("<crit>") == 1 and toks[-1] == "<eos>"
    plain = load_config(None, []).corpus
    assert document_texts(world, plain, 4000) == document_texts(world, plain.model_copy(
        update={"refine": plain.refine.model_copy(update={"critiques": {"step": 1.0}})}), 4000)


def test_refinement_document_layout_and_loss_on_the_last_solution_only(world):
    from priorlab.corpus import build_corpus
    from priorlab.tokenizer import build_tokenizer

    p = world.problem("pretrain", 3, 3)
    doc = refine_doc(world, p, random.Random(0), {"step": 1.0})
    attempt = doc.split(" <sol> ")[1].split(" <crit>")[0]
    v = world.verify(p, attempt)
    assert doc == f"{refine_input(world, p, attempt, critique(world, p, v, 'step'))} " \
                  f"{world.render_solution(p, 'steps')} <eos>"
    tok = build_tokenizer(world.vocabulary())
    cfg = load_config(None, ["corpus.refine.share=0.99", "corpus.depths={3: 1.0}"]).corpus
    c = build_corpus(world, cfg, tok.get_vocab(), 512, 256)
    inv = {i: w for w, i in tok.get_vocab().items()}
    row, sol = c.tokens[0], c.sol[0]
    first = [inv[int(t)] for t, s in zip(row, sol) if s][:12]
    ends = [i for i, t in enumerate(row) if inv[int(t)] == "<eos>"]
    seg = [inv[int(t)] for t in row[:ends[0] + 1]]
    last_sol = len(seg) - 1 - seg[::-1].index("<sol>")
    assert sol[:ends[0] + 1].nonzero()[0].min() == last_sol + 1  # nothing before the last <sol> is trained
    assert "<crit>" not in first


def test_priors_without_critique_markers_still_load(tiny_prior, tmp_path):
    """A prior whose tokenizer predates the critique markers evaluates as before."""
    import json
    import shutil

    from priorlab.evaluate import world_for

    old = tmp_path / "old"
    shutil.copytree(tiny_prior[1], old)
    f = old / "tokenizer.json"
    data = json.loads(f.read_text())
    for t in CRITIQUE_TOKENS:
        data["model"]["vocab"].pop(t)
    f.write_text(json.dumps(data))
    assert world_for(old).name == "arith_dag"
