"""C5: RL extends capability only at the edge of competence (Zhang, Neubig, Yue,
arXiv 2512.07783; claims.md §9)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, PriorSpec, Scale
from priorlab.claims.common import DEMO, arm, plot_arms
from priorlab.claims.measure import by_seed, n_samples, paired, pass_k, records
from priorlab.claims.stats import combine, directional

DEEP = (6, 7, 8)
#: Pretraining covers depths 2-5 fully and 6-7 rarely (the paper's skewed "hard" share); 8 never.
EDGE_PRIOR = PriorSpec("edge", ("corpus.depths={2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 0.3, 7: 0.1}",),
                       "the demo prior continued on depths 2-5 plus 7% depth-6 and 2% depth-7 documents",
                       base="demo")
BANDS = {"in-distribution": (3, 4), "edge": (6, 7), "too-hard": (9, 10)}


@CLAIMS.register("C5")
class EdgeOfCompetence(Claim):
    id = "C5"
    title = "RL helps at the edge of competence"
    statement = ("RL raises large-k pass@k on problems deeper than pretraining only when its data sit just past "
                 "what the prior masters (hard but not impossible); RL on in-distribution or far-too-hard "
                 "problems does not extend capability.")
    source = {"arxiv": "2512.07783", "date": "2025-12", "authors": "Zhang, Neubig, Yue",
              "title": "On the Interplay of Pre-Training, Mid-Training, and RL in Reasoning Language Models"}
    statistic = (f"gain in pass@n (verified, held-out eval, depths {DEEP[0]}-{DEEP[-1]}) after RL on the edge band "
                 f"{BANDS['edge']} minus after RL on the in-distribution band {BANDS['in-distribution']}, paired by seed")
    notes = ("Bands by depth: in-distribution 3-4, edge 6-7 (rare in pretraining), too hard 9-10.",)
    next_steps = ("Sweep the rare-depth share (0, 0.1%, 1%, 10%) as the paper sweeps context exposure.",
                  "Compare the process reward on the edge band (claims.md §9 finding 4).")

    def priors(self, scale: Scale):
        return [DEMO, EDGE_PRIOR]

    def arms(self, scale: Scale):
        return [arm(scale, f"band-{name}", EDGE_PRIOR, f"data.depths=[{lo},{hi}]", depths=DEEP,
                    about=f"GRPO on depths {lo}-{hi}") for name, (lo, hi) in BANDS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in BANDS:
            for seed, run in sorted(ev.arms[f"band-{name}"].items()):
                before, after = records(run, "before"), records(run, "after")
                n = n_samples(before)
                rows.append({"arm": name, "seed": seed, "n": n, "before_1": pass_k(before, 1),
                             "after_1": pass_k(after, 1), "before_n": pass_k(before, n), "after_n": pass_k(after, n),
                             "gain_n": pass_k(after, n) - pass_k(before, n)})
        fig = plot_arms(rows, "gain_n", ev.out / "c5_bands.png",
                        f"Δ pass@n on depths {DEEP[0]}-{DEEP[-1]} by RL band", "Δ pass@n", list(BANDS))
        return rows, [fig]

    def judge(self, rows):
        g = {name: by_seed(rows, "gain_n", arm=name) for name in BANDS}
        return combine([
            ("edge − in-distribution", directional(paired(g["edge"], g["in-distribution"]), +1,
                                                   "Δpass@n edge − in-distribution")),
            ("edge − too hard", directional(paired(g["edge"], g["too-hard"]), +1, "Δpass@n edge − too hard")),
        ])
