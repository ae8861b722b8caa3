"""Corpus recipe knobs for priors as a factor: operation-fact drills (corpus.facts), per-format
document accuracy (corpus.format_accuracy), a depth curriculum and a smaller-modulus first phase
(corpus.curriculum); the probe's per-format criterion."""

import random
from collections import Counter

import pytest

from priorlab.click import probe_problems
from priorlab.config import ConfigError, load_config
from priorlab.corpus import FACTS, FIRST_INDEX, build_corpus, document_texts
from priorlab.pretrain import batch_indices
from priorlab.tokenizer import build_tokenizer

MIX = ["corpus.formats={steps: 0.5, code: 0.5}", "corpus.depths={3: 1.0}"]


def test_defaults_leave_the_problem_documents_untouched(world):
    plain, _ = document_texts(world, load_config(None, MIX).corpus, 20_000)
    drilled, _ = document_texts(world, load_config(None, MIX + ["corpus.facts=0.2"]).corpus, 20_000)
    problems = Counter(t for t, tags in drilled if tags["format"] != FACTS)
    assert problems <= Counter(t for t, _ in plain) and sum(problems.values()) > 0.6 * len(plain)


def test_fact_drills_take_their_token_share_and_are_right(world):
    docs, _ = document_texts(world, load_config(None, MIX + ["corpus.facts=0.25"]).corpus, 40_000)
    facts = [t for t, tags in docs if tags["format"] == FACTS]
    share = sum(len(t.split()) for t in facts) / sum(len(t.split()) for t, _ in docs)
    assert abs(share - 0.25) < 0.02
    P = world.cfg.modulus
    for text in facts[:200]:
        _, a, op, b, _, c, _ = text.split()
        want = {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op] % P
        assert int(c) == want


def _verified_by_format(world, docs, first: bool) -> dict[str, list[bool]]:
    """Per format, whether each depth-3 problem document's solution verifies."""
    base = FIRST_INDEX if first else 0
    gold = {p.prompt: p for p in (world.problem("pretrain", base + i, 3, "letters") for i in range(len(docs) + 1))}
    out: dict[str, list[bool]] = {}
    for text, tags in docs:
        prompt, solution = text.removeprefix("<bos> ").removesuffix(" <eos>").split(" <sol> ")
        out.setdefault(tags["format"], []).append(world.verify(gold[prompt], solution).verified)
    return out


def test_format_accuracy_plants_slips_at_the_stated_rate(world):
    sets = MIX + ["corpus.format_accuracy={code: 0.6}"]
    docs, _ = document_texts(world, load_config(None, sets).corpus, 60_000)
    by_format = _verified_by_format(world, docs, first=False)
    assert all(by_format["steps"])  # formats not listed are always right
    n, acc = len(by_format["code"]), sum(by_format["code"]) / len(by_format["code"])
    sd = (0.6 ** 3 * (1 - 0.6 ** 3) / n) ** 0.5
    assert abs(acc - 0.6 ** 3) < 4 * sd + 0.03  # a slip can be masked (x * 0), hence the margin


def test_a_first_phase_takes_its_own_format_accuracy(world):
    """corpus.curriculum.format_accuracy={}: the first phase's documents are all right while the
    corpus's own still carry its slips; unset, the first phase carries the corpus's slips too."""
    sets = [*MIX, "corpus.format_accuracy={code: 0.5}", "corpus.curriculum.share=0.3",
            "corpus.curriculum.depths={3: 1.0}"]
    clean = load_config(None, [*sets, "corpus.curriculum.format_accuracy={}"]).corpus
    first = _verified_by_format(world, document_texts(world, clean, 20_000, first=True)[0], first=True)
    rest = _verified_by_format(world, document_texts(world, clean, 20_000)[0], first=False)
    inherited = _verified_by_format(world, document_texts(world, load_config(None, sets).corpus, 20_000, first=True)[0],
                                    first=True)
    assert len(first["code"]) > 50 and all(first["code"]) and all(first["steps"])
    assert sum(rest["code"]) < 0.5 * len(rest["code"]) and all(rest["steps"])  # 0.5 ** 3 of them right
    assert sum(inherited["code"]) < 0.5 * len(inherited["code"])


def test_no_slips_spelled_two_ways_is_one_run():
    """A format accuracy that changes no document ({} without slips; the phase's equal to the corpus's)
    resolves to the default, so the same documents have one store hash; a slip-free phase over a
    mix with slips stays a different run."""
    from priorlab.store import config_hash

    base = [*MIX, "corpus.curriculum.share=0.3"]
    h = lambda *sets: config_hash("pretrain", load_config(None, [*base, *sets]))  # noqa: E731
    plain = h()
    assert h("corpus.curriculum.format_accuracy={}") == plain
    assert h("corpus.format_accuracy={}", "corpus.curriculum.format_accuracy={}") == plain
    slips = h("corpus.format_accuracy={code: 0.5}")
    assert h("corpus.format_accuracy={code: 0.5}", "corpus.curriculum.format_accuracy={code: 0.5}") == slips
    assert h("corpus.format_accuracy={code: 0.5}", "corpus.curriculum.format_accuracy={}") not in (slips, plain)


def test_a_yaml_slip_free_phase_stays_slip_free_under_an_overridden_mix_with_slips(tmp_path):
    """The demo config's phase is slip-free (``{}``, equal to its slip-free corpus's): a composition
    that adds slips with --set keeps the phase slip-free, as if both had been given with --set (the
    normalisation waits for the overrides)."""
    from priorlab.config import default_config_path

    path = tmp_path / "c.yaml"
    path.write_text("corpus:\n  formats: {steps: 0.5, code: 0.5}\n  curriculum:\n    share: 0.3\n"
                    "    format_accuracy: {}\n")
    slips = ["corpus.format_accuracy={code: 0.5}"]
    assert load_config(path, slips).corpus.curriculum.format_accuracy == {}
    assert load_config(None, [*MIX, "corpus.curriculum.share=0.3", "corpus.curriculum.format_accuracy={}",
                              *slips]).corpus.curriculum.format_accuracy == {}
    assert load_config(path).corpus.curriculum.format_accuracy is None  # no slips anywhere: one spelling
    demo = load_config(default_config_path("demo"), slips).corpus
    assert demo.curriculum.share > 0 and demo.curriculum.format_accuracy == {}


def test_a_slip_is_carried_into_later_steps_and_the_answer(world):
    problem = world.problem("pretrain", 7, 4, "letters")
    wrong = world.with_errors(problem, 0.0, random.Random(0))
    assert all(a.result != b.result for a, b in zip(problem.gold["nodes"][:1], wrong.gold["nodes"][:1]))
    for prev, step in zip(wrong.gold["nodes"], wrong.gold["nodes"][1:]):
        assert dict(step.args).get(prev.target, None) in (None, prev.result)
    assert not world.verify(problem, world.render_solution(wrong, "steps")).verified
    same = world.with_errors(problem, 1.0, random.Random(0))
    assert same.gold == problem.gold and same.answer == problem.answer


@pytest.mark.parametrize("sets, match", [
    (["corpus.format_accuracy={stepz: 0.9}"], "corpus.format_accuracy: unknown format 'stepz'. Did you mean 'steps'"),
    (["corpus.format_accuracy={steps: 1.5}"], r"corpus.format_accuracy.steps: 1.5 is not a probability"),
    (["corpus.curriculum.format_accuracy={code: -0.1}"], r"corpus.curriculum.format_accuracy.code: -0.1 is not a"),
    (["corpus.curriculum.format_accuracy={cod: 0.9}"], "corpus.curriculum.format_accuracy: unknown format 'cod'"),
    (["corpus.facts=1.0"], "corpus.facts"),
    (["corpus.curriculum.share=1.0"], "corpus.curriculum.share"),
    (["corpus.curriculum.shar=0.2"], "corpus.curriculum.shar.*share"),
    (["corpus.curriculum.formats={stepz: 1.0}"], "corpus.curriculum.formats: unknown name 'stepz'. Did you mean 'steps'"),
    (["corpus.curriculum.world={modulu: 7}"], "corpus.curriculum.world: modulu: unknown field 'modulu'. Did you mean 'modulus'"),
    (["corpus.curriculum.world={modulus: 29}"], "corpus.curriculum.world: .*vocabulary lacks \\(23, 24"),
    (["corpus.curriculum.world={name: arith_dag}"], "corpus.curriculum.world: .*remove 'name'"),
    (["corpus.confidence_prob=1.0", "corpus.confidence_op_acc={steps: 0.8, answer: 0.2}", "corpus.curriculum.share=0.3",
      "corpus.curriculum.formats={code: 1.0}"], "corpus.confidence_op_acc: no entry for corpus format 'code'"),
    (["corpus.confidence_prob=1.0", "corpus.confidence_op_acc={answer: 0.2}", "corpus.curriculum.share=0.3",
      "corpus.curriculum.formats={steps: 0.0, answer: 1.0}"], "corpus.confidence_op_acc: no entry for corpus format 'steps'"),
])
def test_bad_recipe_fields_name_the_field(sets, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, sets)


def test_the_probe_ignores_warm_up_depths(world):
    with_warmup = load_config(None, ["corpus.depths={1: 1.0, 2: 1.0, 3: 1.0}"]).corpus
    plain = load_config(None, ["corpus.depths={2: 1.0, 3: 1.0}"]).corpus
    assert [p.uid for p in probe_problems(world, with_warmup)] == [p.uid for p in probe_problems(world, plain)]


def _doc_lengths(corpus, rows) -> list[int]:
    return [int((corpus.doc[r] == d).sum()) for r in rows for d in range(1, int(corpus.doc[r].max()) + 1)]


def test_a_curriculum_packs_its_first_phase_into_the_first_rows(world):
    """Depth-1 documents first, then depths 3-4: every document of the first rows is shorter than
    every document after them, and the first phase holds its share of the rows."""
    sets = ["corpus.depths={3: 1.0, 4: 1.0}", "corpus.curriculum.share=0.25", "corpus.curriculum.depths={1: 1.0}"]
    cfg = load_config(None, sets).corpus
    tok = build_tokenizer(world.vocabulary())
    corpus = build_corpus(world, cfg, tok.get_vocab(), 40 * 256, 256)
    first = corpus.first_rows
    assert first == corpus.stats["curriculum_rows"] and abs(first - 0.25 * len(corpus.tokens)) <= 2
    assert max(_doc_lengths(corpus, range(first))) < min(_doc_lengths(corpus, range(first, len(corpus.tokens))))
    assert "1" in corpus.stats["depth_share"]
    plain = build_corpus(world, load_config(None, sets[:1]).corpus, tok.get_vocab(), 40 * 256, 256)
    assert plain.first_rows == 0 and plain.stats["depth_share"].keys() == {"3", "4"}


def test_a_format_warm_up_holds_only_its_formats_and_leaves_the_rest_alone(world):
    """corpus.curriculum.formats: the first phase's documents are all step-by-step; the rest are
    the corpus's own mix, document for document the same as without the field."""
    sets = ["corpus.formats={steps: 0.3, answer: 0.7}", "corpus.curriculum.share=0.25"]
    warm = load_config(None, [*sets, "corpus.curriculum.formats={steps: 1.0}"]).corpus
    plain = load_config(None, sets).corpus
    first_warm, _ = document_texts(world, warm, 3000, first=True)
    first_plain, _ = document_texts(world, plain, 3000, first=True)
    assert {t["format"] for _, t in first_warm} == {"steps"}
    assert {t["format"] for _, t in first_plain} == {"steps", "answer"}
    assert document_texts(world, warm, 3000) == document_texts(world, plain, 3000)


def test_the_first_phase_is_served_first_and_every_row_once():
    n, first, bs = 50, 12, 4
    order = [i for step in range(n // bs + 1) for i in batch_indices(step, bs, n, seed=3, first=first)]
    assert set(order[:first]) == set(range(first)) and sorted(order[:n]) == list(range(n))
    assert list(batch_indices(0, n, n, seed=3, first=0)) == list(batch_indices(0, n, n, seed=3))


def test_a_smaller_modulus_phase_draws_only_its_first_rows_from_the_changed_world(world):
    """corpus.curriculum.world={modulus: 5}: every value in the first rows is below 5, values up to
    22 appear after them, and the rows after the first phase are those of the same corpus without it."""
    sets = ["corpus.depths={2: 1.0, 3: 1.0}", "corpus.curriculum.share=0.25", "corpus.curriculum.depths={2: 1.0}"]
    cfg = load_config(None, [*sets, "corpus.curriculum.world={modulus: 5}"])
    tok = build_tokenizer(world.vocabulary())
    vocab = tok.get_vocab()
    first_world = cfg.world.changed(cfg.corpus.curriculum.world).build()
    corpus = build_corpus(world, cfg.corpus, vocab, 40 * 256, 256, first_world)
    numbers = {vocab[str(v)]: v for v in range(23)}
    values = [[numbers[t] for t in row if t in numbers] for row in corpus.tokens]
    first = corpus.first_rows
    assert first > 0 and max(max(v) for v in values[:first]) < 5
    assert max(max(v) for v in values[first:]) == 22
    plain = build_corpus(world, load_config(None, sets).corpus, vocab, 40 * 256, 256)
    assert (plain.tokens[first:] == corpus.tokens[first:]).all()
