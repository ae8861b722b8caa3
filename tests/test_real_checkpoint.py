"""A foreign checkpoint on real data: a tiny GPT-2 with its own byte-level BPE tokenizer (trained here
on the QA file with the ``tokenizers`` library) goes through ``priorlab eval``, ``passk``, ``diff``
and ``probe contamination`` with the dataset world given in a small YAML config."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from priorlab.cli import app
from tests.test_diagnostics_cli import _perturbed_copy

pytest.importorskip("math_verify")
QA = "tests/data/qa.jsonl"
END = "<|endoftext|>"
CONFIG = f"""
world: {{name: dataset, path: {QA}, difficulty_column: level, split: eval, template: "Q: {{question}}\\nA:"}}
eval: {{depths: [1, 2], max_new_tokens: 6, bootstrap: 20}}
"""


def _bpe_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    lines = [json.loads(line) for line in Path(QA).read_text().splitlines()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=[END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([r["problem"] + " " + r["solution"] for r in lines], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=END, eos_token=END)


@pytest.fixture(scope="module")
def gpt2_bpe(tmp_path_factory):
    """A random tiny GPT-2 + BPE tokenizer saved as a plain HF directory (no priorlab.json)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = _bpe_tokenizer()
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    out = tmp_path_factory.mktemp("gpt2bpe") / "model"
    GPT2LMHeadModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_bpe_gpt2_through_eval_passk_diff_and_probe(gpt2_bpe, tmp_path):
    runner = CliRunner()
    (tmp_path / "qa.yaml").write_text(CONFIG)
    WORLD = ["--config", str(tmp_path / "qa.yaml")]
    res = runner.invoke(app, ["eval", str(gpt2_bpe), "--out", str(tmp_path / "e"), *WORLD, "--depths", "1,2",
                              "--n-problems", "3", "--n-samples", "2", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["world"]["name"] == "dataset" and doc["n_completions"] == 12
    rows = [r for r in doc["passk"] if r["format"] == "all" and r["metric"] == "answer"]
    assert {r["depth"] for r in rows} == {1, 2} and all(r["n_problems"] == 3 for r in rows)
    assert (tmp_path / "e" / "passk.png").exists() and (tmp_path / "e" / "samples.parquet").exists()

    other = _perturbed_copy(gpt2_bpe, tmp_path / "b")
    res = runner.invoke(app, ["passk", str(gpt2_bpe), str(other), "--out", str(tmp_path / "p"), *WORLD,
                              "--depths", "1", "--n-problems", "2", "--n-samples", "2", "--metric", "answer",
                              "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    curves = json.loads(res.output)["curves"]
    assert {r["model"] for r in curves} == {str(gpt2_bpe), str(other)}
    assert (tmp_path / "p" / "passk.png").exists()

    res = runner.invoke(app, ["diff", str(gpt2_bpe), str(other), "--out", str(tmp_path / "d"), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "diff.png").exists()

    res = runner.invoke(app, ["probe", "contamination", str(gpt2_bpe), "--out", str(tmp_path / "c"), *WORLD,
                              "--splits", "eval", "--depths", "2", "--n-problems", "3", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [r["n_items"] for r in doc["summary"]] == [3, 3, 3]
    assert {r["id"] for r in doc["items"]} == {f"eval/default/d2/{i}" for i in range(3)}


def test_foreign_checkpoint_errors_name_the_fix(gpt2_bpe, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(gpt2_bpe), "--out", str(tmp_path / "e"), "--set", "world.name=dataset",
                              "--set", f"world.path={QA}", "--depths", "3"])
    assert res.exit_code == 2 and "its depths: 1..1" in res.output and "--depths 1" in res.output
    res = runner.invoke(app, ["probe", "contamination", str(gpt2_bpe), "--out", str(tmp_path / "c"), "--set",
                              "world.name=dataset", "--set", f"world.path={QA}", "--set", "world.split=eval",
                              "--depths", "1"])
    assert res.exit_code == 2 and "no items in split 'eval-contaminated'" in res.output
