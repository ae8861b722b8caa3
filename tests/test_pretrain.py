import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from priorlab.config import ConfigError, load_config
from priorlab.corpus import build_corpus
from priorlab.model import build_model
from priorlab.pretrain import packed_inputs, pretrain
from priorlab.tokenizer import build_tokenizer
from tests.conftest import TINY


def test_packed_rows_compute_what_separate_documents_do(world, tiny_cfg):
    tok = build_tokenizer(world.vocabulary())
    model = build_model(tiny_cfg.model, tok).eval()
    a, b = torch.randint(5, 60, (1, 9)), torch.randint(5, 60, (1, 6))
    x = torch.cat([a, b, torch.zeros(1, 3, dtype=torch.long)], 1)
    doc = torch.tensor([[1] * 9 + [2] * 6 + [0] * 3])
    mask, pos = packed_inputs(x, doc)
    assert pos.tolist()[0] == list(range(9)) + list(range(6)) + list(range(3))
    with torch.no_grad():
        packed = model(input_ids=x, attention_mask=mask, position_ids=pos).logits
        torch.testing.assert_close(packed[:, :9], model(a).logits, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(packed[:, 9:15], model(b).logits, atol=1e-5, rtol=1e-4)


def test_corpus_is_deterministic_and_reports_its_composition(world, tiny_cfg):
    vocab = build_tokenizer(world.vocabulary()).get_vocab()
    c1 = build_corpus(world, tiny_cfg.corpus, vocab, 60_000, 256)
    c2 = build_corpus(world, tiny_cfg.corpus, vocab, 60_000, 256)
    assert c1.stats["sha256"] == c2.stats["sha256"]
    other = tiny_cfg.corpus.model_copy(update={"seed": 1})
    assert build_corpus(world, other, vocab, 60_000, 256).stats["sha256"] != c1.stats["sha256"]
    s = c1.stats
    assert abs(s["format_share"]["steps"] - 0.7) < 0.05 and set(s["depth_share"]) == {"2", "3", "4", "5"}
    assert s["n_tokens"] == int((c1.doc > 0).sum()) and 0 <= s["padding_fraction"] < 0.2
    # every row starts with <bos>; solution tokens only after <sol>
    assert (c1.tokens[:, 0] == vocab["<bos>"]).all()
    assert not (c1.sol & (c1.tokens == vocab["<sol>"])).any()


def test_contamination_puts_eval_items_in_the_corpus(world):
    cfg = load_config(None, ["corpus.contamination.n_items=5", "corpus.contamination.repeats=3",
                             "corpus.contamination.depths=[3]"])
    tok = build_tokenizer(world.vocabulary())
    c = build_corpus(world, cfg.corpus, tok.get_vocab(), 20_000, 256)
    items = c.stats["contaminated_items"]
    assert len(items) == 5 and c.stats["contaminated_documents"] == 15
    want = {world.problem("eval-contaminated", i, 3).uid for i in range(5)}
    assert {it["uid"] for it in items} == want
    text = " ".join(tok.decode([t for t in row if t]) for row in c.tokens)
    assert text.count(world.problem("eval-contaminated", 2, 3).prompt) == 3
    assert world.problem("eval", 2, 3).prompt not in text


def test_checkpoint_loads_in_transformers_with_identical_logits(tiny_prior):
    out, model_dir = tiny_prior
    from priorlab.model import load_model

    ours = load_model(model_dir)
    theirs = AutoModelForCausalLM.from_pretrained(model_dir)
    x = torch.randint(5, 60, (2, 12))
    with torch.no_grad():
        assert torch.equal(ours(x).logits, theirs(x).logits)
    assert (model_dir / "model.safetensors").exists() and (model_dir / "tokenizer.json").exists()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 16 and all(np.isfinite(r["loss"]) for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]


def test_resume_equals_uninterrupted_run(tiny_prior, tmp_path):
    out, model_dir = tiny_prior
    shutil.copytree(out, tmp_path / "run")
    run = tmp_path / "run"
    shutil.rmtree(run / "checkpoints" / "step-16")
    shutil.rmtree(run / "model")  # as if interrupted after the step-8 checkpoint
    resumed = pretrain(load_config(None, TINY), run, resume=True, show=False)
    a, b = load_file(model_dir / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_existing_run_is_not_overwritten_and_resume_needs_same_config(tiny_prior):
    out, _ = tiny_prior
    with pytest.raises(ConfigError, match="--resume"):
        pretrain(load_config(None, TINY), out, show=False)
    with pytest.raises(ConfigError, match="config differs"):
        pretrain(load_config(None, TINY + ["pretrain.lr=0.01"]), out, resume=True, show=False)


def test_confidence_op_acc_states_what_a_calibrated_solver_of_that_depth_would(world):
    from priorlab.corpus import document_texts
    from priorlab.worlds.formats import confidence_token

    sets = ["corpus.confidence_prob=0.5", "corpus.formats={steps: 0.5, answer: 0.5}"]
    uniform = load_config(None, sets).corpus
    informative = load_config(None, sets + ["corpus.confidence_op_acc={steps: 0.8, answer: 0.3}"]).corpus
    docs_u, _ = document_texts(world, uniform, 20_000)
    docs_i, _ = document_texts(world, informative, 20_000)
    assert len(docs_u) == len(docs_i) > 100
    stated = 0
    for (tu, tags), (ti, tags_i) in zip(docs_u, docs_i):
        assert tags == tags_i and tu.split("<conf>")[0] == ti.split("<conf>")[0]  # same documents, same fields
        assert ("<conf>" in tu) == ("<conf>" in ti)
        if "<conf>" in ti:
            stated += 1
            p = {"steps": 0.8, "answer": 0.3}[tags["format"]]
            assert ti.split()[-2] == confidence_token(p ** tags["depth"])
            assert tu.split()[-2] in {f"{v}%" for v in range(50, 101, 10)}  # the default: uniform 50..100%
    assert 0.4 < stated / len(docs_i) < 0.6
    with pytest.raises(ConfigError, match="no entry for corpus format 'answer'"):
        load_config(None, sets + ["corpus.confidence_op_acc={steps: 0.8}"])
