"""Token entropy by role (planning vs computing) over RL checkpoints.

Source: Wang et al., HICRA / "two-phase learning" (arXiv 2509.03646; shared/research/claims.md
§10b): early RL lowers the entropy of *execution* tokens, planning tokens keep theirs. In the
arithmetic world the roles are read off the completion's own tokens by parsing
(:func:`priorlab.worlds.roles.token_roles`): ``plan`` (target and operand names), ``compute``
(operand and result values), ``answer``, ``other``, ``unparsed``.

Entropy is the sampler's per-token entropy of the temperature-scaled next-token distribution
(before top-p), in nats (:class:`priorlab.sampling.Samples`). Over training, every checkpoint of
a run (``checkpoints/step-N``, plus the prior as step 0) samples the same fixed problems (the
``eval`` split at the run's band depths, indices 0..n_problems−1) with the same seed, so the
steps differ only in the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.worlds.roles import ROLES, token_roles


def role_entropy(entropies: list[np.ndarray], tokens: list[list[str]]) -> list[dict]:
    """Token-weighted mean entropy per role over completions (``entropies[i]`` [T_i] nats,
    ``tokens[i]`` the T_i tokens). Rows ``{role, mean_entropy, n_tokens, token_share}``; roles
    with no token get NaN and 0."""
    by_role: dict[str, list[float]] = {r: [] for r in ROLES}
    for ent, toks in zip(entropies, tokens):
        if len(ent) != len(toks):
            raise ValueError(f"{len(ent)} entropies for {len(toks)} tokens")
        for e, role in zip(ent, token_roles(toks)):
            by_role[role].append(float(e))
    total = sum(map(len, by_role.values()))
    return [{"role": r, "mean_entropy": float(np.mean(v)) if v else float("nan"), "n_tokens": len(v),
             "token_share": len(v) / total if total else 0.0} for r, v in by_role.items()]


def sample_role_entropy(model, tok, world, problems: list, n_samples: int, seed: int,
                        temperature: float = 1.0) -> list[dict]:
    """Sample ``n_samples`` completions per problem and return :func:`role_entropy` rows.
    Needs a word-level tokenizer (one id per world token), as priorlab checkpoints have."""
    from priorlab.sampling import sample

    s = sample(model, tok, [world.model_input(p) for p in problems], n_samples, max_new_tokens=world.max_new_tokens(problems),
               temperature=temperature, seed=seed)
    return role_entropy(s.entropies, [tok.convert_ids_to_tokens(ids) for ids in s.ids])


def entropy_over_training(run_dir: str | Path, n_problems: int = 8, n_samples: int = 4, seed: int = 0) -> list[dict]:
    """:func:`role_entropy` rows per checkpoint of an RL run, with ``step`` and ``checkpoint``
    added (step 0 = the prior, when it still exists). Sampling temperature: the run's
    ``rollout.temperature``."""
    from priorlab import runtime
    from priorlab.diagnostics.rundir import checkpoints, run_config, run_world
    from priorlab.evaluate import contexts_for
    from priorlab.model import load_model
    from priorlab.tokenizer import load_tokenizer

    cfg, world, ckpts = run_config(run_dir), run_world(run_dir), checkpoints(run_dir)
    contexts = contexts_for(cfg.data.contexts, ckpts[-1][1], world)
    problems = [p for d in cfg.data.depths for c in contexts for p in world.problems("eval", d, n_problems, c)]
    rows = []
    for step, path in ckpts:
        model, tok = load_model(path, runtime.device()), load_tokenizer(path)
        rows += [{"step": step, "checkpoint": str(path)} | r
                 for r in sample_role_entropy(model, tok, world, problems, n_samples, seed, cfg.rollout.temperature)]
    return rows


def plot_entropy(rows: list[dict], path: str | Path) -> Path:
    """Mean token entropy per role vs RL step (left) and each role's share of tokens (right)."""
    from priorlab.plots import plt, save

    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    for role in ROLES:
        sel = sorted((r for r in rows if r["role"] == role and r["n_tokens"]), key=lambda r: r["step"])
        if sel:
            ax[0].plot([r["step"] for r in sel], [r["mean_entropy"] for r in sel], "-o", ms=3, label=role)
            ax[1].plot([r["step"] for r in sel], [r["token_share"] for r in sel], "-o", ms=3, label=role)
    ax[0].set(xlabel="RL step (checkpoint)", ylabel="mean token entropy (nats)", title="entropy by token role")
    ax[1].set(xlabel="RL step (checkpoint)", ylabel="share of tokens", ylim=(-0.02, 1.02), title="token roles")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    return save(fig, path)
