"""Advantage estimators: pure functions ``(rewards [B], group [B], correct [B]) -> (adv [B], keep [B])``.

``group`` holds the prompt id of each sample (G samples per prompt); ``correct`` is the
verified outcome used by the PSR/NSR family. ``keep`` is a bool mask of samples that enter the
loss — PSR/NSR select samples with a mask, not a separate loop.

Attributes on a registered estimator tell the trainer what it needs: ``group_relative`` (it
compares samples of one prompt, so it needs ``rollout.group_size`` >= 2) and ``needs_values``
(a critic).
"""

from __future__ import annotations

import torch

from priorlab.registry import Registry

ADVANTAGES: Registry = Registry("advantage estimator")


def group_stats(x: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample group mean, unbiased std (0 for singletons) and group size, each [B]."""
    _, inv, counts = torch.unique(group, return_inverse=True, return_counts=True)
    x = x.double()
    sums = torch.zeros(len(counts), dtype=x.dtype).index_add_(0, inv, x)
    mean = (sums / counts)[inv]
    sq = torch.zeros(len(counts), dtype=x.dtype).index_add_(0, inv, (x - mean) ** 2)
    n = counts[inv].double()
    std = torch.where(n > 1, (sq[inv] / (n - 1).clamp(min=1)).sqrt(), torch.zeros_like(n))
    return mean, std, n


def group_relative(fn):
    """Mark ``fn`` as an estimator whose baseline is its group's other samples: with one sample
    per prompt every advantage is 0 and nothing is learned (the config refuses group_size 1)."""
    fn.group_relative = True
    return fn


def _all(rewards: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(rewards, dtype=torch.bool)


@ADVANTAGES.register("grpo")
@group_relative
def grpo(rewards, group, correct=None, eps: float = 1e-6):
    """A_i = (r_i − mean_g) / (std_g + eps) (Shao et al. 2024, DeepSeekMath, arXiv:2402.03300)."""
    mean, std, _ = group_stats(rewards, group)
    return ((rewards - mean) / (std + eps)).float(), _all(rewards)


@ADVANTAGES.register("dr_grpo")
@group_relative
def dr_grpo(rewards, group, correct=None):
    """A_i = r_i − mean_g, no std division (Liu et al. 2025, "Dr. GRPO", arXiv:2503.20783)."""
    mean, _, _ = group_stats(rewards, group)
    return (rewards - mean).float(), _all(rewards)


@ADVANTAGES.register("rloo")
@group_relative
def rloo(rewards, group, correct=None):
    """A_i = r_i − mean_{j≠i} r_j = G/(G−1)·(r_i − mean_g) (Ahmadian et al. 2024, arXiv:2402.14740).

    Singleton groups get 0 (no baseline exists)."""
    mean, _, n = group_stats(rewards, group)
    scale = torch.where(n > 1, n / (n - 1).clamp(min=1), torch.zeros_like(n))
    return (scale * (rewards - mean)).float(), _all(rewards)


@ADVANTAGES.register("reinforce")
def reinforce(rewards, group, correct=None):
    """A_i = r_i, no baseline (Williams 1992)."""
    return rewards.float().clone(), _all(rewards)


def _correct(rewards, correct):
    return correct.bool() if correct is not None else rewards > 0


@ADVANTAGES.register("psr")
def psr(rewards, group, correct=None):
    """+1 on correct samples only; incorrect samples are masked out
    (Zhu et al. 2025, "The Surprising Effectiveness of Negative Reinforcement", arXiv:2506.01347)."""
    c = _correct(rewards, correct)
    return c.float(), c


@ADVANTAGES.register("nsr")
def nsr(rewards, group, correct=None):
    """−1 on incorrect samples only; correct samples are masked out (arXiv:2506.01347)."""
    c = _correct(rewards, correct)
    return -(~c).float(), ~c


@ADVANTAGES.register("w_reinforce")
def w_reinforce(rewards, group, correct=None, lam: float = 0.1):
    """λ on correct samples, −1 on incorrect, all kept: L = λ·L_PSR + L_NSR (arXiv:2506.01347, λ=0.1)."""
    c = _correct(rewards, correct)
    return torch.where(c, torch.full_like(rewards, lam, dtype=torch.float), -torch.ones_like(rewards, dtype=torch.float)), _all(rewards)


@ADVANTAGES.register("gae")
def gae(rewards, group, correct=None, values=None, mask=None, gamma: float = 1.0, lam: float = 0.95,
        whiten: bool = True):
    """PPO's generalised advantage estimate per token (Schulman et al. 2016, arXiv:1506.02438).

    The outcome reward is paid on the last completion token; ``values`` [B, T] is the critic's
    V(s_t) and ``mask`` [B, T] marks completion tokens. δ_t = r_t + γ·V_{t+1} − V_t (V after the
    last token = 0), A_t = Σ_l (γλ)^l δ_{t+l}; returns A [B, T] (whitened over masked tokens
    when ``whiten``) and the value targets are A + V before whitening — see :func:`gae_returns`.
    """
    adv, _ = gae_returns(rewards, values, mask, gamma, lam)
    if whiten:
        m = mask.bool()
        mu, sd = adv[m].mean(), adv[m].std() if m.sum() > 1 else torch.tensor(1.0)
        adv = torch.where(m, (adv - mu) / (sd + 1e-8), torch.zeros_like(adv))
    return adv.float(), _all(rewards)


gae.needs_values = True


def gae_returns(rewards, values, mask, gamma: float = 1.0, lam: float = 0.95):
    """(advantages [B, T], value targets [B, T]) of :func:`gae` before whitening."""
    values = values.detach().double() * mask
    lengths = mask.sum(1).long()
    r = torch.zeros_like(values)
    has = lengths > 0
    r[has, lengths[has] - 1] = rewards[has].double()
    adv = torch.zeros_like(values)
    last = torch.zeros(len(values), dtype=values.dtype)
    T = values.shape[1]
    for t in reversed(range(T)):
        v_next = values[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = r[:, t] + gamma * v_next - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        adv[:, t] = last
    return adv, adv + values
