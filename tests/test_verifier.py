import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priorlab.worlds import make_world

W = make_world("arith_dag")
P = W.problem("eval", 0, 3, "letters")  # v 13 ; g 19 ; y 22 ; e = y 22 - g 19 ; l = 15 - e ; j = l - 20 ; ? j l
GOLD = W.render_solution(P, "steps")


def verdict(text, **kw):
    return W.verify(P, text, **kw)


def test_reference_problem_is_the_documented_one():
    assert GOLD.split(" ; ")[0] == "e = y 22 - g 19 = e 3"
    assert P.answer == (("j", 15), ("l", 12))


def test_wrong_step_value_is_a_value_mismatch():
    v = verdict(GOLD.replace("= e 3", "= e 4"))
    assert not v.verified and v.answer_correct and v.n_value_mismatch == 1 and v.process_acc < 1


def test_swapped_subtraction_is_a_dependency_mismatch_but_addition_commutes():
    v = verdict(GOLD.replace("e = y 22 - g 19", "e = g 19 - y 22"))
    assert not v.verified and v.n_dep_mismatch == 1
    candidates = (W.problem("eval", i, 3) for i in range(50))
    q = next(p for p in candidates if any(n.op == "+" for n in p.gold["nodes"]))
    plus = next(n for n in q.gold["nodes"] if n.op == "+")
    a, b = plus.args
    tok = lambda x: str(x[1]) if x[0] is None else f"{x[0]} {x[1]}"  # noqa: E731
    text = W.render_solution(q, "steps").replace(f"{tok(a)} + {tok(b)}", f"{tok(b)} + {tok(a)}")
    assert W.verify(q, text).verified


def test_missing_extra_and_duplicate_steps():
    steps = GOLD.split(" ; ")
    assert verdict(" ; ".join(steps[1:])).n_missing == 1
    dup = verdict(" ; ".join([steps[0]] + steps))
    assert not dup.verified and dup.n_extra == 1
    extra = verdict("q = 1 + 2 = q 3 ; " + GOLD)
    assert not extra.verified and extra.n_extra == 1


def test_answer_only_and_wrong_answers():
    assert verdict("<ans> j 15 l 12").answer_correct and not verdict("<ans> j 15 l 12").verified
    assert not verdict("<ans> j 15 l 13").answer_correct
    assert not verdict("<ans> j 15").answer_correct  # one query missing
    assert not verdict("<ans> j 15 q 12").answer_correct
    assert not verdict(GOLD.replace("<ans> j 15", "<ans> j 14")).verified


def test_truncation_eos_and_confidence():
    assert verdict(GOLD, truncated=True).truncated and not verdict(GOLD, truncated=True).verified
    assert verdict(GOLD + " <eos> garbage 12 ;").verified
    v = verdict(GOLD + " <conf> 70%")
    assert v.verified and v.confidence == 0.7
    assert not verdict(GOLD + " <conf> 75%").well_formed
    assert not verdict(GOLD + " <conf>").verified


def test_format_detection_by_content():
    code = W.render_solution(P, "code")
    assert verdict(code).format == "code"
    mixed = code.split(" ; ")[:2] + GOLD.split(" ; ")[1:]
    assert verdict(" ; ".join(mixed)).format == "mixed"
    assert verdict("hello world").format == "none"


VOCAB = W.vocabulary() + ["<eos>", "<pad>", "999999999999", "-1", "", "=="]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCAB), max_size=300))
def test_fuzz_token_soup_never_crashes(tokens):
    v = verdict(" ".join(tokens))
    assert not v.verified or (v.answer_correct and v.process_acc == 1.0)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_fuzz_arbitrary_text_never_crashes(text):
    verdict(text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_gold_only_verifies_when_equivalent(data):
    toks = GOLD.split()
    i = data.draw(st.integers(0, len(toks) - 1))
    new = data.draw(st.sampled_from(VOCAB))
    mutated = toks[:i] + [new] + toks[i + 1:]
    v = verdict(" ".join(mutated))
    # The one equivalent rendering: the last step's ";" before <ans> is optional (the step
    # grammar splits on ";"; found by this fuzz in 2026-11, present since the first verifier).
    optional_sep = toks[i] == ";" and new == "" and toks[i + 1] == "<ans>"
    if v.verified:
        assert new == toks[i] or optional_sep


def test_huge_and_adversarial_inputs_are_fast():
    t = time.perf_counter()
    for text in ("1 " * 500_000, "; " * 300_000, GOLD * 2000, "<ans> " + "j 15 " * 100_000,
                 "9" * 1_000_000, "e = " * 100_000):
        v = verdict(text)
        assert not v.verified
    assert time.perf_counter() - t < 5.0
