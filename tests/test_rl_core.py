import pytest
import torch

from priorlab.rl.advantages import ADVANTAGES
from priorlab.rl.losses import LOSSES, aggregate, kl_k3, policy_loss

R = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
G = torch.tensor([0, 0, 0, 1, 1, 1])


def test_group_advantages_by_hand():
    a, keep = ADVANTAGES.get("grpo")(R, G)
    std = torch.tensor([1.0, 0, 0]).std()  # unbiased, = 0.5774
    want = torch.tensor([2 / 3, -1 / 3, -1 / 3, 0, 0, 0]) / std
    torch.testing.assert_close(a, want.float(), atol=1e-5, rtol=1e-5)
    assert keep.all()
    a, _ = ADVANTAGES.get("dr_grpo")(R, G)
    torch.testing.assert_close(a, torch.tensor([2 / 3, -1 / 3, -1 / 3, 0, 0, 0]))
    a, _ = ADVANTAGES.get("rloo")(R, G)  # r_i - mean of the others
    torch.testing.assert_close(a, torch.tensor([1.0, -0.5, -0.5, 0, 0, 0]))
    a, _ = ADVANTAGES.get("reinforce")(R, G)
    torch.testing.assert_close(a, R)


def test_psr_nsr_and_weighted_masks():
    a, keep = ADVANTAGES.get("psr")(R, G)
    assert keep.tolist() == [True, False, False, True, True, True] and a[keep].eq(1).all()
    a, keep = ADVANTAGES.get("nsr")(R, G)
    assert keep.tolist() == [False, True, True, False, False, False] and a[keep].eq(-1).all()
    a, keep = ADVANTAGES.get("w_reinforce")(R, G, lam=0.1)
    torch.testing.assert_close(a, torch.tensor([0.1, -1, -1, 0.1, 0.1, 0.1]))
    assert keep.all()
    c = torch.tensor([False, True, False, False, False, False])  # verified flags override reward > 0
    assert ADVANTAGES.get("psr")(R, G, correct=c)[1].tolist() == c.tolist()


def test_clipped_surrogate_by_hand_and_zero_gradient_when_clipped():
    logp_old = torch.zeros(2, 3)
    logp = torch.log(torch.tensor([[1.5, 1.0, 0.5], [1.5, 1.0, 0.5]])).requires_grad_()
    adv = torch.tensor([1.0, -1.0])
    loss, low, high = LOSSES.get("clipped")(logp, logp_old, adv, eps_low=0.2, eps_high=0.3)
    # row 0 (A>0): min(1.5, 1.3) = 1.3 (clipped high), 1.0, min(0.5, 0.8) = 0.5 (unclipped)
    # row 1 (A<0): min(-1.5, -1.3) = -1.5, -1.0, min(-0.5, -0.8) = -0.8 (clipped low)
    torch.testing.assert_close(loss.detach(), torch.tensor([[-1.3, -1.0, -0.5], [1.5, 1.0, 0.8]]))
    assert high.tolist() == [[True, False, False], [False, False, False]]
    assert low.tolist() == [[False, False, False], [False, False, True]]
    loss.sum().backward()
    assert logp.grad[0, 0] == 0 and logp.grad[1, 2] == 0 and logp.grad[0, 1] != 0


def test_reinforce_loss_kl_and_aggregators():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]])
    loss, _, _ = LOSSES.get("reinforce")(logp, logp, torch.tensor([2.0, -1.0]))
    torch.testing.assert_close(loss, torch.tensor([[2.0, 4.0], [-0.5, 0.0]]))
    assert kl_k3(logp, logp).abs().max() == 0 and (kl_k3(logp, logp + 0.3) > 0).all()
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert aggregate(loss, mask, "token_mean").item() == pytest.approx(5.5 / 3)
    assert aggregate(loss, mask, "seq_mean_token_mean").item() == pytest.approx((3.0 - 0.5) / 2)
    assert aggregate(loss, mask, "constant", normaliser=10).item() == pytest.approx(0.55)
    with pytest.raises(ValueError, match="token_mean"):
        aggregate(loss, mask, "sum")


def test_unknown_names_suggest():
    with pytest.raises(KeyError, match="Did you mean 'grpo'"):
        ADVANTAGES.get("gpro")
    with pytest.raises(KeyError, match="Did you mean 'clipped'"):
        LOSSES.get("clipped_")


@pytest.mark.parametrize("adv_name", ADVANTAGES.names())
@pytest.mark.parametrize("loss_name", LOSSES.names())
def test_every_advantage_and_loss_trains_one_step(adv_name, loss_name):
    torch.manual_seed(0)
    policy = torch.nn.Linear(4, 5)
    x = torch.randn(6, 3, 4)
    tokens = torch.randint(0, 5, (6, 3))
    before = [p.detach().clone() for p in policy.parameters()]
    logp = torch.log_softmax(policy(x), -1).gather(-1, tokens[..., None]).squeeze(-1)
    fn = ADVANTAGES.get(adv_name)
    extra = {"values": torch.rand(6, 3), "mask": torch.ones(6, 3)} if getattr(fn, "needs_values", False) else {}
    adv, keep = fn(R, G, **extra)
    loss, _ = policy_loss(loss_name, logp, logp.detach() + 0.05, adv, torch.ones(6, 3), keep=keep,
                          logp_ref=logp.detach(), kl_coef=0.1)
    torch.optim.SGD(policy.parameters(), lr=0.1).zero_grad()
    loss.backward()
    torch.optim.SGD(policy.parameters(), lr=0.1).step()
    assert any(not torch.equal(b, p) for b, p in zip(before, policy.parameters()))


def test_gae_by_hand():
    from priorlab.rl.advantages import gae, gae_returns

    values = torch.tensor([[0.5, 0.25, 0.0], [0.2, 0.4, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards = torch.tensor([1.0, 0.0])
    adv, ret = gae_returns(rewards, values, mask, gamma=1.0, lam=0.5)
    # row 0: deltas 0.25-0.5=-0.25, 0-0.25=-0.25, 1-0=1; A2=1, A1=-0.25+0.5, A0=-0.25+0.5*0.25
    # row 1: reward 0 paid at t=1: deltas 0.4-0.2=0.2, 0-0.4=-0.4; A1=-0.4, A0=0.2-0.2=0
    want = torch.tensor([[-0.125, 0.25, 1.0], [0.0, -0.4, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(adv, want)
    torch.testing.assert_close(ret, want + values.double() * mask)
    white, keep = gae(rewards, None, values=values, mask=mask, lam=0.5)
    m = mask.bool()
    assert abs(float(white[m].mean())) < 1e-6 and keep.all() and white[~m].eq(0).all()


def test_denominator_makes_micro_batches_sum_to_the_batch_loss():
    from priorlab.rl.losses import denominator

    loss, mask = torch.rand(4, 5), (torch.rand(4, 5) > 0.3).float()
    mask[3] = 0
    for mode in ("token_mean", "seq_mean_token_mean"):
        d = denominator(mask, mode)
        parts = sum(aggregate(loss[i:i + 2], mask[i:i + 2], mode, denom=d) for i in (0, 2))
        torch.testing.assert_close(parts, aggregate(loss, mask, mode))


def test_group_size_one_is_refused_for_exactly_the_estimators_it_zeroes():
    from priorlab.config import ConfigError, load_config
    from priorlab.rl.config import RLConfig

    rewards, singletons = torch.tensor([1.0, 0.0, 1.0, 0.5]), torch.arange(4)
    for name in ADVANTAGES.names():
        fn = ADVANTAGES.get(name)
        if getattr(fn, "needs_values", False):
            continue
        zeroed = not fn(rewards, singletons)[0].any()
        assert getattr(fn, "group_relative", False) == zeroed, name
        sets = ["rollout.group_size=1", f"algo.advantage={name}"]
        if zeroed:
            with pytest.raises(ConfigError, match=r"rollout.group_size=1.*rollout.group_size >= 2"):
                load_config(None, sets, model=RLConfig)
        else:
            assert load_config(None, sets, model=RLConfig).rollout.group_size == 1


def test_data_epochs_sizes_the_pool_for_that_many_passes():
    from priorlab.config import load_config
    from priorlab.rl.config import RLConfig

    base = ["steps=100", "rollout.prompts_per_step=16", "data.depths=[4, 5]"]
    assert load_config(None, base, model=RLConfig).data.n_prompts == 256  # unset: the pool as given
    cfg = load_config(None, base + ["data.epochs=2", "data.n_prompts=999"], model=RLConfig)
    assert cfg.data.n_prompts == 400  # 100 x 16 draws over 2 depths x 1 context, twice: it replaces n_prompts
    three = load_config(None, base + ["data.epochs=3", "data.contexts=[letters, digits]"], model=RLConfig)
    assert three.data.n_prompts == 134  # ceil(1600 / (3 x 4))
