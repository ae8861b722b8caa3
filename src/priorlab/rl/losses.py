"""Policy losses: pure functions of token tensors returning a per-token loss [B, T].

Shapes: ``logp`` / ``logp_old`` / ``logp_ref`` [B, T] (log-probs of the sampled tokens),
``adv`` [B] (one per sequence) or [B, T] (per token, e.g. GAE), ``mask`` [B, T] (1 on completion tokens that count). One aggregator turns the
matrix into a scalar: token-mean, sequence-mean of token-means, or a constant normaliser.
"""

from __future__ import annotations

import torch

from priorlab.registry import Registry

LOSSES: Registry = Registry("policy loss")
AGGREGATIONS = ("token_mean", "seq_mean_token_mean", "constant")


@LOSSES.register("clipped")
def clipped_surrogate(logp, logp_old, adv, eps_low: float = 0.2, eps_high: float = 0.2, **_):
    """−min(ρ·A, clip(ρ, 1−ε_low, 1+ε_high)·A), ρ = exp(logp − logp_old) per token
    (PPO, Schulman et al. 2017, arXiv:1707.06347; asymmetric ε from DAPO, arXiv:2503.14476).

    Returns (loss [B, T], clipped_low [B, T] bool, clipped_high [B, T] bool): a token is
    clipped when the clipped branch is the active minimum (zero gradient there)."""
    ratio = torch.exp(logp - logp_old)
    a = _per_token(adv)
    unclipped = ratio * a
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high) * a
    loss = -torch.minimum(unclipped, clipped)
    active = clipped < unclipped
    return loss, active & (ratio < 1 - eps_low), active & (ratio > 1 + eps_high)


@LOSSES.register("reinforce")
def reinforce_loss(logp, logp_old, adv, **_):
    """−A·logp per token: the unclipped REINFORCE / policy-gradient form (Williams 1992)."""
    loss = -_per_token(adv) * logp
    none = torch.zeros_like(loss, dtype=torch.bool)
    return loss, none, none


@LOSSES.register("shaped_offpolicy")
def shaped_offpolicy(logp, logp_old, adv, gamma: float = 0.1, **_):
    """−A·f(p) per token with f(p) = p / (p + γ), p = exp(logp): Critique-GRPO's loss on
    refinement tokens (Zhang et al. 2025, arXiv:2506.03106, ``compute_token_on_off_policy_loss``,
    γ = 0.1). Off-policy by design: no ratio to ``logp_old`` and no clip. ∇f = γ/(p+γ)²·∇p,
    which weights unlikely ("unfamiliar") tokens up.

    ``logp`` [B, T] are taken under the original question, without the critique the tokens
    were sampled with. Returns (loss [B, T], no clipping [B, T], no clipping [B, T])."""
    p = torch.exp(logp)
    loss = -_per_token(adv) * p / (p + gamma)
    none = torch.zeros_like(loss, dtype=torch.bool)
    return loss, none, none


def _per_token(adv: torch.Tensor) -> torch.Tensor:
    """[B] -> [B, 1] (broadcast over tokens); [B, T] unchanged."""
    return adv[:, None] if adv.dim() == 1 else adv


def kl_k3(logp, logp_ref):
    """k3 estimator of KL(π‖π_ref) per token: exp(d) − d − 1 with d = logp_ref − logp
    (Schulman 2020, "Approximating KL divergence"); ≥ 0, unbiased."""
    d = logp_ref - logp
    return torch.exp(d) - d - 1


def aggregate(loss, mask, mode: str = "token_mean", normaliser: float | None = None,
              denom: float | None = None):
    """Scalar from a per-token loss [B, T] and mask [B, T].

    token_mean: Σ loss·mask / Σ mask; seq_mean_token_mean: mean over sequences of each
    sequence's token mean; constant: Σ loss·mask / normaliser (Dr. GRPO; default B·T).
    ``denom`` replaces the denominator (Σ mask, or the number of non-empty sequences) with the
    one of the whole mini-batch, so that micro-batches with gradient accumulation sum to
    exactly the mini-batch's loss (see :func:`denominator`)."""
    mask = mask.to(loss.dtype)
    if mode == "token_mean":
        return (loss * mask).sum() / (denom or mask.sum().clamp(min=1))
    if mode == "seq_mean_token_mean":
        per_seq = (loss * mask).sum(1) / mask.sum(1).clamp(min=1)
        return per_seq.sum() / (denom or (mask.sum(1) > 0).sum().clamp(min=1))
    if mode == "constant":
        return (loss * mask).sum() / (normaliser or loss.numel())
    raise ValueError(f"unknown aggregation {mode!r}; choose one of {', '.join(AGGREGATIONS)}")


def denominator(mask, mode: str) -> float:
    """The mini-batch denominator of :func:`aggregate` for ``mask`` [B, T] (1 for 'constant')."""
    if mode == "token_mean":
        return float(mask.sum().clamp(min=1))
    if mode == "seq_mean_token_mean":
        return float((mask.sum(1) > 0).sum().clamp(min=1))
    return 1.0


def policy_loss(name, logp, logp_old, adv, mask, keep=None, logp_ref=None, entropy=None,
                kl_coef: float = 0.0, entropy_coef: float = 0.0, agg: str = "token_mean",
                normaliser: float | None = None, denom: float | None = None, off_policy=None,
                gamma: float = 0.1, offpolicy_loss: str = "shaped_offpolicy", **cfg):
    """Registered loss + optional k3 KL to the prior − entropy bonus, aggregated once.

    ``keep`` [B] (from the advantage estimator) removes samples from the mask. ``off_policy``
    [B] bool marks refinements (Critique-GRPO): their tokens take ``offpolicy_loss`` (default
    :func:`shaped_offpolicy` with ``gamma``) instead of loss ``name``.
    Returns (scalar loss, stats: clip_low / clip_high fractions over ``tokens`` counted)."""
    if keep is not None:
        mask = mask * keep[:, None].to(mask.dtype)
    loss, low, high = LOSSES.get(name)(logp, logp_old, adv, gamma=gamma, **cfg)
    if off_policy is not None and bool(off_policy.any()):
        off = off_policy[:, None]
        loss = torch.where(off, LOSSES.get(offpolicy_loss)(logp, logp_old, adv, gamma=gamma)[0], loss)
        low, high = low & ~off, high & ~off
    if kl_coef:
        loss = loss + kl_coef * kl_k3(logp, logp_ref)
    if entropy_coef:
        loss = loss - entropy_coef * entropy
    m = mask.bool()
    n = m.sum().clamp(min=1)
    stats = {"clip_low": float((low & m).sum() / n), "clip_high": float((high & m).sum() / n),
             "tokens": int(m.sum())}
    return aggregate(loss, mask, agg, normaliser, denom), stats
