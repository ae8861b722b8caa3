"""C10: overly hard RL data teaches shortcuts and costs accuracy on easy items
(arXiv 2605.28388; claims.md §8 — its detectors were not retrieved, these are the mechanical ones)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import BAND, DEMO, arm, plot_arms
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, problem_pass, problem_rows, records, seed_means
from priorlab.diagnostics.rundir import run_world
from priorlab.diagnostics.shortcuts import shortcut_rows

EASY = 2
HORIZON = Horizon(200, 10.0, "Cheng et al.: not retrieved; a horizon long enough for one-sample amplification")
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
    horizon = HORIZON
    notes = ("Paired statistic: each Δ is after − before of one run on the same problems and sampling seeds; the "
             "shortcut parts are per-seed rates (no problem level).",
             "Paper effect: not retrieved (claims.md §8), so a claim without a verdict is 'underpowered'.",
             "The primary part is relative (hard against medium); the paper's 'degrades accuracy on easy items' "
             "is the absolute part, Δeasy of the hard arm alone.",
             "Hard and medium pools are drawn from the same depths (4–5) by the prior's own pass rate over 16 "
             "samples, so difficulty is the only difference.", "Detectors: shortcuts.shortcut_rows; "
             "'step skipping' = right answer without a verified trace.")
    next_steps = ("Add the one-sample arm (data.one_shot on one hard item).",
                  "Use the process reward on the hard arm: claims.md §9 says it curbs the hacking.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [arm(scale, name, DEMO, f"data.pass_rate={rate}", depths=(EASY, *BAND),
                    about=f"GRPO on pool items with prior pass rate in {rate}", horizon=HORIZON) for name, rate in ARMS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                world = run_world(run)
                row = {"kind": "seed", "arm": name, "seed": seed}
                for when in ("before", "after"):
                    sc = shortcut_rows(records(run, when, depths=BAND), world, by=("split",))[0]
                    row |= {f"skip_{when}": sc["right_not_verified"], f"repeat_{when}": sc["repeat_share"]}
                rows.append(row | {"d_skip": row["skip_after"] - row["skip_before"],
                                   "d_repeat": row["repeat_after"] - row["repeat_before"]})
                easy = {w: problem_pass(records(run, w, depths=(EASY,)), 1) for w in ("before", "after")}
                rows += problem_rows({"kind": "problem", "arm": name, "seed": seed},
                                     {"d_easy": change(easy["before"], easy["after"])})
        per_seed = [{"arm": a, "d_easy": v} for a in ARMS for v in seed_means(rows, "d_easy", arm=a).values()]
        fig = plot_arms(per_seed, "d_easy", ev.out / "c10_easy.png",
                        f"Δ verified pass@1 on easy items (depth {EASY}) by RL difficulty", "Δ pass@1", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        def gap(value: str, kind: str = "seed"):
            return contrast(rows, value, {"kind": kind, "arm": "hard"}, {"kind": kind, "arm": "medium"},
                            bounds=(-1, 1))

        head = gap("d_easy", "problem")
        hard = contrast(rows, "d_easy", {"kind": "problem", "arm": "hard"}, bounds=(-1, 1))
        return verdict([
            part("easy items fare worse after hard RL than after medium RL", "Δeasy hard − medium", head, sign=-1),
            part("easy items regress after hard RL", "Δeasy hard (after − before)", hard, sign=-1),
            part("more step skipping", "Δskip hard − medium", gap("d_skip")),
            part("more answer repetition", "Δrepeat hard − medium", gap("d_repeat")),
        ], head)
