"""The text worlds: a local QA file checked by math-verify in worker processes, reasoning-gym tasks
scored strictly, and what their verdicts mean to the RL rewards."""

import json
import threading
from dataclasses import fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from priorlab.config import ConfigError, WorldConfig
from priorlab.rl.rewards import REWARDS, combine
from priorlab.worlds import Verdict, make_world

pytest.importorskip("math_verify")
QA = "tests/data/qa.jsonl"


@pytest.fixture(scope="module")
def qa():
    return make_world("dataset", path=QA, difficulty_column="level", split="eval")


def _half(world):
    return next(p for p in world.problems("eval", 1, 20) if p.answer[0][1] == "\\frac{1}{2}")


def test_math_verify_in_workers_accepts_equivalents_and_rejects_wrong(qa):
    p = _half(qa)
    texts = ["so it is 0.5<|endoftext|>", "The answer is $\\boxed{\\frac{2}{4}}$.", "\\boxed{1/2}<eos>",
             "it is 0.6", "\\boxed{\\frac{1}{3}}", "no number at all", "\\boxed{0.5}"]
    v = qa.verify_many([p] * len(texts), texts, [False] * 6 + [True])
    assert [x.verified for x in v] == [True, True, True, False, False, False, False]
    assert all(x.verified == x.answer_correct for x in v)
    assert [x.format for x in v] == ["plain", "boxed", "boxed", "plain", "boxed", "none", "boxed"]
    assert v[5].parsed_answer is None and not v[5].well_formed
    assert v[6].truncated and not v[6].well_formed  # hit the token limit: no final answer
    for fmt in qa.formats:  # the gold rendered in each format verifies
        assert qa.verify(p, qa.render_solution(p, fmt)).verified
    boxed_only = make_world("dataset", path=QA, split="eval", answer_format="boxed")
    assert [x.verified for x in boxed_only.verify_many([p, p], ["0.5", "\\boxed{0.5}"])] == [False, True]


def test_checks_run_outside_the_calling_thread(qa):
    """math-verify's signal timeouts break in threads; a verify called from a thread still works
    because the checks run in worker processes."""
    p, out = _half(qa), []
    t = threading.Thread(target=lambda: out.extend(qa.verify_many([p, p], ["0.5", "0.25"])))
    t.start()
    t.join()
    assert [v.verified for v in out] == [True, False]


def test_dataset_schema_depths_splits_and_errors(qa, tmp_path):
    assert qa.depths == [1, 2] and qa.contexts == ["default"]
    assert len(qa.problems("eval", 1, 100)) == 6  # fewer than asked: the file has 6
    assert qa.model_input(qa.problem("eval", 0, 1)) == "What is $3 + 4$?"
    rows = [json.loads(line) for line in Path(QA).read_text().splitlines()]
    table = pa.Table.from_pylist([{"q": r["problem"], "a": r["answer"], "part": "test" if i % 2 else "train"}
                                  for i, r in enumerate(rows)])
    pq.write_table(table, tmp_path / "qa.parquet")
    w = make_world("dataset", path=str(tmp_path / "qa.parquet"), question_column="q", answer_column="a",
                   split_column="part", split_map={"test": "eval", "train": "rl"},
                   template="Question: {question}\nAnswer:")
    assert len(w.problems("eval", 1, 100)) == len(w.problems("rl", 1, 100)) == 6
    assert w.model_input(w.problem("rl", 0, 1)) == "Question: What is $3 + 4$?\nAnswer:"
    hashed = make_world("dataset", path=QA)  # no split: content-hash splits, like every priorlab world
    assert sum(len(v) for v in hashed.items.values()) == len(rows)
    with pytest.raises(ConfigError, match=r"Columns found: problem, solution, answer, level"):
        make_world("dataset", path=QA, question_column="q")
    with pytest.raises(ConfigError, match="no items in split 'rl'"):
        qa.problems("rl", 1, 2)
    with pytest.raises(ConfigError, match="split_map"):
        make_world("dataset", path=str(tmp_path / "qa.parquet"), question_column="q", answer_column="a",
                   split_column="part")
    with pytest.raises(ValueError, match="does not exist"):
        WorldConfig(name="dataset", path=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="placeholder"):
        WorldConfig(name="dataset", path=QA, template="no question here")


def test_text_world_verdicts_are_valid_rewards(qa):
    p = _half(qa)
    texts = ["\\boxed{0.5}", "0.25", "nothing"]
    verdicts = qa.verify_many([p] * 3, texts)
    for name in REWARDS:
        out = combine({name: 1.0}, [p] * 3, texts, verdicts, group=[0, 0, 0])
        assert len(out) == 3 and all(r is None or isinstance(r, float) for r in out), name
    assert combine({"correct": 1.0}, [p] * 3, texts, verdicts) == [1.0, 0.0, 0.0]
    assert combine({"process": 1.0}, [p] * 3, texts, verdicts) == [1.0, 0.0, 0.0]
    assert {f.name for f in fields(Verdict)} <= set(verdicts[0].to_dict())


def test_reasoning_gym_items_are_deterministic_and_scored_strictly():
    rg = pytest.importorskip("reasoning_gym")
    a = make_world("reasoning_gym", task="leg_counting", seed=3)
    b = make_world("reasoning_gym", task="leg_counting", seed=3)
    items = [a.problem("eval", i, 2) for i in range(3)]
    assert [p.prompt for p in items] == [b.problem("eval", i, 2).prompt for i in range(3)]
    assert items[0].prompt != make_world("reasoning_gym", task="leg_counting", seed=4).problem("eval", 0, 2).prompt
    assert len({p.prompt for p in items}) == 3 and a.contexts == ["leg_counting"] and len(a.depths) > 1
    p = items[0]
    gold = a.gold_answer(p)
    partial = f"The total is {gold}"
    entry = rg.create_dataset("leg_counting", seed=0, size=1)
    assert 0 < entry.score_answer(partial, {"answer": gold, "question": "", "metadata": {}}) < 1  # partial credit
    texts = [f"<answer>{gold}</answer>", f"<answer>{partial}</answer>", f"think\n{gold}", f"<answer>{gold}1</answer>"]
    v = a.verify_many([p] * 4, texts)
    assert [x.verified for x in v] == [True, False, False, False]
    assert [x.format for x in v] == ["tag", "tag", "none", "tag"]
    last_line = make_world("reasoning_gym", task="leg_counting", seed=3, answer_from="last_line")
    assert [x.verified for x in last_line.verify_many([p] * 2, [f"think\n{gold}<eos>", partial])] == [True, False]
    with pytest.raises(ValueError, match="Did you mean 'leg_counting'"):
        WorldConfig(name="reasoning_gym", task="leg_countin")
