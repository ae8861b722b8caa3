"""``priorlab sft`` on the session's tiny prior (its own teacher): outputs in RL's layout, the
completion-only loss, verified filtering, corpus demonstrations, exact resume, one-line errors,
and store runs listed by ``priorlab runs ls``."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from priorlab.cli import app
from priorlab.config import ConfigError, load_config
from priorlab.runs import read_jsonl
from priorlab.sft import trainer as T
from priorlab.sft.config import SFTConfig

SMALL = ["threads=1", "steps=4", "checkpoint_every=2", "data.depths=[2]", "data.n_prompts=4",
         "data.samples_per_prompt=2", "data.max_new_tokens=24", "data.batch_size=4", "data.corpus_tokens=400",
         "final.depths=[2]", "final.n_problems=2", "final.n_samples=2", "final.bootstrap=10",
         "optim.lr=0.001", "allow_unclicked_prior=true"]


def sft_cfg(prior, *sets, teacher=True) -> SFTConfig:
    extra = [f"teacher={prior}"] if teacher else []
    return load_config(None, [f"prior={prior}", *extra, *SMALL, *sets], model=SFTConfig)


def strip(rows):
    return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]


@pytest.fixture(scope="module")
def distilled(tiny_prior, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "full"
    return out, T.train(sft_cfg(tiny_prior[1]), out, show=False)


@pytest.fixture
def verdicts(monkeypatch):
    """Make the world's verifier accept the completions whose sample index (of
    ``data.samples_per_prompt=2``, prompt-major) is in ``accept``."""
    from priorlab.worlds.base import World

    real = World.verify_many
    accept: set[int] = set()

    def fake(self, problems, completions, truncated=None):
        out = real(self, problems, completions, truncated)
        return [dataclasses.replace(v, verified=(i % 2) in accept) for i, v in enumerate(out)]

    monkeypatch.setattr(World, "verify_many", fake)
    return accept


def test_distillation_writes_rl_outputs(tiny_prior, tiny_rl_run, distilled):
    from priorlab.checkpoint import verify
    from priorlab.store import guess_kind

    out, summary = distilled
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "teacher_samples.parquet", "model/config.json",
                 "before/eval/passk.parquet", "after/band/passk.parquet"):
        assert (out / name).exists(), name
    verify(out / "checkpoints" / "step-2")
    rows = read_jsonl(out / "metrics.jsonl")
    assert rows[0]["kind"] == "data" and rows[0]["kept_share"] == 1.0 and rows[0]["teacher_samples"] == 8
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert all(r["loss"] > 0 and r["tokens"] > 0 and r["lr"] > 0 and "seconds_step" in r for r in train)
    assert train[-1]["tokens_seen"] == sum(r["tokens"] for r in train)
    assert len(pq.read_table(out / "teacher_samples.parquet")) == 8
    rl = json.loads((tiny_rl_run / "summary.json").read_text())  # (RL's loop is shared with SFT's: run_steps)
    assert [(r["step"], r["kind"]) for r in read_jsonl(tiny_rl_run / "metrics.jsonl")] == \
        [(0, "probe"), (1, "train"), (1, "probe"), (2, "train"), (2, "probe")]
    verify(tiny_rl_run / "checkpoints" / "step-1")
    for stage in ("before", "after"):  # RL's layout: the same row schema
        assert summary[stage] and set(summary[stage][0]) == set(rl[stage][0])
    a, b = load_file(str(tiny_prior[1] / "model.safetensors")), load_file(str(out / "model" / "model.safetensors"))
    assert any(not torch.equal(a[k], b[k]) for k in a)
    assert json.loads((out / "model" / "priorlab.json").read_text())["sft"]["source"] == "teacher"
    assert guess_kind(out) == "sft" and guess_kind(tiny_rl_run) == "rl"  # a directory without run.json


def test_loss_is_the_mean_nll_of_completion_tokens_only(tiny_prior):
    from priorlab.model import load_model
    from priorlab.pretrain import solution_loss
    from priorlab.rl.policy import to_batch, token_logprobs
    from priorlab.sft.data import pad_batch

    model = load_model(tiny_prior[1], "cpu")
    prompts, completions = [[1, 7, 8, 9, 4], [1, 10, 4]], [[11, 12, 2], [13, 2]]
    tokens, doc, sol = pad_batch(prompts, completions, "cpu")
    assert sol.sum() == 5 and not sol[0, :5].any() and not sol[1, 5:].any()
    with torch.no_grad():
        loss = solution_loss(model, tokens, doc, sol)
        batch = to_batch(prompts, completions, [[0.0] * 3, [0.0] * 2], "cpu")
        logp, _ = token_logprobs(model, batch, 1.0)
    torch.testing.assert_close(loss, -logp[batch.mask.bool()].mean(), atol=1e-5, rtol=1e-5)


def test_resume_after_a_checkpoint_is_bitwise_the_uninterrupted_run(tiny_prior, distilled, tmp_path):
    full, summary = distilled
    part = tmp_path / "part"
    shutil.copytree(full, part)
    for d in ("checkpoints/step-4", "model", "after"):  # a crash after step 3, before step 4's checkpoint
        shutil.rmtree(part / d)
    (part / "summary.json").unlink()
    samples = part / "teacher_samples.parquet"
    written = (samples.stat().st_ino, samples.stat().st_mtime_ns)
    resumed = T.train(sft_cfg(tiny_prior[1]), part, resume=True, show=False)
    assert strip(read_jsonl(full / "metrics.jsonl")) == strip(read_jsonl(part / "metrics.jsonl"))
    a, b = load_file(str(full / "model" / "model.safetensors")), load_file(str(part / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["after"] == summary["after"]
    assert (samples.stat().st_ino, samples.stat().st_mtime_ns) == written  # reused, not sampled again


def test_verified_filter_keeps_only_verified_completions(tiny_prior, tmp_path, verdicts):
    from priorlab.evaluate import world_for
    from priorlab.rl.rollout import build_pool
    from priorlab.sft.data import teacher_examples
    from priorlab.tokenizer import load_tokenizer

    cfg = sft_cfg(tiny_prior[1], "data.filter=verified")
    world, tok = world_for(tiny_prior[1]), load_tokenizer(tiny_prior[1])
    problems = build_pool(world, cfg.data, world.contexts[:1]).problems
    verdicts.add(0)  # sample 0 of every prompt
    data = teacher_examples(cfg, tmp_path, world, problems, tok, 24, show=False, reuse=False)
    records = pq.read_table(tmp_path / "teacher_samples.parquet").to_pylist()
    kept = [r for r in records if r["verified"]]
    assert [r["sample"] for r in kept] == [0] * 4 and data.stats["kept_share"] == 0.5 and len(data) == 4
    assert data.completions == [tok(r["text"], add_special_tokens=False)["input_ids"] for r in kept]
    verdicts.clear()
    (tmp_path / "none").mkdir()
    with pytest.raises(ConfigError, match="no teacher completion verified.*data.filter=none or a stronger teacher"):
        teacher_examples(cfg, tmp_path / "none", world, problems, tok, 24, show=False, reuse=False)


def test_corpus_demonstrations_train_in_the_asked_formats(tiny_prior, tmp_path):
    from priorlab.evaluate import world_for
    from priorlab.sft.data import corpus_examples
    from priorlab.tokenizer import load_tokenizer

    sets = ["data.source=corpus", "data.corpus.formats={code: 1.0}", "steps=2"]
    cfg = sft_cfg(tiny_prior[1], *sets, teacher=False)
    tok = load_tokenizer(tiny_prior[1])
    data = corpus_examples(cfg, world_for(tiny_prior[1]), tok)
    texts = tok.batch_decode(data.completions)
    assert len(data) > 5 and all(t.startswith("def") and t.endswith("<eos>") for t in texts)
    assert all(p[-1] == tok.convert_tokens_to_ids("<sol>") for p in data.prompts)
    summary = T.train(cfg, tmp_path / "corpus", show=False)
    assert summary["source"] == "corpus" and summary["teacher"] is None and len(summary["after"]) > 0


def _cli(*args):
    return CliRunner().invoke(app, ["sft", *args, "--quiet"])


def test_bad_inputs_fail_in_one_line_with_exit_code_2(tiny_prior, tmp_path, verdicts):
    prior = tiny_prior[1]
    sets = [x for s in SMALL for x in ("--set", s)]
    other = tmp_path / "other"
    shutil.copytree(prior, other, ignore=shutil.ignore_patterns("evals"))
    meta = json.loads((other / "priorlab.json").read_text())
    (other / "priorlab.json").write_text(json.dumps(meta | {"world": meta["world"] | {"seed": 7}}))
    cases = [(["--teacher", str(tmp_path)], "teacher: .* is not a model directory"),
             ([], "needs a teacher checkpoint"),
             (["--teacher", str(other)], "teacher: .* is of world .*the prior's world"),
             (["--teacher", str(prior), "--set", "data.filter=verified", "--set", "final.seed=5"], "no teacher completion verified"),
             (["--teacher", str(prior), "-c", "sftt"], "no SFT preset .*Did you mean")]
    for i, (extra, msg) in enumerate(cases):
        res = _cli("--prior", str(prior), "--out", str(tmp_path / f"r{i}"), *sets, *extra)
        assert res.exit_code == 2, res.output
        lines = [x for x in res.output.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), res.output
        assert re.search(msg, lines[0]), lines[0]


def test_store_run_is_listed_by_runs_ls(tiny_prior, tmp_path):
    store = tmp_path / "store"
    sets = [x for s in SMALL + ["steps=1"] for x in ("--set", s)]
    res = _cli("--prior", str(tiny_prior[1]), "--teacher", str(tiny_prior[1]), "--store", str(store), *sets)
    assert res.exit_code == 0, res.output
    runs = json.loads(CliRunner().invoke(app, ["runs", "ls", "--store", str(store), "--json"]).output)
    assert [(r["kind"], r["status"]) for r in runs] == [("sft", "finished")] and runs[0]["id"].startswith("sft-")
    q = CliRunner().invoke(app, ["runs", "query", "SELECT DISTINCT stage FROM passk ORDER BY stage",
                                 "--store", str(store), "--json"])
    assert [r["stage"] for r in json.loads(q.output)] == ["after", "before"]
