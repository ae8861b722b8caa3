"""``priorlab rlp`` on the session's tiny prior: the information-gain reward against two forwards
done by hand, a policy gradient on thought tokens only, the EMA update, the thought tokens added
without moving the prior's ids, bitwise resume, FLOPs bookkeeping and a store run in ``runs ls``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from priorlab.cli import app
from priorlab.config import load_config
from priorlab.runs import read_jsonl
from priorlab.rlp import trainer as T
from priorlab.rlp.config import RLPConfig
from priorlab.rlp.objective import cut_thought, ema_update, information_gain, step_positions
from tests.test_sft import strip

SMALL = ["threads=1", "steps=4", "checkpoint_every=2", "data.corpus_tokens=400", "data.depths=[2]",
         "data.n_prompts=4", "rollout.prompts_per_step=3", "rollout.group_size=2", "rollout.max_new_tokens=4",
         "rlp.target_tokens=2", "rlp.ema_decay=0.5", "final.depths=[2]", "final.n_problems=2", "final.n_samples=2",
         "final.bootstrap=10", "optim.lr=0.001", "allow_unclicked_prior=true"]


def rlp_cfg(prior, *sets) -> RLPConfig:
    return load_config(None, [f"prior={prior}", *SMALL, *sets], model=RLPConfig)


@pytest.fixture(scope="module")
def full(tiny_prior, tmp_path_factory):
    out = tmp_path_factory.mktemp("rlp") / "full"
    return out, T.train(rlp_cfg(tiny_prior[1]), out, show=False)


@pytest.fixture
def parts(tiny_prior, tmp_path):
    """fp32, so the reward can be checked against fp32 forwards to 1e-4 (the CPU default, bf16,
    rounds the two log-probs to ~1e-3)."""
    return T.build_parts(rlp_cfg(tiny_prior[1], "precision=fp32"), tmp_path, tiny_prior[1], show=False)


def direct_logprob(model, seq: list[int], n_target: int) -> float:
    """log p of the last ``n_target`` tokens of ``seq`` from one plain causal forward."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([seq])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    L = len(seq)
    return float(sum(logp[i - 1, seq[i]] for i in range(L - n_target, L)))


def test_reward_is_the_information_gain_of_two_forwards_done_by_hand(parts):
    p = parts
    with torch.no_grad():  # an EMA that differs from the policy, so the two terms are distinct models
        for e in p.ema.parameters():
            e.mul_(0.9)
    sc = T.score(p, 0)
    think, end = p.think
    for r in range(len(sc.group)):
        b = int(sc.group[r])
        ctx, tgt = sc.pos.contexts[b], sc.pos.targets[b]
        thought = sc.batch.targets[r, :int(sc.batch.mask[r].sum())].tolist()
        seq = ctx + [think] + thought + ([] if sc.closed[r] else [end]) + tgt
        want = direct_logprob(p.model, seq, len(tgt)) - direct_logprob(p.ema, ctx + tgt, len(tgt))
        assert float(sc.rewards[r]) == pytest.approx(want, abs=1e-4)
    torch.testing.assert_close(information_gain(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0]),
                                                torch.tensor([0, 0, 1])), torch.tensor([0.5, 1.5, 2.0]).double())


def test_positions_are_seeded_solution_positions_and_thoughts_stop_at_their_end():
    prompts, completions = [[1, 5, 4], [1, 6, 6, 4]], [[7, 8, 9, 2], [10, 2]]
    a = step_positions(prompts, completions, 3, 5, 0, 2)
    assert a.contexts == step_positions(prompts, completions, 3, 5, 0, 2).contexts
    for d, ctx, tgt in zip(a.doc, a.contexts, a.targets):
        full = prompts[d] + completions[d]
        assert full[:len(ctx)] == ctx and full[len(ctx):len(ctx) + len(tgt)] == tgt
        assert len(ctx) >= len(prompts[d]) and 1 <= len(tgt) <= 2
    assert cut_thought([5, 9, 6], [0.1, 0.2, 0.3], 9, {2}) == ([5, 9], [0.1, 0.2], True)
    assert cut_thought([5, 2, 9], [0.1, 0.2, 0.3], 9, {2}) == ([5], [0.1], False)
    assert cut_thought([5, 6], [0.1, 0.2], 9, {2}) == ([5, 6], [0.1, 0.2], False)


def test_policy_gradient_reaches_only_the_predictions_of_thought_tokens(parts):
    """The gradient on the final hidden states is non-zero exactly at the positions whose output
    predicts a thought token: no next-token loss on context or target tokens."""
    from priorlab.rl.update import advantages_for, update

    p = parts
    sc = T.score(p, 1)
    adv, keep = advantages_for(p.cfg.algo, sc.rewards, sc.group)
    assert adv.abs().sum() > 0
    sc.batch.group = torch.arange(len(sc.batch))  # the plain per-row forward: one decoder output per row
    hidden = []                                    # (the shared-prompt forward equals it: test_rl_trainer)

    def grab(module, args, out):
        out.last_hidden_state.retain_grad()
        hidden.append(out.last_hidden_state)

    hook = p.model.get_decoder().register_forward_hook(grab)
    try:
        update(p.model, p.opt, p.sched, sc.batch, adv, keep, p.cfg, 1, p.cfg.rollout.max_new_tokens)
    finally:
        hook.remove()
    order = np.random.default_rng([p.cfg.seed, 1, 1]).permutation(len(sc.batch))  # update()'s row order
    touched = hidden[0].grad.abs().sum(-1) > 0  # [R, L]
    for i, r in enumerate(order):
        n, start = int(sc.batch.mask[r].sum()), int(sc.batch.start[r])
        want = torch.zeros_like(touched[i])
        if n and adv[r] != 0:
            want[start - 1:start - 1 + n] = True  # the outputs that predict the thought's n tokens
        assert torch.equal(touched[i], want), (r, touched[i], want)
    assert touched.any()


def test_ema_update_is_the_convex_combination():
    torch.manual_seed(0)
    ema, model = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [t.clone() for t in ema.parameters()]
    ema_update(ema, model, 0.9)
    for e, b, m in zip(ema.parameters(), before, model.parameters()):
        torch.testing.assert_close(e, 0.9 * b + 0.1 * m)


def test_thought_tokens_are_appended_and_the_prior_ids_kept(tiny_prior, full):
    from priorlab.tokenizer import load_tokenizer
    from priorlab.worlds.formats import END_THINK, THINK

    out, summary = full
    old, new = load_tokenizer(tiny_prior[1]).get_vocab(), load_tokenizer(out / "model").get_vocab()
    assert {k: new[k] for k in old} == old and new[THINK] == len(old) and new[END_THINK] == len(old) + 1
    w = load_file(str(out / "model" / "model.safetensors"))
    assert w["model.embed_tokens.weight"].shape[0] == len(new)
    assert json.loads((out / "model" / "priorlab.json").read_text())["rlp"]["target_tokens"] == 2
    assert summary["after"] and set(summary["after"][0]) == set(summary["before"][0])


def test_tokens_and_flops_add_up_and_give_the_matched_budgets(full):
    out, summary = full
    train = [r for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert summary["tokens_seen"] == sum(r["tokens"] for r in train) == train[-1]["tokens_seen"]
    assert summary["flops"] == sum(r["flops_step"] for r in train) > 6 * summary["params"] * summary["tokens_seen"]
    m = summary["matched"]
    assert m["tokens"] == summary["tokens_seen"] and m["flops_tokens"] == summary["flops"] // (6 * m["prior_params"])


def test_resume_after_a_checkpoint_is_bitwise_the_uninterrupted_run(tiny_prior, full, tmp_path):
    done, summary = full
    part = tmp_path / "part"
    shutil.copytree(done, part)
    for d in ("checkpoints/step-4", "model", "after"):  # a crash after step 3, before step 4's checkpoint
        shutil.rmtree(part / d)
    (part / "summary.json").unlink()
    resumed = T.train(rlp_cfg(tiny_prior[1]), part, resume=True, show=False)
    assert strip(read_jsonl(done / "metrics.jsonl")) == strip(read_jsonl(part / "metrics.jsonl"))  # EMA included
    a, b = load_file(str(done / "model" / "model.safetensors")), load_file(str(part / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (resumed["tokens_seen"], resumed["flops"], resumed["after"]) == \
        (summary["tokens_seen"], summary["flops"], summary["after"])


def test_a_store_run_is_listed_by_runs_ls(tiny_prior, tmp_path):
    store = tmp_path / "store"
    sets = [x for s in SMALL + ["steps=1", "checkpoint_every=1"] for x in ("--set", s)]
    res = CliRunner().invoke(app, ["rlp", "--prior", str(tiny_prior[1]), "--store", str(store), "--quiet", *sets])
    assert res.exit_code == 0, res.output
    runs = json.loads(CliRunner().invoke(app, ["runs", "ls", "--store", str(store), "--json"]).output)
    assert [(r["kind"], r["status"]) for r in runs] == [("rlp", "finished")]
    bad = CliRunner().invoke(app, ["rlp", "--prior", str(tmp_path / "nope"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "prior:" in bad.output


@pytest.mark.parametrize("by", ["tokens", "flops"])
def test_matched_continued_pretraining_reads_the_same_documents_at_the_runs_budget(tiny_prior, full, by):
    from priorlab.rlp.matched import matched_sets
    from tests.conftest import TINY

    out, summary = full
    cfg = load_config(None, TINY + matched_sets(out, by))
    rlp = rlp_cfg(tiny_prior[1])
    assert cfg.pretrain.init_from == str(tiny_prior[1].resolve()) and cfg.corpus == rlp.data.corpus
    assert cfg.pretrain.tokens == summary["matched"]["tokens" if by == "tokens" else "flops_tokens"]
    if by == "flops":
        assert cfg.pretrain.tokens > summary["tokens_seen"]  # thoughts and rewards cost more than reading
