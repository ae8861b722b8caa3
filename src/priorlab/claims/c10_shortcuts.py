"""C10: overly hard RL data teaches shortcuts and costs accuracy on easy items
(arXiv 2605.28388; claims.md §8 — its detectors were not retrieved, these are the mechanical ones)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.common import BAND, DEMO, arm, plot_arms
from priorlab.claims.measure import by_seed, paired, pass_k, records
from priorlab.claims.stats import combine, directional
from priorlab.diagnostics.rundir import run_world
from priorlab.diagnostics.shortcuts import shortcut_rows

EASY = 2
ARMS = {"hard": "[0.0, 0.05]", "medium": "[0.2, 0.7]"}  # the prior's pass rate on the pool item (claims.md §8)


@CLAIMS.register("C10")
class HardSamples(Claim):
    id = "C10"
    title = "Too-hard RL data teaches shortcuts"
    statement = ("RL on problems the prior almost never solves amplifies rare lucky successes: it induces answer "
                 "repetition and skipped computation and degrades accuracy on easy items, unlike medium-difficulty "
                 "data.")
    source = {"arxiv": "2605.28388", "date": "2026-05", "authors": "Cheng et al.",
              "title": "Mechanistically Interpreting the Role of Sample Difficulty in RLVR for LLMs"}
    statistic = (f"change in verified pass@1 on easy items (depth {EASY}, held-out) after RL on hard items (prior "
                 "pass rate ≤ 0.05) minus after RL on medium items (0.2–0.7), paired by seed")
    notes = ("Hard and medium pools are drawn from the same depths (4–5) by the prior's own pass rate over 16 "
             "samples, so difficulty is the only difference.", "Detectors: shortcuts.shortcut_rows; "
             "'step skipping' = right answer without a verified trace.")
    next_steps = ("Add the one-sample arm (data.one_shot on one hard item).",
                  "Use the process reward on the hard arm: claims.md §9 says it curbs the hacking.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [arm(scale, name, DEMO, f"data.pass_rate={rate}", depths=(EASY, *BAND),
                    about=f"GRPO on pool items with prior pass rate in {rate}") for name, rate in ARMS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                world = run_world(run)
                row = {"arm": name, "seed": seed}
                for when in ("before", "after"):
                    easy = records(run, when, depths=(EASY,))
                    band = records(run, when, depths=BAND)
                    sc = shortcut_rows(band, world, by=("split",))[0]
                    row |= {f"easy_{when}": pass_k(easy, 1), f"skip_{when}": sc["right_not_verified"],
                            f"repeat_{when}": sc["repeat_share"]}
                row |= {"d_easy": row["easy_after"] - row["easy_before"],
                        "d_skip": row["skip_after"] - row["skip_before"],
                        "d_repeat": row["repeat_after"] - row["repeat_before"]}
                rows.append(row)
        fig = plot_arms(rows, "d_easy", ev.out / "c10_easy.png",
                        f"Δ verified pass@1 on easy items (depth {EASY}) by RL difficulty", "Δ pass@1", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        get = {k: {a: by_seed(rows, k, arm=a) for a in ARMS} for k in ("d_easy", "d_skip", "d_repeat")}
        return combine([
            ("easy items regress", directional(paired(get["d_easy"]["hard"], get["d_easy"]["medium"]), -1,
                                               "Δeasy hard − medium")),
            ("more step skipping", directional(paired(get["d_skip"]["hard"], get["d_skip"]["medium"]), +1,
                                               "Δskip hard − medium")),
            ("more answer repetition", directional(paired(get["d_repeat"]["hard"], get["d_repeat"]["medium"]), +1,
                                                   "Δrepeat hard − medium")),
        ])
