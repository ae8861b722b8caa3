"""C4: the base prior beats the RL policy at large k (Yue et al., arXiv 2504.13837; claims.md §3)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Judgement, Scale
from priorlab.claims.common import DEMO, grpo_correct, plot_curves
from priorlab.claims.measure import by_seed, n_samples, pass_k, paired, records
from priorlab.claims.stats import combine, directional
from priorlab.passk import ks_up_to


@CLAIMS.register("C4")
class Crossover(Claim):
    id = "C4"
    title = "Base beats RL at large k"
    statement = ("RLVR raises pass@1, but for in-distribution RL the base model overtakes the RL model as k "
                 "grows: pass@k(base) > pass@k(RL) at large k (a crossover k exists).")
    source = {"arxiv": "2504.13837", "date": "2025-04", "authors": "Yue et al.",
              "title": "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?"}
    statistic = ("pass@n(base) − pass@n(RL), verified, held-out eval split at the RL band depths, n = samples per "
                 "problem, paired by seed; with the pass@1 gain of RL as a second prediction")
    control = "the base model against itself (same samples): the difference must be 0, so no verdict"
    next_steps = ("Train longer (150-450 steps): the paper's pass@256 shrinks with training steps.",
                  "Raise n to 256-1024 (scale full) to look for a crossover beyond k = 64.",
                  "Sweep the RL temperature to match the base entropy (the paper's Fig. 17).")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [grpo_correct(scale)]

    def measure(self, ev: Evidence):
        rows = []
        for seed, run in sorted(ev.arms["grpo-correct"].items()):
            before, after = records(run, "before"), records(run, "after")
            n = max(ks_up_to(n_samples(before)))
            for k in ks_up_to(n):
                base, rl = pass_k(before, k), pass_k(after, k)
                rows.append({"seed": seed, "k": k, "n": n, "base": base, "rl": rl, "base_copy": base,
                             "base_minus_rl": base - rl})
        ks = sorted({r["k"] for r in rows})
        curves = {m: [(k, [r[m] for r in rows if r["k"] == k]) for k in ks] for m in ("base", "rl")}
        fig = plot_curves(curves, ev.out / "c4_passk.png", "base prior vs GRPO policy (mean over seeds, 95% band)")
        return rows, [fig]

    def _judge(self, rows: list[dict], rl: str) -> Judgement:
        n = max(r["k"] for r in rows)
        large = paired(by_seed(rows, "base", k=n), by_seed(rows, rl, k=n))
        small = paired(by_seed(rows, rl, k=1), by_seed(rows, "base", k=1))
        return combine([(f"pass@{n}: base − RL > 0", directional(large, +1, f"pass@{n}(base) − pass@{n}(RL)")),
                        ("pass@1: RL − base > 0", directional(small, +1, "pass@1(RL) − pass@1(base)"))])

    def judge(self, rows):
        return self._judge(rows, "rl")

    def judge_control(self, rows):
        return self._judge(rows, "base_copy")
