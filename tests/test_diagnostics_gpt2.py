"""A foreign architecture (GPT-2: learned absolute positions, ``transformer.h.N`` names) through
``priorlab passk``, ``priorlab diff`` and the contamination probe."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from priorlab.cli import app
from priorlab.sampling import sample
from priorlab.tokenizer import build_tokenizer, save_tokenizer
from priorlab.worlds import make_world
from tests.test_diagnostics_cli import _perturbed_copy


def _gpt2(world):
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = build_tokenizer(world.vocabulary())
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                     initializer_range=0.3, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                     pad_token_id=tok.pad_token_id)
    return GPT2LMHeadModel(cfg).eval(), tok


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    """A random tiny GPT-2 saved as an HF dir with priorlab's tokenizer and a priorlab.json world."""
    world = make_world("arith_dag")
    model, tok = _gpt2(world)
    out = tmp_path_factory.mktemp("gpt2") / "model"
    model.save_pretrained(out)
    save_tokenizer(tok, out)
    (out / "priorlab.json").write_text(json.dumps({"world": {"name": "arith_dag", "seed": 0}}))
    return out


def test_gpt2_left_padding_does_not_change_samples():
    """A short prompt batched with a long one (so left-padded) samples exactly as alone: the
    position ids count real tokens only, which GPT-2's absolute position embeddings need."""
    world = make_world("arith_dag")
    model, tok = _gpt2(world)
    short, long_ = world.model_input(world.problem("eval", 0, 1)), world.model_input(world.problem("eval", 0, 8))
    both = sample(model, tok, [short, long_], 2, max_new_tokens=10, seed=3)
    alone = sample(model, tok, [short], 2, max_new_tokens=10, seed=3)
    assert both.ids[:2] == alone.ids
    np.testing.assert_allclose(np.concatenate(both.logprobs[:2]), np.concatenate(alone.logprobs), atol=1e-5)


def test_gpt2_checkpoint_through_passk_diff_and_probe(gpt2_dir, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["passk", str(gpt2_dir), str(gpt2_dir), "--out", str(tmp_path / "p"), "--depths", "2",
                              "--n-problems", "2", "--n-samples", "2", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert all(r["diff_ref"] == 0.0 for r in json.loads(res.output)["curves"])
    other = _perturbed_copy(gpt2_dir, tmp_path / "b")
    res = runner.invoke(app, ["diff", str(gpt2_dir), str(other), "--out", str(tmp_path / "d"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    overall = {r["dtype"]: r["changed_frac"] for r in doc["sparsity"] if r["scope"] == "overall" and r["tol"] == 0}
    assert abs(overall["fp32"] - 0.3) < 1e-3
    assert any(r["name"] == "transformer.h.1" for r in doc["sparsity"] if r["scope"] == "layer")
    res = runner.invoke(app, ["probe", "contamination", str(gpt2_dir), "--out", str(tmp_path / "c"),
                              "--depths", "2", "--n-problems", "2", "--threads", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert {r["split"] for r in json.loads(res.output)["summary"]} == {"eval", "eval-contaminated"}
