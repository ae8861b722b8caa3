"""C6: negative samples keep pass@k, positive samples trade it for pass@1, W-REINFORCE is best
(Zhu et al., arXiv 2506.01347; claims.md §4)."""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.common import DEMO, arm, plot_curves
from priorlab.claims.measure import by_seed, n_samples, paired, pass_k, records
from priorlab.claims.stats import combine, directional, non_inferior
from priorlab.passk import ks_up_to

ARMS = {"psr": "psr", "nsr": "nsr", "w-reinforce": "w_reinforce"}
MARGIN = 0.02  # "keeps pass@k": no loss larger than 2 points


@CLAIMS.register("C6")
class SampleSign(Claim):
    id = "C6"
    title = "Negative samples keep pass@k"
    statement = ("Training only on negative samples (NSR) keeps or raises pass@k across k; only positive samples "
                 "(PSR) raise pass@1 but lower large-k pass@k; W-REINFORCE (λ = 0.1) is best overall.")
    source = {"arxiv": "2506.01347", "date": "2025-06", "authors": "Zhu et al.",
              "title": "The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning"}
    statistic = ("gain in pass@n (after − before, verified, held-out eval at the band) of NSR minus that of PSR, "
                 "paired by seed; four further predictions below")
    notes = (f"'Keeps pass@k' is read as: the CI of the NSR pass@n gain excludes a loss above {MARGIN}.",
             "'Best overall' is read as: the mean pass@k over k = 1, 2, 4, ..., n after W-REINFORCE exceeds the "
             "best of PSR and NSR.",
             "All arms use the PPO-clipped loss with 4 optimizer steps per batch and r in {0, 1}, as the authors' "
             "verl fork does; no group baseline.")
    next_steps = ("Sweep λ ∈ {0, 0.05, 0.1, 0.3, 1} (the paper's ablation).",
                  "Count distinct correct traces per problem: NSR is predicted to keep them.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [arm(scale, name, DEMO, f"algo.advantage={adv}", "algo.advantage_args={lam: 0.1}"
                    if adv == "w_reinforce" else "algo.advantage_args={}", preset="w_reinforce",
                    about=f"{adv}, PPO-clipped loss, no baseline") for name, adv in ARMS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                before, after = records(run, "before"), records(run, "after")
                n = n_samples(before)
                for k in ks_up_to(n):
                    b, a = pass_k(before, k), pass_k(after, k)
                    rows.append({"arm": name, "seed": seed, "k": k, "n": n, "before": b, "after": a, "gain": a - b})
        ks = sorted({r["k"] for r in rows})
        curves = {"prior": [(k, list(by_seed(rows, "before", arm="psr", k=k).values())) for k in ks]}
        curves |= {name: [(k, list(by_seed(rows, "after", arm=name, k=k).values())) for k in ks] for name in ARMS}
        fig = plot_curves(curves, ev.out / "c6_passk.png", "pass@k after PSR / NSR / W-REINFORCE (held-out eval)")
        return rows, [fig]

    def judge(self, rows):
        n = max(r["k"] for r in rows)
        g = {name: by_seed(rows, "gain", arm=name, k=n) for name in ARMS}
        area = {name: {s: float(np.mean([r["after"] for r in rows if r["arm"] == name and r["seed"] == s]))
                       for s in g[name]} for name in ARMS}
        best_other = {s: max(area["psr"][s], area["nsr"][s]) for s in area["psr"] if s in area["nsr"]}
        return combine([
            (f"NSR − PSR gain at k={n}", directional(paired(g["nsr"], g["psr"]), +1, f"Δpass@{n} NSR − PSR")),
            ("PSR raises pass@1", directional(list(by_seed(rows, "gain", arm="psr", k=1).values()), +1,
                                              "Δpass@1 PSR")),
            (f"PSR lowers pass@{n}", directional(list(g["psr"].values()), -1, f"Δpass@{n} PSR")),
            (f"NSR keeps pass@{n}", non_inferior(list(g["nsr"].values()), MARGIN, f"Δpass@{n} NSR")),
            ("W-REINFORCE best", directional(paired(area["w-reinforce"], best_other), +1,
                                             "mean pass@k W-REINFORCE − best other")),
        ])
