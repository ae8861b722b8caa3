"""The RL loop on the session's tiny prior: one step per advantage x loss, reproducibility,
resume, micro-batch equivalence, None rewards, NaN handling, pool filters."""

import json

import pytest
import torch

from priorlab.config import ConfigError, load_config
from priorlab.rl import trainer as T
from priorlab.rl.advantages import ADVANTAGES
from priorlab.rl.config import RLConfig
from priorlab.rl.losses import LOSSES
from priorlab.rl.policy import to_batch
from priorlab.rl.rollout import collect, step_prompts
from priorlab.rl.update import advantages_for, update
from priorlab.runs import read_jsonl

SMALL = ["threads=1", "steps=2", "data.depths=[2]", "data.n_prompts=4", "rollout.prompts_per_step=2",
         "rollout.group_size=4", "rollout.max_new_tokens=24", "probe.every=0", "final.depths=[2]",
         "final.n_problems=2", "final.n_samples=2", "final.bootstrap=10", "algo.mini_batches=2",
         "checkpoint_every=1", "optim.lr=0.001", "reward.weights={random: 1.0}"]


def rl_cfg(prior, *sets) -> RLConfig:
    return load_config(None, [f"prior={prior}", *SMALL, *sets], model=RLConfig)


def parts(prior, tmp_path, *sets):
    cfg = rl_cfg(prior, *sets)
    tmp_path.mkdir(parents=True, exist_ok=True)
    return T.build_parts(cfg, tmp_path, prior.resolve(), show=False)


def params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("adv", ADVANTAGES.names())
@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_advantage_and_loss_takes_a_step_that_changes_the_policy(tiny_prior, tmp_path, adv, loss):
    p = parts(tiny_prior[1], tmp_path, f"algo.advantage={adv}", f"algo.loss={loss}", "algo.kl_coef=0.01")
    before = params(p.model)
    row = T.rl_step(p, 0)
    assert row["optimizer_steps"] >= 1 and row["loss_tokens"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, p.model.parameters()))
    assert (p.critic is not None) == (adv == "gae")
    if adv == "gae":
        assert "value_loss" in row


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_first_ratio_is_one_and_later_minibatches_leave_it(tiny_prior, tmp_path, precision):
    """fp32: old log-probs from the sampler, equal up to rounding (documented: < 1e-4);
    bf16: recomputed, exactly 1."""
    p = parts(tiny_prior[1], tmp_path, "algo.mini_batches=1", f"precision={precision}")
    assert abs(T.rl_step(p, 0)["ratio_absdev"]) < (1e-4 if precision == "fp32" else 1e-12)  # pi_theta == pi_old
    p = parts(tiny_prior[1], tmp_path / "b", "algo.mini_batches=4", "optim.lr=0.01", f"precision={precision}")
    assert T.rl_step(p, 0)["ratio_absdev"] > 1e-3


def test_bf16_update_recomputes_old_logprobs_so_the_first_ratio_is_exactly_one(tiny_prior, tmp_path):
    """bf16 training forwards differ from the fp32 sampler by bf16 rounding; the recomputed old
    log-probs make the first mini-batch's ratio exactly 1 (tolerance 0 on a fixed thread count),
    and the KL to the prior (= the policy at step 0) exactly 0."""
    p = parts(tiny_prior[1], tmp_path / "a", "precision=bf16", "algo.mini_batches=1")
    row = T.rl_step(p, 0)
    assert row["ratio_min"] == row["ratio_max"] == 1.0 and row["ratio_absdev"] == 0.0
    assert row["kl_k1"] == 0.0 and row["kl_k3"] == 0.0
    # later mini-batches: pi_old from a no-grad pass in the same shapes; with a zero learning
    # rate pi_theta stays pi_old, so every ratio of every mini-batch is exactly 1 as well
    p = parts(tiny_prior[1], tmp_path / "b", "precision=bf16", "algo.mini_batches=3", "algo.micro_batch_size=2",
              "algo.epochs=2")
    idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new)
    batch = to_batch(ro.prompt_ids, ro.ids, ro.logp_old, "cpu")
    sampled = batch.logp_old.clone()
    adv, keep = advantages_for(p.cfg.algo, ro.rewards, ro.group)
    opt = torch.optim.SGD(p.model.parameters(), lr=0.0)
    stats = update(p.model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), batch, adv, keep, p.cfg, 0,
                   p.max_new, bf16=True)
    assert stats["optimizer_steps"] == 6 and stats["ratio_absdev"] == 0.0
    m = batch.mask.bool()
    assert 0 < (batch.logp_old - sampled)[m].abs().max() < 0.1  # bf16 rounding, now in the old log-probs too


def test_shared_prompt_forward_equals_the_plain_forward_with_its_gradients(tiny_prior, tmp_path):
    """token_logprobs runs a group's prompt once (rows with equal prompts); log-probs, entropies
    and gradients equal those of one plain forward per row up to float rounding."""
    import dataclasses

    from priorlab.rl.policy import token_logprobs

    p = parts(tiny_prior[1], tmp_path)
    idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new)
    batch = to_batch(ro.prompt_ids, ro.ids, ro.logp_old, "cpu")
    assert batch.group.tolist() == [0] * 4 + [1] * 4
    results = []
    for b in (batch, dataclasses.replace(batch, group=torch.arange(len(batch)))):  # shared, then one row each
        p.model.zero_grad()
        logp, ent = token_logprobs(p.model, b, 0.7, entropy=True)
        (logp * b.mask).sum().backward()
        results.append((logp.detach() * b.mask, ent.detach() * b.mask, [w.grad.clone() for w in p.model.parameters()]))
    (lp_a, ent_a, g_a), (lp_b, ent_b, g_b) = results
    torch.testing.assert_close(lp_a, lp_b, atol=1e-5, rtol=0)
    torch.testing.assert_close(ent_a, ent_b, atol=1e-5, rtol=0)
    for a, b in zip(g_a, g_b):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("agg", ["token_mean", "seq_mean_token_mean", "constant"])
def test_micro_batches_accumulate_to_the_mini_batch_gradient(tiny_prior, tmp_path, agg):
    import copy

    p = parts(tiny_prior[1], tmp_path, "algo.mini_batches=1", f"algo.agg={agg}")
    idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new)
    batch = to_batch(ro.prompt_ids, ro.ids, ro.logp_old, "cpu")
    adv, keep = advantages_for(p.cfg.algo, ro.rewards, ro.group)
    results = []
    for micro in (None, 3):
        model = copy.deepcopy(p.model)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        cfg = p.cfg.model_copy(update={"algo": p.cfg.algo.model_copy(update={"micro_batch_size": micro})})
        update(model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0), batch, adv, keep, cfg, 0, p.max_new)
        results.append(params(model))
    assert any(not torch.equal(a, b) for a, b in zip(results[0], params(p.model)))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_same_seed_same_metrics_and_other_reward_same_first_rollouts(tiny_prior, tmp_path):
    rows = [T.rl_step(parts(tiny_prior[1], tmp_path / str(i)), 0) for i in range(2)]
    strip = lambda r: {k: v for k, v in r.items() if not k.startswith("seconds")}  # noqa: E731
    assert strip(rows[0]) == strip(rows[1])
    first = []
    for reward in ("correct", "random", "inverse"):
        p = parts(tiny_prior[1], tmp_path / reward, f"reward.weights={{{reward}: 1.0}}")
        idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
        first.append(collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new))
    assert first[0].ids == first[1].ids == first[2].ids
    assert [q.uid for q in first[0].problems] == [q.uid for q in first[2].problems]
    assert first[0].rewards.tolist() != first[2].rewards.tolist()  # correct vs inverse differ


def test_resume_continues_exactly(tiny_prior, tmp_path):
    full = T.train(rl_cfg(tiny_prior[1], "steps=4"), tmp_path / "full", show=False)
    part = tmp_path / "part"
    T.train(rl_cfg(tiny_prior[1], "steps=4"), part, show=False)
    # simulate a crash after step 2: drop later checkpoints and outputs, then resume
    import shutil

    for d in ("checkpoints/step-3", "checkpoints/step-4", "model", "after"):
        shutil.rmtree(part / d)
    (part / "summary.json").unlink()
    resumed = T.train(rl_cfg(tiny_prior[1], "steps=4"), part, resume=True, show=False)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]  # noqa: E731
    assert strip(read_jsonl(tmp_path / "full" / "metrics.jsonl")) == strip(read_jsonl(part / "metrics.jsonl"))
    assert full["after"] == resumed["after"]
    with pytest.raises(ConfigError, match="already holds a run"):
        T.train(rl_cfg(tiny_prior[1], "steps=4"), part, show=False)


def test_band_eval_false_skips_the_band_and_leaves_the_final_evaluation_alone(tiny_prior, tmp_path):
    both = T.train(rl_cfg(tiny_prior[1], "steps=1"), tmp_path / "both", show=False)
    final = T.train(rl_cfg(tiny_prior[1], "steps=1", "band_eval=false"), tmp_path / "final", show=False)
    assert {r["split"] for r in both["after"]} == {"rl", "eval"}
    for when in ("before", "after"):
        assert not (tmp_path / "final" / when / "band").exists() and (tmp_path / "final" / when / "eval").is_dir()
        assert final[when] == [r for r in both[when] if r["split"] == "eval"]


def test_rewards_that_do_not_apply_are_masked_not_crashed_on(tiny_prior, tmp_path):
    p = parts(tiny_prior[1], tmp_path, "reward.weights={brier: 1.0}")  # the tiny prior states no confidence
    before = params(p.model)
    row = T.rl_step(p, 0)
    assert row["reward_applies"] == 0 and row["reward_mean"] is None and row["optimizer_steps"] == 0
    assert all(torch.equal(a, b) for a, b in zip(before, p.model.parameters()))


def test_non_finite_loss_stops_with_the_last_good_checkpoint(tiny_prior, tmp_path, monkeypatch):
    import priorlab.rl.update as U

    real = U.policy_loss

    def poisoned(*a, **k):
        loss, st = real(*a, **k)
        return loss * float("nan") if calls.append(1) or len(calls) > 2 else loss, st

    calls: list = []
    monkeypatch.setattr(U, "policy_loss", poisoned)
    with pytest.raises(FloatingPointError, match="step-1"):
        T.train(rl_cfg(tiny_prior[1], "steps=3"), tmp_path / "nan", show=False)
    assert (tmp_path / "nan" / "checkpoints" / "step-1" / "model.safetensors").exists()
    assert not (tmp_path / "nan" / "checkpoints" / "step-2").exists()


def test_pool_filter_one_shot_and_labels(tiny_prior, tmp_path):
    p = parts(tiny_prior[1], tmp_path / "a", "data.pass_rate=[0.0, 0.0]", "data.probe_samples=2")
    assert len(p.pool) == 4 and all(r == 0.0 for r in p.pool.pass_rate)
    assert json.loads((tmp_path / "a" / "pool.json").read_text())["pass_rate"] == [0.0] * 4
    with pytest.raises(ConfigError, match="no pool problem"):
        parts(tiny_prior[1], tmp_path / "b", "data.pass_rate=[0.5, 1.0]", "data.probe_samples=2")
    p = parts(tiny_prior[1], tmp_path / "c", "data.one_shot=2")
    assert len(p.pool) == 1
    p = parts(tiny_prior[1], tmp_path / "d", "data.labels=perturbed", "reward.weights={incorrect_label: 1.0}")
    for q, lab in zip(p.pool.problems, p.pool.label):
        assert lab is not None and lab != tuple(sorted(q.answer)) and {n for n, _ in lab} == {n for n, _ in q.answer}


def test_expert_iteration_is_nll_on_positive_samples():
    from priorlab.rl.losses import policy_loss

    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    algo = load_config(None, ["algo.advantage=psr", "algo.loss=reinforce"], model=RLConfig).algo
    adv, keep = advantages_for(algo, rewards, torch.tensor([0, 0, 1, 1]))
    logp = -torch.rand(4, 3)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=torch.float)
    loss, _ = policy_loss("reinforce", logp, logp, adv, mask, keep=keep)
    nll = -(logp[0, :2].sum() + logp[2].sum()) / 5
    torch.testing.assert_close(loss, nll)


def test_bad_rl_configs_name_the_field():
    with pytest.raises(ConfigError, match="algo.advantage.*Did you mean 'grpo'"):
        load_config(None, ["algo.advantage=gpro"], model=RLConfig)
    with pytest.raises(ConfigError, match="reward.weights.*Did you mean 'correct'"):
        load_config(None, ["reward.weights={corect: 1}"], model=RLConfig)
    with pytest.raises(ConfigError, match="mini_batches"):
        load_config(None, ["algo.mini_batches=1000"], model=RLConfig)
    with pytest.raises(ConfigError, match="data.split"):
        load_config(None, ["data.split=trian"], model=RLConfig)


def test_update_skips_minibatches_without_tokens(tiny_prior, tmp_path):
    p = parts(tiny_prior[1], tmp_path)
    idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new)
    batch = to_batch(ro.prompt_ids, ro.ids, ro.logp_old, "cpu")
    keep = torch.zeros(len(batch), dtype=torch.bool)
    stats = update(p.model, p.opt, p.sched, batch, torch.zeros(len(batch)), keep, p.cfg, 0, p.max_new)
    assert stats["skipped_steps"] == p.cfg.algo.mini_batches and stats["optimizer_steps"] == 0


def test_kl_to_the_prior_is_logged_every_kl_every_steps(tiny_prior, tmp_path):
    p = parts(tiny_prior[1], tmp_path / "a", "kl_every=2")
    rows = [T.rl_step(p, s) for s in range(2)]
    assert rows[0]["kl_k3"] == pytest.approx(0, abs=1e-6) and "kl_k3" not in rows[1]
    p = parts(tiny_prior[1], tmp_path / "b", "kl_every=0", "algo.kl_coef=0.1")  # the loss needs it anyway
    assert "kl_k3" in T.rl_step(p, 0)


def test_problem_offset_selects_later_problems_and_keys_the_eval_cache(tiny_prior):
    from priorlab.config import EvalConfig
    from priorlab.evaluate import _cache_key, sample_eval
    from priorlab.model import load_model
    from priorlab.store import non_default
    from priorlab.tokenizer import load_tokenizer
    from priorlab.worlds import make_world

    model_dir = tiny_prior[1]
    model, tok, world = load_model(model_dir, "cpu"), load_tokenizer(model_dir), make_world("arith_dag")
    base = EvalConfig(depths=[2], n_problems=2, n_samples=1, max_new_tokens=4)
    shifted = base.model_copy(update={"problem_offset": 2})

    def indices(cfg):
        return sorted({key[3] for key in sample_eval(model, tok, world, cfg, world.contexts[:1], show=False)[1]})

    assert indices(base) == [0, 1] and indices(shifted) == [2, 3]
    assert "problem_offset" not in non_default(EvalConfig())  # the default keeps every store hash
    assert _cache_key(model_dir, base) != _cache_key(model_dir, shifted)
    assert _cache_key(model_dir, base) != _cache_key(model_dir, base.model_copy(update={"seed": 1}))


def test_retest_gives_each_rl_seed_its_own_eval_problems_and_draws(tiny_prior):
    from priorlab.claims.base import Arm
    from priorlab.claims.retest import arm_config

    arm = Arm("a", "demo", ("final.n_problems=5",))
    finals = [arm_config(arm, s, tiny_prior[1]).final for s in (0, 1, 2)]
    assert [(f.problem_offset, f.seed) for f in finals] == [(0, 0), (5, 1), (10, 2)]
    ranges = [set(range(f.problem_offset, f.problem_offset + f.n_problems)) for f in finals]
    assert not (ranges[0] & ranges[1]) and not (ranges[1] & ranges[2])


def test_update_fraction_changes_only_its_seeded_share_of_each_tensor(tiny_prior, tmp_path):
    from priorlab.rl.update import frozen_entries

    fraction = 0.25
    p = parts(tiny_prior[1], tmp_path, f"optim.update_fraction={fraction}", "algo.mini_batches=1")
    before = {n: w.detach().clone() for n, w in p.model.named_parameters()}
    for step in range(3):
        assert T.rl_step(p, step)["optimizer_steps"] == 1
    frozen = frozen_entries(p.model, fraction, p.cfg.seed)
    for name, w in p.model.named_parameters():
        diff = w.detach() != before[name]
        assert int((~frozen[name]).sum()) == round(fraction * w.numel()), name
        assert not diff[frozen[name]].any(), f"{name}: a frozen entry changed"
        if "embed" not in name:  # (rows of tokens never sampled get no gradient at all)
            assert torch.equal(diff, ~frozen[name]), f"{name}: a trainable entry did not change"
    other = frozen_entries(p.model, fraction, p.cfg.seed + 1)
    assert any(not torch.equal(frozen[n], other[n]) for n in frozen)


def test_update_fraction_refuses_weight_decay():
    with pytest.raises(ConfigError, match="optim.update_fraction.*optim.weight_decay=0"):
        load_config(None, ["optim.update_fraction=0.5", "optim.weight_decay=0.1"], model=RLConfig)
