import random
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


# Characters a model's decoded text can hold that the worlds never render: digits outside ASCII
# (``isdigit()`` is true for all of them; ``int()`` raises on the superscripts and the circled
# ones and reads the others as their value), control and invisible characters, and the special
# and byte-level tokens of Hugging Face tokenizers (GPT-2 BPE ``Ġ``/``Ċ``, SentencePiece ``▁`` and
# ``<0x0A>`` byte fallback, BERT ``[UNK]``).
DIGIT_FAMILIES = [0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0xFF10, 0x1D7CE, 0x1D7F6, 0x07C0, 0x1810]
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"
CONTROL = ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\u200b", "\u200e", "\u2028", "\ufeff", "\t", "\r",
           "\x0c", "\x1c"]
HF_TOKENS = ["<unk>", "<|endoftext|>", "<|im_end|>", "<s>", "</s>", "<pad>", "<mask>", "[UNK]", "[PAD]", "[CLS]",
             "[SEP]", "Ġ", "Ċ", "▁", "<0x0A>", "<0x00>", "<0xE2>", "ĠÃ", "Â", "\ufffd"]
VOCAB = W.vocabulary() + ["<eos>", "<pad>", "999999999999", "-1", "", "==", "٣", "²", "①", "３"] + HF_TOKENS


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


def _foreign_digit(d: str, rng: random.Random) -> str:
    """ASCII digit ``d`` written in another script (same value where the script has one)."""
    kind = rng.randrange(len(DIGIT_FAMILIES) + 2)
    if kind == len(DIGIT_FAMILIES):
        return SUPERSCRIPTS[int(d)]
    if kind == len(DIGIT_FAMILIES) + 1:
        return CIRCLED[int(d)]
    return chr(DIGIT_FAMILIES[kind] + int(d))


def _mutate(toks: list[str], rng: random.Random) -> list[str]:
    """One random edit of a token list."""
    toks, i, kind = list(toks), rng.randrange(len(toks)), rng.randrange(6)
    numbers = [j for j, t in enumerate(toks) if t.isascii() and t.isdigit()]
    if kind == 0 and numbers:  # a number with one digit in another script: must never verify
        j = rng.choice(numbers)
        k = rng.randrange(len(toks[j]))
        toks[j] = toks[j][:k] + _foreign_digit(toks[j][k], rng) + toks[j][k + 1:]
    if kind == 1:  # a control or invisible character inside a token or between two
        k = rng.randrange(len(toks[i]) + 1)
        toks[i] = toks[i][:k] + rng.choice(CONTROL) + toks[i][k:]
    elif kind == 2:  # a tokenizer's special or byte-level token, alone or glued to a token
        tok = rng.choice(HF_TOKENS)
        if rng.random() < 0.5:
            toks.insert(i, tok)
        else:
            toks[i] = tok + toks[i]
    elif kind == 3:
        toks[i] = rng.choice(VOCAB)
    elif kind == 4:
        toks.insert(i, rng.choice(VOCAB))
    elif len(toks) > 1:
        del toks[i]
    return toks


def _visible_non_ascii_digit(text: str) -> bool:
    """A non-ASCII digit in what the verifier reads (the tokens before ``<eos>``)."""
    toks = text.split()
    toks = toks[:toks.index("<eos>")] if "<eos>" in toks else toks
    return any(c.isdigit() and not c.isascii() for t in toks for c in t)


def test_fuzz_100k_mutated_solutions_never_crash_and_foreign_digits_never_verify():
    """100,000 correct solutions (3 formats, 4 contexts, depths 2-6) with 1-3 random edits:
    non-ASCII digits, control characters, tokenizer tokens, vocabulary tokens. The verifier
    never raises, a verified completion is fully correct, and no completion that shows a
    non-ASCII digit before ``<eos>`` verifies (``int('٣') == 3`` made such answers count)."""
    rng = random.Random(15)
    contexts = ("letters", "greek", "animals", "fruits")
    problems = [W.problem("eval", i, 2 + i % 5, ctx) for i in range(12) for ctx in contexts]
    golds = [(p, W.render_solution(p, fmt).split()) for p in problems for fmt in ("steps", "code", "answer")]
    n, crashes, slowest, foreign = 100_000, [], 0.0, 0
    t_all = time.perf_counter()
    for _ in range(n):
        problem, toks = rng.choice(golds)
        for _ in range(rng.randint(1, 3)):
            toks = _mutate(toks, rng)
        text = " ".join(toks)
        t = time.perf_counter()
        try:
            v = W.verify(problem, text)
        except Exception as e:  # noqa: BLE001 - counted and shown below
            crashes.append((text, repr(e)))
            continue
        slowest = max(slowest, time.perf_counter() - t)
        shown = _visible_non_ascii_digit(text)
        foreign += shown
        assert not (shown and v.verified), text
        assert not v.verified or (v.answer_correct and v.process_acc == 1.0), text
    print(f"\nverifier fuzz: {n} completions ({foreign} with non-ASCII digits), {len(crashes)} crashes, "
          f"slowest {slowest * 1e3:.2f} ms, total {time.perf_counter() - t_all:.1f} s")
    assert not crashes, crashes[:3]
    assert foreign > n // 10


def test_huge_and_adversarial_inputs_are_fast():
    t = time.perf_counter()
    for text in ("1 " * 500_000, "; " * 300_000, GOLD * 2000, "<ans> " + "j 15 " * 100_000,
                 "9" * 1_000_000, "e = " * 100_000):
        v = verdict(text)
        assert not v.verified
    assert time.perf_counter() - t < 5.0
