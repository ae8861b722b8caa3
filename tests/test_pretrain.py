import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from priorlab import runtime
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


def test_whole_document_contamination_trains_on_the_planted_questions_only(world):
    """The paper's probe continues a question: a leaked item must be trained on whole, and no
    other document's question may become a target."""
    sets = ["corpus.contamination.n_items=4", "corpus.contamination.repeats=2", "corpus.contamination.depths=[3]"]
    tok = build_tokenizer(world.vocabulary())
    vocab = tok.get_vocab()
    part, whole = (build_corpus(world, load_config(None, sets + extra).corpus, vocab, 20_000, 256)
                   for extra in ([], ["corpus.contamination.whole_document=true"]))
    assert np.array_equal(part.tokens, whole.tokens)
    extra = whole.sol & ~part.sol
    assert not (part.sol & ~whole.sol).any() and extra.any()
    planted = {tuple(vocab[w] for w in world.problem("eval-contaminated", i, 3).prompt.split()) for i in range(4)}
    for r, c in zip(*np.nonzero(extra)):  # every new target lies in a planted question
        ids = part.tokens[r][part.doc[r] == part.doc[r, c]].tolist()
        assert any(tuple(ids[1:1 + len(q)]) == q for q in planted)
    assert whole.stats["n_solution_tokens"] > part.stats["n_solution_tokens"]


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


def test_evaluate_cached_reuses_an_identical_evaluation_and_misses_on_new_weights(tiny_prior, tiny_cfg, tmp_path):
    import json
    import os

    from priorlab.evaluate import evaluate_cached

    _, model_dir = tiny_prior
    cfg = tiny_cfg.eval.model_copy(update={"depths": [2], "n_problems": 2, "n_samples": 2, "bootstrap": 7})

    def stored():
        return len(list((model_dir / "evals").iterdir())) if (model_dir / "evals").exists() else 0

    n0 = stored()
    first = evaluate_cached(model_dir, cfg, tmp_path / "a", show=False, threads=1)
    second = evaluate_cached(model_dir, cfg, tmp_path / "b", show=False, threads=1)
    assert second == first and stored() == n0 + 1
    assert (tmp_path / "b" / "samples.parquet").read_bytes() == (tmp_path / "a" / "samples.parquet").read_bytes()
    weights = next(model_dir.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    evaluate_cached(model_dir, cfg, tmp_path / "c", show=False, threads=1)
    assert stored() == n0 + 2
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["passk"] == first["passk"]


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


def test_init_from_continues_a_prior_and_the_store_hashes_its_base(tiny_prior, tmp_path):
    """A continued stage starts from the base weights (its first loss is the base's level, far
    below a fresh model's), records the base and both stages' depths, refuses another shape, and
    its store id changes when the base's weights change."""
    from priorlab.pretrain import pretrain
    from priorlab.store import config_hash
    from tests.conftest import TINY

    base_dir, base_model = tiny_prior
    sets = [*TINY, "pretrain.tokens=4096", "corpus.depths={2: 1.0, 6: 1.0}"]
    fresh = pretrain(load_config(None, sets), tmp_path / "fresh", show=False)
    cont_cfg = load_config(None, [*sets, f"pretrain.init_from={base_model}"])
    cont = pretrain(cont_cfg, tmp_path / "cont", show=False)
    first = [json.loads((tmp_path / d / "metrics.jsonl").read_text().splitlines()[0])["loss"]
             for d in ("fresh", "cont")]
    assert first[1] < first[0]
    meta = json.loads((cont / "priorlab.json").read_text())
    assert meta["init_from"] == str(base_model.resolve()) and set(meta["pretrain_depths"]) >= {2, 3, 6}
    assert fresh.exists()
    with pytest.raises(ConfigError, match="init_from.*model shape"):
        pretrain(load_config(None, [*sets, "model.d_model=64", f"pretrain.init_from={base_model}"]),
                 tmp_path / "bad", show=False)
    copy = tmp_path / "base-copy"
    shutil.copytree(base_model, copy)
    same = config_hash("pretrain", load_config(None, [*sets, f"pretrain.init_from={copy}"]))
    assert same == config_hash("pretrain", cont_cfg)  # identity is the weights, not the path
    w = next(copy.glob("*.safetensors"))
    t = load_file(w)
    t = {k: v + 1 if i == 0 else v for i, (k, v) in enumerate(t.items())}
    save_file(t, w, metadata={"format": "pt"})
    assert config_hash("pretrain", load_config(None, [*sets, f"pretrain.init_from={copy}"])) != same


@pytest.mark.skipif(runtime.cxx_compiler() is None, reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_pretraining_is_reproducible_and_resumes_exactly(tmp_path):
    """``pretrain.compile=on``: same seed, same weights; a resume from the step-8 checkpoint ends
    on the same weights as the uninterrupted compiled run; the model saves without the wrapper."""
    cfg = load_config(None, TINY + ["pretrain.compile=on"])
    a = pretrain(cfg, tmp_path / "a", show=False)
    b = pretrain(cfg, tmp_path / "b", show=False)
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step-16")
    shutil.rmtree(tmp_path / "b" / "model")
    b = pretrain(cfg, tmp_path / "b", resume=True, show=False)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and not any(k.startswith("_orig_mod") for k in wa)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert json.loads((tmp_path / "a" / "pretrain.json").read_text())["compiled"] is True


def test_a_failed_compile_goes_eager_under_auto_and_stops_under_on(tmp_path, monkeypatch, capsys):
    from torch._dynamo.exc import BackendCompilerFailed

    class Broken(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, **kw):
            raise BackendCompilerFailed(lambda *a: None, RuntimeError("no C++ compiler"), None)

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Broken(model))
    monkeypatch.setattr(runtime, "use_compile", lambda setting, steps, dev: setting is not False)
    out = pretrain(load_config(None, TINY + ["pretrain.compile=auto"]), tmp_path / "auto", show=False)
    assert "torch.compile failed" in capsys.readouterr().err and (out / "model.safetensors").exists()
    assert json.loads((tmp_path / "auto" / "pretrain.json").read_text())["compiled"] is False
    with pytest.raises(ConfigError, match="pretrain.compile=off"):
        pretrain(load_config(None, TINY + ["pretrain.compile=on"]), tmp_path / "on", show=False)


def test_compile_is_off_by_default_and_auto_is_for_long_cpu_runs():
    assert load_config(None, []).pretrain.compile is False  # a compiled run is another draw of a seed

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not runtime.use_compile("auto", runtime.COMPILE_MIN_STEPS - 1, cpu)
    assert runtime.use_compile("auto", runtime.COMPILE_MIN_STEPS, cpu) == (runtime.cxx_compiler() is not None)
    assert not runtime.use_compile("auto", 10**6, cuda) and runtime.use_compile(True, 1, cuda)
    assert not runtime.use_compile(False, 10**6, cpu)
    assert load_config(None, ["pretrain.compile=on"]).pretrain.compile is True  # YAML's on / off
    assert load_config(None, ["pretrain.compile=off"]).pretrain.compile is False
