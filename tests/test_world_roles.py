"""Token roles of arith_dag completions, on hand-tagged examples."""

from priorlab.worlds.roles import token_roles


def tagged(text):
    return list(zip(text.split(), token_roles(text.split())))


def test_steps_line_roles():
    P, C, O, A = "plan", "compute", "other", "answer"
    assert tagged("e = s 7 * r 10 = e 5 ; l = e 5 - 11 = l 3 ; <ans> l 3 e 5 <eos>") == list(zip(
        "e = s 7 * r 10 = e 5 ; l = e 5 - 11 = l 3 ; <ans> l 3 e 5 <eos>".split(),
        [P, O, P, C, O, P, C, O, O, C, O, P, O, P, C, O, C, O, O, C, O, O, A, A, A, A, O]))


def test_code_line_and_header_roles():
    roles = [r for _, r in tagged("def solve ( ) : ; e = mul ( 4 , r 10 ) -> e 5 ;")]
    assert roles == ["other"] * 6 + ["plan", "other", "other", "other", "compute", "other", "plan", "compute",
                                     "other", "other", "other", "compute", "other"]


def test_answer_only_and_unparsed_lines():
    assert [r for _, r in tagged("<ans> t 4 <conf> 80%")] == ["other", "answer", "answer", "answer", "answer"]
    assert [r for _, r in tagged("e = s 7 ; q")] == ["unparsed"] * 4 + ["other", "unparsed"]
    assert token_roles([]) == []
