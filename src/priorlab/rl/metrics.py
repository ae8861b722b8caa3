"""Per-step RL metrics (``metrics.jsonl``), the periodic probe eval, and the training plot.

Keys of a ``kind: train`` row: reward_mean / reward_std / reward_applies (share of samples a
reward applies to), verified / answer (accuracy of this step's rollouts), share_<format> and
acc_<format> (share and verified accuracy per detected format), entropy (mean sampler token
entropy, nats), kl_k1 / kl_k3 (policy at sampling time vs the prior, per token; every
``kl_every`` steps), length (mean
completion tokens), truncated, zero_var_groups (share of prompts whose G rewards are equal),
the update's clip_low / clip_high / ratio_* / grad_norm / loss, lr, and seconds_sample /
seconds_score / seconds_update / seconds_step.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from priorlab.passk import pass_at_k_many
from priorlab.rl.losses import kl_k3

FORMATS_SHOWN = ("steps", "code", "answer", "mixed", "none")


def rollout_metrics(ro) -> dict:
    """Outcome, format, entropy and length statistics of one :class:`~priorlab.rl.rollout.Rollout`."""
    r = ro.rewards.numpy()
    ok = ~np.isnan(r)
    fmts = [v.format for v in ro.verdicts]
    counts = Counter(fmts)
    row = {"reward_mean": float(r[ok].mean()) if ok.any() else None,
           "reward_std": float(r[ok].std()) if ok.any() else None,
           "reward_applies": float(ok.mean()),
           "verified": float(np.mean([v.verified for v in ro.verdicts])),
           "answer": float(np.mean([v.answer_correct for v in ro.verdicts])),
           "entropy": float(np.concatenate(ro.entropies).mean()) if sum(map(len, ro.ids)) else 0.0,
           "length": float(np.mean([len(x) for x in ro.ids])),
           "truncated": float(1 - ro.finished.mean()),
           "zero_var_groups": zero_variance_share(ro.rewards, ro.group)}
    for f in FORMATS_SHOWN:
        sel = [v.verified for v, g in zip(ro.verdicts, fmts) if g == f]
        row[f"share_{f}"] = counts.get(f, 0) / len(fmts)
        row[f"acc_{f}"] = float(np.mean(sel)) if sel else None
    return row


def zero_variance_share(rewards: torch.Tensor, group: torch.Tensor) -> float:
    """Share of groups whose applicable rewards are all equal (no group-relative signal)."""
    same = []
    for g in torch.unique(group):
        r = rewards[group == g]
        r = r[~torch.isnan(r)]
        same.append(len(r) == 0 or bool((r == r[0]).all()))
    return float(np.mean(same))


def kl_metrics(logp_old: torch.Tensor, logp_ref: torch.Tensor, mask: torch.Tensor) -> dict:
    """Per-token KL(π_old ‖ π_prior) estimates on the sampled tokens: k1 = E[log π − log π_ref]
    and k3 (:func:`~priorlab.rl.losses.kl_k3`, Schulman 2020). Inputs [B, T]."""
    m = mask.bool()
    if not m.any():
        return {"kl_k1": 0.0, "kl_k3": 0.0}
    return {"kl_k1": float((logp_old - logp_ref)[m].mean()), "kl_k3": float(kl_k3(logp_old, logp_ref)[m].mean())}


def probe_metrics(records: list[dict], n: int) -> dict:
    """Verified / answer pass@1 and verified pass@n over the probe's problems."""
    from priorlab.evaluate import problem_key

    counts: dict[tuple, list[int]] = {}
    for r in records:
        c = counts.setdefault(problem_key(r), [0, 0])
        c[0] += bool(r["verified"])
        c[1] += bool(r["answer"])
    arr = np.array(list(counts.values()), dtype=float)
    return {"probe_verified": float(arr[:, 0].mean() / n), "probe_answer": float(arr[:, 1].mean() / n),
            f"probe_verified_at_{n}": float(pass_at_k_many(n, arr[:, 0], n).mean()),
            "probe_problems": len(arr)}


def plot_training(rows: list[dict], path: str | Path) -> Path:
    """Four panels over RL steps: reward and accuracy (+ probe pass@1, zero-variance groups),
    format shares, entropy and KL, clip fractions."""
    from priorlab.plots import plt, save

    train = [r for r in rows if r.get("kind") == "train"]
    probe = [r for r in rows if r.get("kind") == "probe"]
    steps = [r["step"] for r in train]
    fig, ax = plt.subplots(1, 4, figsize=(18, 3.8))

    def line(a, key, label, src=train, style="-"):
        pts = [(r["step"], r[key]) for r in src if r.get(key) is not None]
        if pts:
            a.plot(*zip(*pts), style, label=label, lw=1.3, marker="o" if src is probe else None, ms=3)

    line(ax[0], "reward_mean", "reward")
    line(ax[0], "verified", "verified (rollouts)")
    line(ax[0], "answer", "answer (rollouts)", style="--")
    line(ax[0], "probe_verified", "verified pass@1 (probe eval)", src=probe)
    line(ax[0], "zero_var_groups", "zero-variance groups", style=":")
    for f in FORMATS_SHOWN:
        if any(r.get(f"share_{f}") for r in train):
            line(ax[1], f"share_{f}", f)
    line(ax[2], "entropy", "token entropy (nats)")
    line(ax[2], "kl_k3", "KL to prior (k3)")
    line(ax[3], "clip_low", "clip low")
    line(ax[3], "clip_high", "clip high")
    for a, title in zip(ax, ("reward and accuracy", "format shares", "entropy and KL", "clipping")):
        a.set_title(title, fontsize=10)
        a.set_xlabel("RL step")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
        if steps:
            a.set_xlim(0, max(steps))
    return save(fig, path, dpi=110)
