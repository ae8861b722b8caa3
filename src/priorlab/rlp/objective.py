"""RLP's pieces as functions of tensors and seeds: positions, thoughts, the information-gain
reward, the EMA baseline and the FLOPs estimate (arXiv 2510.01265).

For a document x and a position t, a thought c ~ π_θ(· | x_<t <think>) is rewarded by

    r(c) = log p_θ(x_t..x_{t+k−1} | x_<t <think> c </think>) − log p_φ(x_t..x_{t+k−1} | x_<t),

teacher-forced, the first term under the current weights and the second under their EMA φ, which
does not think; both are computed without gradient (the reward is a constant to the policy loss,
which acts on the thought tokens only). k = ``rlp.target_tokens`` (1: the paper's next token).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from priorlab.pretrain import batch_indices
from priorlab.rl.policy import to_batch, token_logprobs

#: The compute estimate of both RLP and continued pretraining (Kaplan et al. 2020, arXiv 2001.08361):
#: a token costs 2·N FLOPs forward and 6·N forward and backward; attention scores are neglected.
FLOPS_FORMULA = ("C = 2·N·(forward-only tokens) + 6·N·(trained tokens), N = all parameters; RLP: forward-only = "
                 "thought prompts prefilled + thought tokens generated + reward forwards (context, thought, target) "
                 "+ EMA forwards (context, target), trained = epochs × (context, <think>, thought) + next-token "
                 "documents; continued pretraining: 6·N·pretrain.tokens")


@dataclass
class Positions:
    """The step's sampled positions: ``doc`` [B] document indices, ``contexts`` (the document's
    tokens before the position: ``<bos> prompt <sol>`` and the solution so far) and ``targets``
    (the next ``target_tokens`` tokens, fewer at the document's end), token id lists."""

    doc: np.ndarray
    contexts: list[list[int]]
    targets: list[list[int]]


def step_positions(prompts: list[list[int]], completions: list[list[int]], step: int, n: int, seed: int,
                   target_tokens: int) -> Positions:
    """``n`` positions of step ``step``: documents by a seeded permutation per pass (as pretraining
    batches, :func:`priorlab.pretrain.batch_indices`), each position uniform over the document's
    solution tokens (``<eos>`` included) by ``default_rng([seed, step, 2])``: a pure function of
    ``(seed, step)``."""
    doc = batch_indices(step, n, len(prompts), seed)
    u = np.random.default_rng([seed, step, 2]).random(n)
    ctx, tgt = [], []
    for d, x in zip(doc, u):
        c = completions[d]
        t = int(x * len(c))
        ctx.append(prompts[d] + c[:t])
        tgt.append(c[t:t + target_tokens])
    return Positions(doc, ctx, tgt)


def cut_thought(ids: list[int], logp, end_id: int, stop: set[int]) -> tuple[list[int], list[float], bool]:
    """A sampled thought up to its end: through the first ``</think>`` (kept: the model chose to end
    it; ``closed``), else before the first stop token (``<eos>``, dropped), else all of it."""
    for i, t in enumerate(ids):
        if t == end_id:
            return ids[:i + 1], list(logp[:i + 1]), True
        if t in stop:
            return ids[:i], list(logp[:i]), False
    return list(ids), list(logp), False


def target_logprob(model, prefixes: list[list[int]], targets: list[list[int]], bf16: bool = False) -> torch.Tensor:
    """log p(target | prefix) [R] (float32 nats, temperature 1): the sum over the target's tokens,
    one teacher-forced forward over each ``prefix + target``, no gradient."""
    dev = next(model.parameters()).device
    batch = to_batch(prefixes, targets, [[0.0] * len(t) for t in targets], dev)
    with torch.no_grad():
        logp, _ = token_logprobs(model, batch, 1.0, bf16=bf16)
    return (logp * batch.mask).sum(1).cpu()


def thought_prefixes(contexts: list[list[int]], thoughts: list[list[int]], closed: list[bool], group: np.ndarray,
                     think: int, end: int) -> list[list[int]]:
    """``context <think> thought </think>`` per thought (``</think>`` added when the thought did
    not close itself); ``group`` [R]: each thought's position."""
    return [contexts[g] + [think] + c + ([] if done else [end]) for g, c, done in zip(group, thoughts, closed)]


def information_gain(logp_think: torch.Tensor, logp_ema: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """r [R] = log p_θ(target | context, thought) [R] − log p_φ(target | context) [B] of the
    thought's position ``group`` [R]."""
    return logp_think.double() - logp_ema.double()[group]


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """φ ← decay·φ + (1 − decay)·θ, parameter by parameter, in place."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.mul_(decay).add_(p.detach().to(e.dtype), alpha=1 - decay)


def step_flops(n_params: int, forward: int, trained: int) -> int:
    """:data:`FLOPS_FORMULA` for ``forward`` forward-only and ``trained`` trained tokens."""
    return 2 * n_params * forward + 6 * n_params * trained
