"""One rollout batch -> optimizer steps: advantages, mini-batches, micro-batches, critic.

Each rollout batch is shuffled (seeded by (seed, step)) into ``algo.mini_batches`` chunks per
epoch; each chunk is one optimizer step, split into micro-batches whose gradients accumulate to
exactly the chunk's loss (the aggregator's denominator is the chunk's, :func:`denominator`).
The first chunk sees π_θ = π_old (ratio 1); later chunks leave 1, so clipping can act
(Shao et al. 2025, arXiv:2506.10947, App. B).

Old log-probs: in fp32 the sampler's (equal to a training forward up to ~1e-5 nats). In bf16 the
training forward differs from the fp32 sampler by bf16 rounding (~1e-2 nats), which would start
the ratio away from 1, so the old log-probs are recomputed in the update's own precision and
shapes: the chunks trained before the first optimizer step take their own forward's detached
log-probs (ratio exactly 1), every other chunk gets a no-grad forward of π_old in exactly the
shapes its training forward will have (:func:`chunked_logprobs`), before the first step.

With ``optim.update_fraction`` set, the gradients of a fixed, seeded share of each parameter
tensor's entries are zeroed before every optimizer step: under AdamW without weight decay those
entries stay exactly unchanged (the positive control of the update-sparsity claim).
"""

from __future__ import annotations

import weakref
import zlib

import numpy as np
import torch

from priorlab import runtime
from priorlab.rl.advantages import ADVANTAGES, gae_returns
from priorlab.rl.losses import aggregate, denominator, policy_loss
from priorlab.rl.policy import Batch, token_logprobs


def advantages_for(algo, rewards, group, values=None, mask=None):
    """Run the configured estimator on the samples whose reward applies (not NaN).

    ``rewards`` [B] float64 (NaN: no reward applies), ``group`` [B], ``values`` / ``mask``
    [B, T] for estimators that need a critic. Returns (adv [B] or [B, T], keep [B] bool);
    samples without a reward get advantage 0 and keep False. PSR / NSR / W-REINFORCE split
    samples by the sign of the *reward* (r > 0 is positive), as the paper's r ∈ {+1, −1} does,
    so a spurious reward changes which samples they reinforce.
    """
    fn = ADVANTAGES.get(algo.advantage)
    valid = ~torch.isnan(rewards)
    extra = {"values": values[valid], "mask": mask[valid]} if getattr(fn, "needs_values", False) else {}
    adv = torch.zeros((len(rewards),) + ((mask.shape[1],) if extra else ()))
    keep = torch.zeros(len(rewards), dtype=torch.bool)
    if valid.any():
        a, k = fn(rewards[valid], group[valid], None, **extra, **algo.advantage_args)
        adv[valid], keep[valid] = a, k
    return adv, keep


_FROZEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> ((fraction, seed), masks)


def frozen_entries(model, fraction: float | None, seed: int) -> dict[str, torch.Tensor]:
    """{parameter name: bool mask of the entries that must not change} for ``optim.update_fraction``.

    Each tensor of n entries keeps exactly round(fraction x n) trainable entries, drawn by
    ``default_rng([seed, crc32(name)])``: a pure function of the seed and the name, so a resumed
    run freezes the same entries. Empty without a fraction; memoised per model.
    """
    if fraction is None:
        return {}
    key = (fraction, seed)
    if model in _FROZEN and _FROZEN[model][0] == key:
        return _FROZEN[model][1]
    masks = {}
    for name, p in model.named_parameters():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        frozen = np.ones(p.numel(), dtype=bool)
        frozen[rng.choice(p.numel(), round(fraction * p.numel()), replace=False)] = False
        masks[name] = torch.from_numpy(frozen).reshape(p.shape).to(p.device)
    _FROZEN[model] = (key, masks)
    return masks


def zero_frozen_grads(model, frozen: dict[str, torch.Tensor]) -> None:
    """Zero the gradient entries :func:`frozen_entries` froze (before clipping and the step)."""
    for name, p in model.named_parameters():
        if name in frozen and p.grad is not None:
            p.grad.masked_fill_(frozen[name], 0)


def micro_chunks(idx: torch.Tensor, size: int | None) -> list[torch.Tensor]:
    return [idx] if not size else list(torch.split(idx, size))


def update_plan(cfg, step: int, n: int, dev) -> list[list[torch.Tensor]]:
    """Row indices [b] of each mini-batch, ``plan[epoch][m]``: a permutation of the ``n`` rollout
    rows per epoch, seeded by (seed, step), split into ``algo.mini_batches`` chunks."""
    rng = np.random.default_rng([cfg.seed, step, 1])
    return [list(torch.tensor_split(torch.from_numpy(rng.permutation(n)).to(dev), cfg.algo.mini_batches))
            for _ in range(cfg.algo.epochs)]


def first_epoch_chunks(cfg, step: int, n: int, dev) -> list[torch.Tensor]:
    """The micro-batches [b] of the update's first epoch, in order: a no-grad pass over these
    computes exactly (bit for bit) what the update's own forwards compute before any step."""
    return [micro for mb in update_plan(cfg, step, n, dev)[0] for micro in micro_chunks(mb, cfg.algo.micro_batch_size)]


@torch.no_grad()
def chunked_logprobs(model, batch: Batch, chunks: list[torch.Tensor], temperature: float,
                     bf16: bool) -> torch.Tensor:
    """Log-probs [B, T] (float32, 0 outside ``chunks`` and past each chunk's longest completion)
    of ``model`` on ``batch``, one no-grad forward per chunk of rows, each trimmed as
    :meth:`Batch.select` trims it."""
    out = torch.zeros_like(batch.logp_old)
    for idx in chunks:
        sub = batch.select(idx)
        out[idx, :sub.mask.shape[1]] = token_logprobs(model, sub, temperature, bf16=bf16)[0]
    return out


class StepStats:
    """Token-weighted sums of per-micro-batch statistics over one rollout batch."""

    def __init__(self):
        self.tokens = 0
        self.sums = {"clip_low": 0.0, "clip_high": 0.0, "ratio_mean": 0.0, "ratio_absdev": 0.0}
        self.ratio_min, self.ratio_max = float("inf"), float("-inf")
        self.grad_norms: list[float] = []
        self.value_loss: list[float] = []
        self.loss: list[float] = []
        self.skipped = 0

    def add(self, st: dict, ratio: torch.Tensor, m: torch.Tensor) -> None:
        n = int(m.sum())
        if n == 0:
            return
        r = ratio[m]
        self.tokens += n
        self.sums["clip_low"] += st["clip_low"] * n
        self.sums["clip_high"] += st["clip_high"] * n
        self.sums["ratio_mean"] += float(r.sum())
        self.sums["ratio_absdev"] += float((r - 1).abs().sum())
        self.ratio_min, self.ratio_max = min(self.ratio_min, float(r.min())), max(self.ratio_max, float(r.max()))

    def row(self) -> dict:
        n = max(1, self.tokens)
        out = {k: v / n for k, v in self.sums.items()}
        out |= {"ratio_min": self.ratio_min if self.tokens else None, "ratio_max": self.ratio_max if self.tokens else None,
                "grad_norm": float(np.mean(self.grad_norms)) if self.grad_norms else None,
                "loss": float(np.mean(self.loss)) if self.loss else None,
                "optimizer_steps": len(self.grad_norms), "skipped_steps": self.skipped, "loss_tokens": self.tokens}
        if self.value_loss:
            out["value_loss"] = float(np.mean(self.value_loss))
        return out


def _finite(x: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(x).all():
        raise FloatingPointError(f"{what} became {x.item() if x.numel() == 1 else 'non-finite'} at RL step {step}")


def update(model, opt, sched, batch: Batch, adv, keep, cfg, step: int, max_new: int, ref_logp=None,
           critic=None, critic_opt=None, old_values=None, returns=None, bf16: bool = False) -> dict:
    """Optimizer steps on one rollout batch; returns the step's loss / ratio / clip statistics.

    ``adv`` [B] or [B, T], ``keep`` [B] bool, ``ref_logp`` [B, T] (needed when kl_coef > 0);
    PPO passes ``critic``, ``old_values`` and ``returns`` [B, T]. With ``bf16`` the old log-probs
    are recomputed (module docstring) and ``batch.logp_old`` is replaced by them. Raises
    FloatingPointError on a non-finite loss or gradient before any optimizer step is taken with it.
    """
    a = cfg.algo
    stats = StepStats()
    mask = batch.mask * keep[:, None].to(batch.mask.dtype)
    frozen = frozen_entries(model, cfg.optim.update_fraction, cfg.seed)
    plan = update_plan(cfg, step, len(batch), batch.tokens.device)
    live = [mb for mb in plan[0] if mask[mb].sum() > 0]
    if bf16:  # every chunk but the first trained one gets pi_old from a no-grad pass
        first = live[0] if live else None
        later = [micro for mb in plan[0] if mb is not first for micro in micro_chunks(mb, a.micro_batch_size)]
        batch.logp_old = chunked_logprobs(model, batch, later, cfg.rollout.temperature, bf16)
    for epoch in plan:
        for mb in epoch:
            if mask[mb].sum() == 0:
                stats.skipped += 1
                continue
            own_old = bf16 and not stats.grad_norms  # no optimizer step yet: pi_theta is pi_old
            total = _mini_batch(model, opt, batch, mb, mask, adv, keep, ref_logp, cfg, step, max_new, bf16,
                                stats, own_old)
            zero_frozen_grads(model, frozen)
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            _finite(gnorm, "the gradient norm", step)
            opt.step()
            sched.step()
            stats.grad_norms.append(float(gnorm))
            stats.loss.append(total)
            if critic is not None:
                stats.value_loss.append(critic_step(critic, critic_opt, batch, mb, old_values, returns, cfg, step, bf16))
    return stats.row()


def _mini_batch(model, opt, batch: Batch, mb, mask, adv, keep, ref_logp, cfg, step: int, max_new: int,
                bf16: bool, stats: StepStats, own_old: bool) -> float:
    """Accumulate the gradient of mini-batch ``mb`` micro-batch by micro-batch; return its loss.
    ``own_old``: the old log-probs of these rows are their own forward's, detached (ratio 1)."""
    a = cfg.algo
    denom = denominator(mask[mb], a.agg)
    normaliser = a.normaliser or len(mb) * max_new
    opt.zero_grad(set_to_none=True)
    total = 0.0
    for micro in micro_chunks(mb, a.micro_batch_size):
        sub = batch.select(micro)
        T = sub.mask.shape[1]
        logp, ent = token_logprobs(model, sub, cfg.rollout.temperature, a.entropy_coef != 0, bf16)
        if own_old:
            sub.logp_old = batch.logp_old[micro, :T] = logp.detach()
        loss, st = policy_loss(
            a.loss, logp, sub.logp_old, adv[micro] if adv.dim() == 1 else adv[micro, :T], sub.mask,
            keep=keep[micro], logp_ref=None if ref_logp is None else ref_logp[micro, :T], entropy=ent,
            kl_coef=a.kl_coef, entropy_coef=a.entropy_coef, agg=a.agg, normaliser=normaliser,
            denom=denom, eps_low=a.eps_low, eps_high=a.eps_high, **_off_policy(sub, cfg))
        _finite(loss, "the policy loss", step)
        runtime.backward(loss)
        total += loss.item()
        stats.add(st, torch.exp(logp.detach() - sub.logp_old), mask[micro, :T].bool())
    return total


def _off_policy(sub: Batch, cfg) -> dict:
    """The off-policy loss's arguments when the batch holds refinements (Critique-GRPO);
    none otherwise (stages without refinements, e.g. RLP, have no ``critique`` config)."""
    if sub.off_policy is None:
        return {}
    return {"off_policy": sub.off_policy, "gamma": cfg.critique.gamma, "offpolicy_loss": cfg.critique.loss}


def critic_step(critic, opt, batch: Batch, mb, old_values, returns, cfg, step: int, bf16: bool) -> float:
    """One critic step on mini-batch ``mb``: ½·max((V − R)², (V_clip − R)²), token mean, with
    V_clip = V_old + clip(V − V_old, ±value_clip) (PPO2's value clipping)."""
    a = cfg.algo
    opt.zero_grad(set_to_none=True)
    denom = denominator(batch.mask[mb], "token_mean")
    total = 0.0
    for micro in micro_chunks(mb, a.micro_batch_size):
        sub = batch.select(micro)
        T = sub.mask.shape[1]
        v = critic(sub, bf16)
        ret, old = returns[micro, :T].float(), old_values[micro, :T].float()
        err = (v - ret) ** 2
        if a.value_clip:
            err = torch.maximum(err, (old + (v - old).clamp(-a.value_clip, a.value_clip) - ret) ** 2)
        loss = a.value_coef * 0.5 * aggregate(err, sub.mask, "token_mean", denom=denom)
        _finite(loss, "the value loss", step)
        runtime.backward(loss)
        total += loss.item()
    torch.nn.utils.clip_grad_norm_(critic.parameters(), cfg.optim.grad_clip)
    opt.step()
    return total


@torch.no_grad()
def critic_targets(critic, batch: Batch, rewards, algo, bf16: bool = False):
    """(old values [B, T], GAE value targets [B, T]) of a rollout batch, rewards NaN -> 0."""
    values = critic(batch, bf16) * batch.mask
    args = {k: v for k, v in algo.advantage_args.items() if k in ("gamma", "lam")}
    _, returns = gae_returns(torch.nan_to_num(rewards), values, batch.mask, **args)
    return values, returns.float()
