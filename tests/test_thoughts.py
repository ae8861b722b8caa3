"""Thought documents (``corpus.thoughts``): documents carrying ``<think>`` the steps trace
``</think>`` at a drawn position of their solution; the verifier skips well-formed thoughts; the
markers enter a prior's vocabulary only with such documents."""

from priorlab.config import load_config
from priorlab.corpus import corpus_vocabulary, document_texts
from priorlab.worlds.formats import END_THINK, THINK, THOUGHT_TOKENS, drop_thoughts


def test_thought_documents_carry_the_trace_at_a_drawn_position_and_leave_the_rest_alone(world):
    from priorlab.corpus import build_corpus
    from priorlab.tokenizer import build_tokenizer

    cfg = load_config(None, ["corpus.thoughts=0.5"]).corpus
    docs, _ = document_texts(world, cfg, 8000)
    plain_docs, _ = document_texts(world, load_config(None, []).corpus, 8000)
    plain = {t for t, _ in plain_docs}  # same problems and formats; the budget fills sooner with thoughts
    thought = [(t, tags) for t, tags in docs if tags["thought"]]
    assert 0 < len(thought) < len(docs) and {tags["format"] for _, tags in thought} == {"steps", "answer"}
    assert {t for t, tags in docs if not tags["thought"]} <= plain
    positions = set()
    for text, _ in thought:
        toks = text.split()
        i, j = toks.index(THINK), toks.index(END_THINK)
        assert toks.count(THINK) == toks.count(END_THINK) == 1 and toks.index("<sol>") < i < j
        assert " ".join(toks[:i] + toks[j + 1:]) in plain  # the document, thought removed
        assert "<ans>" not in toks[i:j] and toks[j - 1] == ";"  # the whole trace, no answer line
        positions.add(i - toks.index("<sol>"))
    assert len(positions) > 3  # the thought moves through the solution
    tok = build_tokenizer(world.vocabulary() + corpus_vocabulary(cfg))
    stats = build_corpus(world, cfg, tok.get_vocab(), 4096, 256).stats
    assert 0 < stats["thought_documents"] < stats["n_documents"]


def test_the_verifier_skips_thoughts(world):
    p = world.problem("eval", 0, 3)
    steps = world.render_solution(p, "steps")
    answer = world.render_solution(p, "answer")
    trace = steps.split("<ans>")[0]
    inside = world.verify(p, f"<ans> {THINK} {trace} {END_THINK} {answer.split(' ', 1)[1]}")
    assert inside.answer_correct and inside.well_formed and inside.format == "answer" and not inside.verified
    before = world.verify(p, f"{THINK} garbage {END_THINK} {steps}")
    assert before.verified and before.n_invalid == 0
    for bad in (f"{steps} {THINK} never closed", f"{END_THINK} {steps}", f"{THINK} {THINK} x {END_THINK} {steps}"):
        v = world.verify(p, bad)  # a malformed marker is an invalid line, as any unknown line was before
        assert not v.well_formed and not v.verified and v.n_invalid == 1, bad
    assert drop_thoughts(["a", END_THINK, "b"]) == (["a", "b"], 1) and drop_thoughts(["a"]) == (["a"], 0)


def test_thought_markers_come_with_thought_documents_only():
    assert corpus_vocabulary(load_config(None, []).corpus) == []
    assert corpus_vocabulary(load_config(None, ["corpus.thoughts=0.2"]).corpus) == list(THOUGHT_TOKENS)
