"""Rollouts: the prompt pool, the prompts of each step, G samples per prompt, verdicts and rewards.

Everything random is a pure function of ``(seed, step)``: the prompts of a step
(:func:`step_prompts`), the sampler's draws (:func:`step_seed`) and the random reward. Two runs
that differ only in the reward therefore see the same prompts and the same first rollouts.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from priorlab.pretrain import batch_indices
from priorlab.rl.rewards import combine
from priorlab.sampling import encode, sample
from priorlab.worlds import Problem, Verdict, World


@dataclass
class Pool:
    """The RL training problems and what the prior does on them.

    ``pass_rate[i]`` (verified, from ``probe_samples`` prior samples; None if not probed) and
    ``label[i]``: a fixed *wrong* answer for the incorrect-label reward (None: does not apply).
    """

    problems: list[Problem]
    pass_rate: list[float | None]
    label: list[tuple | None]

    def __len__(self) -> int:
        return len(self.problems)

    def subset(self, keep: list[int]) -> "Pool":
        return Pool([self.problems[i] for i in keep], [self.pass_rate[i] for i in keep],
                    [self.label[i] for i in keep])


@dataclass
class Rollout:
    """One rollout batch of B = prompts x G completions, prompt-major.

    ``group`` [B] long: prompt position within the step; ``logp_old`` / ``entropies``: float32
    arrays per completion token (the sampling pass, temperature-scaled, nats); ``rewards`` [B]
    float64, NaN where no reward applies; ``off_policy`` [B] bool: a refinement placed in the
    group (:mod:`priorlab.rl.refine`), sampled in another context than ``prompt_ids``.
    """

    problems: list[Problem]
    group: torch.Tensor
    prompt_ids: list[list[int]]
    ids: list[list[int]]
    text: list[str]
    logp_old: list[np.ndarray]
    entropies: list[np.ndarray]
    finished: np.ndarray
    verdicts: list[Verdict]
    rewards: torch.Tensor
    seconds: dict
    off_policy: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def step_seed(seed: int, step: int) -> int:
    """Sampler seed of RL step ``step`` (a 32-bit hash of (seed, step))."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def step_prompts(pool_size: int, step: int, k: int, seed: int) -> np.ndarray:
    """Pool indices [k] of RL step ``step``: a seeded permutation per pass over the pool."""
    return batch_indices(step, k, pool_size, seed)


def answer_key(answer) -> tuple | None:
    """Order-free key of a (name, value) answer tuple."""
    return None if answer is None else tuple(sorted(answer))


def build_pool(world: World, data, contexts: list[str]) -> Pool:
    """``data.n_prompts`` problems per (depth, context) of ``data.split``, in that order."""
    problems = [p for d in data.depths for c in contexts for p in world.problems(data.split, d, data.n_prompts, c)]
    return Pool(problems, [None] * len(problems), [None] * len(problems))


def probe_pool(model, tok, world: World, pool: Pool, data, rollout, seed: int, max_new: int,
               show: bool) -> Pool:
    """Sample ``data.probe_samples`` completions per pool problem from the prior: fill
    ``pass_rate`` (verified) and ``label`` = the prior's majority answer where it is wrong
    (the "incorrect" labels of Shao et al. 2025, arXiv:2506.10947; None where it is right)."""
    n = data.probe_samples
    s = sample(model, tok, [world.model_input(p) for p in pool.problems], n, max_new_tokens=max_new,
               temperature=rollout.temperature, top_p=rollout.top_p, seed=seed, show=show,
               desc="probing the prior on the RL pool")
    verified = np.zeros(len(pool))
    votes: list[Counter] = [Counter() for _ in pool.problems]
    verdicts = world.verify_many([pool.problems[i] for i in s.prompt_index], s.text, [not f for f in s.finished])
    for i, v in zip(s.prompt_index, verdicts):
        verified[i] += v.verified
        if v.parsed_answer is not None:
            votes[i][answer_key(v.parsed_answer)] += 1
    labels = []
    for i, p in enumerate(pool.problems):
        top = votes[i].most_common(1)[0][0] if votes[i] else None
        labels.append(top if top is not None and top != answer_key(p.answer) else None)
    return Pool(pool.problems, [float(c / n) for c in verified], labels)


def perturbed_label(p: Problem, modulus: int, seed: int) -> tuple:
    """The true answer with every value shifted by a seeded non-zero offset mod ``modulus``."""
    rng = np.random.default_rng([seed, int(p.uid, 16) % (2 ** 32)])
    return answer_key(tuple((name, (v + int(rng.integers(1, modulus))) % modulus) for name, v in p.answer))


def collect(model, tok, world: World, pool: Pool, idx: np.ndarray, cfg, step: int, max_new: int,
            max_rows: int = 1024) -> Rollout:
    """Sample G completions for each pool problem in ``idx``, verify them and score them."""
    ro = cfg.rollout
    G = ro.group_size
    problems = [pool.problems[i] for i in idx]
    t0 = time.perf_counter()
    inputs = [world.model_input(p) for p in problems]
    s = sample(model, tok, inputs, G, max_new_tokens=max_new, temperature=ro.temperature,
               top_p=ro.top_p, seed=step_seed(cfg.seed, step), max_rows=max_rows)
    t1 = time.perf_counter()
    rows = [problems[i] for i in s.prompt_index]
    verdicts, rewards = score(world, cfg, step, rows, s, [pool.label[idx[i]] for i in s.prompt_index], max_new)
    t2 = time.perf_counter()
    enc = encode(tok, inputs)["input_ids"]
    return Rollout(
        problems=rows, group=torch.from_numpy(s.prompt_index.astype(np.int64)),
        prompt_ids=[enc[i] for i in s.prompt_index], ids=s.ids, text=s.text, logp_old=s.logprobs,
        entropies=s.entropies, finished=s.finished, verdicts=verdicts, rewards=rewards,
        seconds={"sample": t1 - t0, "score": t2 - t1}, off_policy=np.zeros(len(s), dtype=bool),
    )


def score(world: World, cfg, step: int, rows: list[Problem], s, labels: list, max_new: int,
          group: list[int] | None = None) -> tuple[list[Verdict], torch.Tensor]:
    """Verdicts and rewards [B] float64 (NaN: none applies) of samples ``s`` of problems ``rows``;
    ``group`` (default ``s.prompt_index``): the prompt of each sample, for group rewards."""
    verdicts = world.verify_many(rows, s.text, [not f for f in s.finished])
    ctx = dict(seed=cfg.seed, step=step, group=list(s.prompt_index) if group is None else group, labels=labels,
               lengths=[len(x) for x in s.ids], max_tokens=max_new) | cfg.reward.args
    rewards = combine(cfg.reward.weights, rows, s.text, verdicts, **ctx)
    return verdicts, torch.tensor([np.nan if r is None else r for r in rewards], dtype=torch.float64)
