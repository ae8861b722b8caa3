"""Compare checkpoints' pass@k on the same problems: curves, crossover, solvable sets, Δ_SE.

Source: Yue et al., "Does RL really incentivize reasoning capacity beyond the base model?"
(arXiv 2504.13837; shared/research/claims.md §3). The first model is the *reference* (the base
model); every other model (e.g. an RL checkpoint) is compared with it.

- pass@k: the unbiased estimator of :mod:`priorlab.passk` (Chen et al. 2021) per problem,
  averaged over problems, for k = 1, 2, 4, ... <= n (n samples per problem, any n >= 1).
- 95% CIs: percentile bootstrap over problems with one set of resamples shared by every model
  and every k of a group, so the difference ``reference − model`` has a CI too.
- crossover k: the first k where ``pass@k(reference) − pass@k(model) > 0``; ``crossover_significant``
  says whether that difference's CI excludes 0 there; ``significant_k`` is the first k where it does.
- solvable sets at k = n: a problem is solved by a model when any of its n samples is correct.
- sampling-efficiency gap ``Δ_SE = pass@n(reference) − pass@1(model)`` (the paper uses n = 256).

Inputs are per-completion records as written by :func:`priorlab.evaluate.sample_and_verify`
(fields split, depth, context, index and the correctness ``metric``), one list per model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.diagnostics import DiagnosticInputError
from priorlab.evaluate import problem_key
from priorlab.passk import bootstrap_ci, ks_up_to, pass_at_k_many


def key_str(key: tuple) -> str:
    """``(split, context, depth, index)`` -> ``"eval/letters/d3/17"``."""
    split, context, depth, index = key
    return f"{split}/{context}/d{depth}/{index}"


def correct_counts(records: list[dict], metric: str, label: str = "records") -> tuple[dict[tuple, int], int]:
    """``({problem key: correct count}, n)``; every problem must have the same n samples."""
    if not records:
        raise DiagnosticInputError(f"{label}: no records to compare")
    counts: dict[tuple, int] = {}
    samples: dict[tuple, int] = {}
    for r in records:
        k = problem_key(r)
        counts[k] = counts.get(k, 0) + bool(r[metric])
        samples[k] = samples.get(k, 0) + 1
    ns = sorted(set(samples.values()))
    if len(ns) > 1:
        raise DiagnosticInputError(f"{label}: problems have different sample counts {ns}; "
                                   f"sample every problem n times (eval.n_samples)")
    return counts, ns[0]


def _aligned_counts(records_by_model: dict[str, list[dict]], metric: str) -> tuple[list[tuple], np.ndarray, int]:
    """Problem keys [P], correct counts [M, P] (models in input order), and n."""
    per_model = {m: correct_counts(recs, metric, m) for m, recs in records_by_model.items()}
    (ref, (ref_counts, n)), *others = per_model.items()
    for m, (counts, n_m) in others:
        if n_m != n:
            raise DiagnosticInputError(f"{m} has {n_m} samples per problem but {ref} has {n}; "
                                       f"compare models sampled with the same n")
        if set(counts) != set(ref_counts):
            diff = sorted(set(counts) ^ set(ref_counts))
            raise DiagnosticInputError(f"{m} and {ref} were evaluated on different problems "
                                       f"(e.g. {key_str(diff[0])}); compare on the same problems")
    keys = sorted(ref_counts)
    return keys, np.array([[c[k] for k in keys] for c, _ in per_model.values()]), n


def _group_rows(split: str, depth: int | None, keys: list[tuple], counts: np.ndarray, n: int,
                models: list[str], n_boot: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Curve rows and comparison rows of one (split, depth) group; ``counts`` [M, P]."""
    idx = np.random.default_rng([seed, depth or 0]).integers(0, len(keys), (n_boot, len(keys)))
    ks = ks_up_to(n)
    vals = {k: [pass_at_k_many(n, c, k) for c in counts] for k in ks}  # k -> [M] x [P]
    head = {"split": split, "depth": depth}
    curves = []
    for k in ks:
        for m, model in enumerate(models):
            d = vals[k][0] - vals[k][m]
            curves.append(head | {"model": model, "k": k, "pass_at_k": float(vals[k][m].mean()),
                                  **dict(zip(("ci_low", "ci_high"), bootstrap_ci(vals[k][m], idx=idx))),
                                  "diff_ref": float(d.mean()),
                                  **dict(zip(("diff_ci_low", "diff_ci_high"), bootstrap_ci(d, idx=idx))),
                                  "n_problems": len(keys), "n_samples": n})
    comparisons = []
    solved = (counts > 0).astype(np.float64)
    for m in range(1, len(models)):
        cur = [r for r in curves if r["model"] == models[m]]
        cross = next((r for r in cur if r["diff_ref"] > 0), None)
        sig = next((r for r in cur if r["diff_ci_low"] > 0), None)
        se = solved[0] - vals[1][m]  # pass@n is 1 exactly for problems with a correct sample
        only_ref = [key_str(k) for k, a, b in zip(keys, solved[0], solved[m]) if a > b]
        only_model = [key_str(k) for k, a, b in zip(keys, solved[0], solved[m]) if b > a]
        comparisons.append(head | {
            "reference": models[0], "model": models[m],
            "crossover_k": cross["k"] if cross else None,
            "crossover_significant": bool(cross and cross["diff_ci_low"] > 0),
            "significant_k": sig["k"] if sig else None,
            "delta_se": float(se.mean()), **dict(zip(("delta_se_ci_low", "delta_se_ci_high"), bootstrap_ci(se, idx=idx))),
            "n_solved_ref": int(solved[0].sum()), "n_solved_model": int(solved[m].sum()),
            "n_only_ref": len(only_ref), "n_only_model": len(only_model),
            "model_subset_of_ref": not only_model, "only_ref": only_ref, "only_model": only_model,
            "n_zero_ref": int((counts[0] == 0).sum()), "n_zero_model": int((counts[m] == 0).sum()),
            "n_problems": len(keys), "n_samples": n})
    return curves, comparisons


def compare_passk(records_by_model: dict[str, list[dict]], metric: str = "verified",
                  n_boot: int = 1000, seed: int = 0) -> dict[str, list[dict]]:
    """Compare models (first = reference) per split, per depth and pooled over depths.

    Returns ``{"curves": [...], "comparisons": [...]}``:

    - curves: ``{split, depth, model, k, pass_at_k, ci_low, ci_high, diff_ref, diff_ci_low,
      diff_ci_high, n_problems, n_samples}``; ``diff_ref = pass@k(reference) − pass@k(model)``.
    - comparisons (one per non-reference model): ``{split, depth, reference, model,
      crossover_k, crossover_significant, significant_k, delta_se, delta_se_ci_low,
      delta_se_ci_high, n_solved_ref, n_solved_model, n_only_ref, n_only_model,
      model_subset_of_ref, only_ref, only_model, n_zero_ref, n_zero_model, n_problems, n_samples}``
      (``only_*``: problem ids solved at k = n by one model only; ``n_zero_*``: problems with no
      correct sample).

    ``depth`` is None in rows pooled over depths. pass@k values are fractions in [0, 1].
    """
    models = list(records_by_model)
    keys, counts, n = _aligned_counts(records_by_model, metric)
    curves, comparisons = [], []
    groups: dict[tuple, list[int]] = {}
    for i, (split, _, depth, _) in enumerate(keys):
        groups.setdefault((split, depth), []).append(i)
        groups.setdefault((split, None), []).append(i)
    for (split, depth), cols in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1])):
        c, r = _group_rows(split, depth, [keys[i] for i in cols], counts[:, cols], n, models, n_boot, seed)
        curves += c
        comparisons += r
    return {"curves": curves, "comparisons": comparisons}


def plot_compare(result: dict[str, list[dict]], path: str | Path) -> Path:
    """pass@k vs k (log2 axis), one panel per split and depth ("all" = pooled), one line per
    model with its 95% CI band; each model's crossover k is a dashed vertical line in its colour
    (solid marker where the difference's CI excludes 0)."""
    from priorlab.plots import plt, save

    curves = result["curves"]
    groups = sorted({(r["split"], r["depth"]) for r in curves}, key=lambda g: (g[0], g[1] is None, g[1]))
    ncols = min(4, len(groups))
    nrows = -(-len(groups) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.6 * nrows), squeeze=False)
    models = list(dict.fromkeys(r["model"] for r in curves))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    for ax, (split, depth) in zip(axes.flat, groups):
        for m in models:
            sel = [r for r in curves if (r["split"], r["depth"], r["model"]) == (split, depth, m)]
            ks = [r["k"] for r in sel]
            ax.plot(ks, [r["pass_at_k"] for r in sel], "-o", ms=3, color=colors[m], label=m)
            ax.fill_between(ks, [r["ci_low"] for r in sel], [r["ci_high"] for r in sel], color=colors[m], alpha=0.15)
        for c in result["comparisons"]:
            if (c["split"], c["depth"]) == (split, depth) and c["crossover_k"] is not None:
                ax.axvline(c["crossover_k"], ls="--", lw=1, color=colors[c["model"]])
                ax.plot([c["crossover_k"]], [0.02], "v", ms=7, color=colors[c["model"]],
                        fillstyle="full" if c["crossover_significant"] else "none")
        ax.set_xscale("log", base=2)
        ax.set(ylim=(-0.02, 1.02), xlabel="k (samples)", ylabel="pass@k",
               title=f"{split}, depth {'all' if depth is None else depth}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle("pass@k with 95% CI; dashed = crossover k (reference overtakes; filled marker = CI excludes 0)",
                 fontsize=9)
    return save(fig, path)
