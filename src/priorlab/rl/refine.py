"""Critique-GRPO refinements (Zhang et al., arXiv 2506.03106): information from the verifier
enters the group of a prompt the policy failed.

For every prompt of a rollout whose G samples hold no verified one, the first
``critique.refinements`` samples are each critiqued by the verifier
(:func:`priorlab.worlds.critique.critique`) and one refinement is sampled per sample, in the
context question + failed attempt + critique (:func:`~priorlab.worlds.critique.refine_input`).
The refinements are verified and scored like any sample; the best one (the first with the
highest reward: the authors' ``process_refinement_groups``) replaces the group's first sample
and is marked ``off_policy``: the trainer takes its log-probs under the original question, and
the loss shapes them (:func:`priorlab.rl.losses.shaped_offpolicy`). Kind ``gold`` places the
world's gold trace instead, with no sampling: a label leak, the control that separates a
critique's information from handing over the solution (LUFFY-style).

Refinement r of failed prompt g is sampled from stream g·G + r with a seed of (run seed, step):
a pure function of (seed, step, prompt, sample), whatever else failed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from priorlab.rl.rollout import Rollout, collect, score
from priorlab.sampling import Samples, sample
from priorlab.worlds import World
from priorlab.worlds.critique import critique, refine_input


def refine_seed(seed: int, step: int) -> int:
    """Sampler seed of the refinements of RL step ``step`` (disjoint from the rollout's)."""
    return int(np.random.SeedSequence([seed, step, 1]).generate_state(1)[0])


def failed_prompts(ro: Rollout) -> list[int]:
    """Prompt positions (``ro.group`` values) none of whose samples is verified."""
    ok = {int(g) for g, v in zip(ro.group, ro.verdicts) if v.verified}
    return [g for g in dict.fromkeys(int(x) for x in ro.group) if g not in ok]


def candidates(model, tok, world: World, ro: Rollout, failed: list[int], cfg, step: int, max_new: int) -> Samples:
    """``critique.refinements`` refinements per failed prompt (prompt-major, ``prompt_index`` = the
    position in ``failed``); kind ``gold``: the gold steps trace, once per failed prompt."""
    c, G = cfg.critique, cfg.rollout.group_size
    rows = {g: [i for i, x in enumerate(ro.group) if int(x) == g] for g in failed}
    if c.kind == "gold":
        from priorlab.tokenizer import EOS

        text = [f"{world.render_solution(ro.problems[rows[g][0]], 'steps')} {EOS}" for g in failed]
        ids = [tok(t, add_special_tokens=False)["input_ids"] for t in text]
        return Samples(np.arange(len(failed)), ids, text, [np.zeros(len(x), np.float32) for x in ids],
                       [np.zeros(len(x), np.float32) for x in ids], np.ones(len(failed), dtype=bool))
    picks = [(g, r) for g in failed for r in rows[g][:c.refinements]]
    inputs = [refine_input(world, ro.problems[r], ro.text[r], critique(world, ro.problems[r], ro.verdicts[r], c.kind))
              for _, r in picks]
    s = sample(model, tok, inputs, 1, max_new_tokens=max_new, temperature=cfg.rollout.temperature,
               top_p=cfg.rollout.top_p, seed=refine_seed(cfg.seed, step),
               streams=[g * G + rows[g].index(r) for g, r in picks])
    s.prompt_index = np.array([failed.index(g) for g, _ in picks])
    return s


def refine(model, tok, world: World, ro: Rollout, labels: list, cfg, step: int, max_new: int) -> tuple[Rollout, dict]:
    """The rollout with the best refinement of every failed prompt in its first slot (marked
    ``off_policy``), and the step's refinement statistics: ``refine_prompts`` (share of prompts
    that failed), ``refine_success`` (share of those whose best refinement is verified) and
    ``refine_verified`` (share of all refinements verified). ``labels[g]``: prompt g's label
    for the incorrect-label reward."""
    failed = failed_prompts(ro)
    stats = {"refine_prompts": len(failed) / len(set(ro.group.tolist())), "refine_success": None,
             "refine_verified": None}
    if not failed:
        return ro, stats
    s = candidates(model, tok, world, ro, failed, cfg, step, max_new)
    problems = [ro.problems[int((ro.group == failed[i]).nonzero()[0, 0])] for i in s.prompt_index]
    verdicts, rewards = score(world, cfg, step, problems, s, [labels[failed[i]] for i in s.prompt_index], max_new)
    out = dataclasses.replace(ro, ids=list(ro.ids), text=list(ro.text), logp_old=list(ro.logp_old),
                              entropies=list(ro.entropies), finished=ro.finished.copy(), verdicts=list(ro.verdicts),
                              rewards=ro.rewards.clone(), off_policy=np.zeros(len(ro), dtype=bool))
    won = []
    for i, g in enumerate(failed):
        mine = np.flatnonzero(s.prompt_index == i)
        best = int(mine[np.argmax(torch.nan_to_num(rewards[mine], nan=-np.inf).numpy())])
        row = int((ro.group == g).nonzero()[0, 0])
        out.ids[row], out.text[row], out.logp_old[row], out.entropies[row] = \
            s.ids[best], s.text[best], s.logprobs[best], s.entropies[best]
        out.finished[row], out.verdicts[row], out.rewards[row] = s.finished[best], verdicts[best], rewards[best]
        out.off_policy[row] = True
        won.append(verdicts[best].verified)
    stats |= {"refine_success": float(np.mean(won)), "refine_verified": float(np.mean([v.verified for v in verdicts]))}
    return out, stats


def versus_resampling(model, tok, world: World, pool, cfg, kinds=("none", "answer", "step")) -> dict:
    """Critique-GRPO's gate: do refinements succeed more often than plain resampling does?

    On the prompts of ``pool`` whose ``rollout.group_size`` samples (the draws of step 0) hold no
    verified one, ``critique.refinements`` refinements per prompt for every critique kind in
    ``kinds`` against as many fresh samples of the question alone (the draws of step 1). Returns
    ``{"problems", "failed", "per_prompt", kind or "resample": {"sample": share of samples
    verified, "prompt": share of failed prompts with one verified}}``."""
    R = cfg.critique.refinements
    max_new = cfg.rollout.max_new_tokens or world.max_new_tokens(pool.problems)
    ro = collect(model, tok, world, pool, np.arange(len(pool)), cfg, 0, max_new)
    failed = failed_prompts(ro)
    out = {"problems": len(pool), "failed": len(failed), "per_prompt": R}
    if not failed:
        return out
    fresh = collect(model, tok, world, pool, np.asarray(failed), cfg, 1, max_new)
    groups = {"resample": (fresh.group.numpy(), [v.verified for v in fresh.verdicts],
                           np.tile(np.arange(cfg.rollout.group_size) < R, len(failed)))}
    for kind in kinds:
        c = cfg.model_copy(update={"critique": cfg.critique.model_copy(update={"kind": kind})})
        s = candidates(model, tok, world, ro, failed, c, 0, max_new)
        rows = [ro.problems[int((ro.group == failed[i]).nonzero()[0, 0])] for i in s.prompt_index]
        verdicts = world.verify_many(rows, s.text, [not f for f in s.finished])
        groups[kind] = (s.prompt_index, [v.verified for v in verdicts], np.ones(len(s), dtype=bool))
    for name, (group, ok, use) in groups.items():
        ok, group = np.asarray(ok)[use], np.asarray(group)[use]
        out[name] = {"sample": float(ok.mean()), "prompt": float(np.mean([ok[group == g].any() for g in set(group)]))}
    return out
