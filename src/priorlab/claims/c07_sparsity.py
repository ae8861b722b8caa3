"""C7: RL update sparsity is a bf16 artefact; updates are full rank; masks overlap across seeds
(Mukherjee et al., arXiv 2505.11711, and the RL's Razor caveat, arXiv 2509.04259; claims.md §5)."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import DEMO, GRPO_HORIZON, arm, grpo_correct, plot_arms
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.stats import ControlSpec, pair_bootstrap
from priorlab.diagnostics.updates import update_overlap, update_ranks, update_sparsity

TOL = 1e-5  # Mukherjee et al.'s isclose(delta, 0, atol=1e-5)
FP32_NEAR_ZERO = 0.05  # "vanishes": under 5% of parameters unchanged in fp32
PAPER = 0.685  # GRPO DeepSeek-Math-7B: 68.5% unchanged in bf16 [2nd]; none in fp32 (RL's Razor §6) [2nd]
PAPER_RANK = 0.095  # update rank 99.2-99.8% of full [2nd]: ~0.995 − 0.9
PAPER_OVERLAP = 0.238  # seed overlap 60.5% vs 36.7% for random masks [2nd]
#: The positive control: an arm whose update may touch only this share of each tensor (optim.update_fraction),
#: so 1 − UPDATE_FRACTION of the parameters are unchanged by construction.
UPDATE_FRACTION = 0.5
#: How far below the planted frozen share the measured unchanged share may lie and still count as seen (the
#: per-tensor rounding of the mask moves it by < 1e-3).
CONTROL_TOL = 0.01
#: The negative control: the main arm at this learning rate (100x the grpo preset's 3e-5), for the
#: scale's RL steps (LOUD_HORIZON at a scale with horizons), so that its updates lie far above bf16
#: resolution. Measured on the demo prior at 30 steps, seed 0 (docs/claims.md, C7's controls): bf16 - fp32
#: unchanged share 0.145 at 3e-5, 0.027 at 3e-4, 0.003 at 3e-3.
LOUD_LR = 3e-3
LOUD_HORIZON = Horizon(30, 2.0, "a control: 30 steps at 100x the learning rate resolve the update in bf16")
MAIN, MASKED, LOUD = "grpo-correct", "grpo-correct-masked", "grpo-correct-lr100"


def _unchanged(a, b) -> dict[str, float]:
    rows = update_sparsity(a, b, tols=(TOL,))
    return {r["dtype"]: 1 - r["changed_frac"] for r in rows if r["scope"] == "overall"}


@CLAIMS.register("C7")
class Sparsity(Claim):
    id = "C7"
    title = "Sparse updates are a bf16 artefact"
    statement = ("RL updates only a sparse subnetwork (68-96% of parameters unchanged in bf16), but the same "
                 "training compared in fp32 shows no sparsity; the updates are nearly full rank and the updated "
                 "sets of two seeds overlap more than chance.")
    source = {"arxiv": "2505.11711", "date": "2025-05", "authors": "Mukherjee et al.",
              "title": "Reinforcement Learning Finetunes Small Subnetworks in Large Language Models"}
    statistic = (f"share of parameters with |Δ| ≤ {TOL:g} after casting both checkpoints to bf16, minus the same "
                 "share in fp32 (prior → GRPO policy, per seed)")
    control = (f"run-level: '{LOUD}', the GRPO arm at learning rate {LOUD_LR:g} (100x) for the scale's RL steps "
               f"({LOUD_HORIZON.steps} at medium), whose updates lie far above bf16 resolution: its bf16 − fp32 "
               f"unchanged share must stay under {CONTROL_TOL}")
    paper_effect = PAPER
    horizon = GRPO_HORIZON
    notes = (f"'Vanishes in fp32' is read as: under {FP32_NEAR_ZERO:.0%} of parameters unchanged in fp32.",
             "'Nearly full rank' is read as: mean rank/min(shape) of the fp32 update above 0.9.",
             "The sparsity, rank and overlap statistics are over every parameter of a checkpoint: their unit is "
             "the seed and there is no problem level. The overlap is a statistic of seed *pairs*; its interval "
             "resamples seeds (a pair counts with the product of its seeds' bootstrap counts), not the "
             "dependent pairs.",
             f"Paper effect {PAPER}: bf16 sparsity of GRPO on DeepSeek-Math-7B [2nd] against none in fp32.",
             "Departure: the runs train fp32 weights (bf16 only inside autocast) and bf16 sparsity is read by casting "
             "both checkpoints to bf16 afterwards, so an update below half a bf16 step vanishes in the cast by "
             "construction: the primary measures how much of the update lies under bf16 resolution (the proposed "
             "mechanism), not a run trained with bf16 weights as the paper's were (next step).",
             f"The overlap's paper effect ({PAPER_OVERLAP}) comes from masks with about a third of the entries "
             "updated; here most entries change, so overlap above chance is measured in a denser regime and the two "
             "are comparable in sign, not in size.",
             f"Positive control: run-level. The arm '{MASKED}' is the fp32 GRPO arm with "
             f"optim.update_fraction={UPDATE_FRACTION}: {1 - UPDATE_FRACTION:.0%} of every tensor's entries stay "
             "exactly unchanged by construction, and the fp32 unchanged share the diagnostic measures on it must "
             f"be at least that minus {CONTROL_TOL} (CI over seeds). Only its weights are read, so its evaluation "
             "is shrunk to one problem x one sample. No constructed (planted-shift) control is used.",
             f"Negative control: run-level, '{LOUD}' (see control; its evaluation shrunk the same way). It fires "
             "when the gap persists although the updates are large, i.e. when the bf16 − fp32 gap is not the "
             "resolution effect the claim says it is. Its policy collapses at that learning rate (at small, seed 0 "
             "earned no reward by step 30): only its weights are read. Until 2026-12-05 the negative control was a "
             "checkpoint against itself, which could not fire.")
    next_steps = ("Compare SFT on the same data: the paper reports 6-15% sparsity for SFT.",
                  "Train with bf16 master weights to see the sparsity appear in the run itself.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [grpo_correct(scale),
                control_arm(scale, MASKED, f"optim.update_fraction={UPDATE_FRACTION}", "GRPO, verified reward, "
                            f"only {UPDATE_FRACTION:.0%} of each tensor may change (C7's control)"),
                control_arm(scale, LOUD, f"optim.lr={LOUD_LR}", f"GRPO, verified reward, learning rate {LOUD_LR:g} "
                            "(C7's negative control)", horizon=LOUD_HORIZON)]

    def measure(self, ev: Evidence):
        prior, runs = ev.priors["demo"], ev.arms[MAIN]
        rows = []
        for seed, run in sorted(runs.items()):
            u = _unchanged(prior, run / "model")
            ranks = [r["rank_ratio"] for r in update_ranks(prior, run / "model", dtypes=("fp32",))]
            rows.append({"seed": seed, "kind": "update", "arm": MAIN, "unchanged_fp32": u["fp32"],
                         "unchanged_bf16": u["bf16"], "bf16_minus_fp32": u["bf16"] - u["fp32"],
                         "rank_ratio": float(np.mean(ranks))})
        for name in (MASKED, LOUD):
            for seed, run in sorted(ev.arms[name].items()):
                u = _unchanged(prior, run / "model")
                rows.append({"seed": seed, "kind": "update", "arm": name, "unchanged_fp32": u["fp32"],
                             "unchanged_bf16": u["bf16"], "bf16_minus_fp32": u["bf16"] - u["fp32"]}
                            | ({"planted_frozen": 1 - UPDATE_FRACTION} if name == MASKED else {}))
        for (s1, r1), (s2, r2) in combinations(sorted(runs.items()), 2):
            for o in update_overlap(prior, r1 / "model", r2 / "model", tols=(TOL,)):
                rows.append({"seeds": [s1, s2], "kind": "overlap", "dtype": o["dtype"], "o1": o["o1"],
                             "o1_random": o["o1_random"], "o1_minus_random": o["o1"] - o["o1_random"]})
        long = [{"arm": f"{r['arm']} {dt}", "value": r[f"unchanged_{dt}"]} for r in rows if r["kind"] == "update"
                for dt in ("fp32", "bf16")]
        fig = plot_arms(long, "value", ev.out / "c7_sparsity.png",
                        f"share of parameters unchanged (|Δ| ≤ {TOL:g}), per seed; {MASKED}: "
                        f"{1 - UPDATE_FRACTION:.0%} frozen by construction", "share unchanged")
        return rows, [fig]

    def judge(self, rows):
        upd = {"kind": "update", "arm": MAIN}
        gap = contrast(rows, "bf16_minus_fp32", upd)
        overlap = pair_bootstrap({(r["seeds"][0], r["seeds"][1]): r["o1_minus_random"] for r in rows
                                  if r["kind"] == "overlap" and r["dtype"] == "bf16"})
        loud_gap = contrast(rows, "bf16_minus_fp32", {"kind": "update", "arm": LOUD}, offset=CONTROL_TOL)
        return verdict([
            part("bf16 sparser than fp32", "unchanged share bf16 − fp32", gap, paper=PAPER),
            part("fp32 sparsity vanishes", f"unchanged share fp32 − {FP32_NEAR_ZERO:.2f}",
                 contrast(rows, "unchanged_fp32", upd, offset=FP32_NEAR_ZERO), sign=-1),
            part("nearly full rank", "rank ratio − 0.9", contrast(rows, "rank_ratio", upd, offset=0.9),
                 paper=PAPER_RANK),
            part("overlap above chance", "o1 − random (bf16), seed pairs", overlap, paper=PAPER_OVERLAP),
        ], gap, negative=ControlSpec(self.control, loud_gap.estimate(), positive=False, sign=+1),
            positive=positive_control(rows))


def control_arm(scale: Scale, name: str, setting: str, about: str, horizon: Horizon = GRPO_HORIZON):
    """A control arm C7 reads only the weights of: its GRPO arm with ``setting``, evaluated on one
    problem x one sample. The positive control :data:`MASKED` (only :data:`UPDATE_FRACTION` of each
    tensor may change) and the negative :data:`LOUD` (:data:`LOUD_LR`; :data:`LOUD_HORIZON` at a
    scale with horizons)."""
    return arm(scale, name, DEMO, setting, "final.n_problems=1", "final.n_samples=1", horizon=horizon, about=about)


def positive_control(rows: list[dict]) -> ControlSpec:
    """Detected when the fp32 unchanged share of the masked arm lies above the planted frozen
    share minus :data:`CONTROL_TOL` (its CI over seeds); no masked rows: undetected."""
    floor = 1 - UPDATE_FRACTION - CONTROL_TOL
    seen = contrast(rows, "unchanged_fp32", {"kind": "update", "arm": MASKED}, offset=floor).estimate()
    return ControlSpec(f"run-level: '{MASKED}' (optim.update_fraction={UPDATE_FRACTION}) leaves "
                       f"{1 - UPDATE_FRACTION:.0%} of the parameters unchanged by construction; measured fp32 "
                       f"unchanged share − {floor:g}", seen, positive=True, sign=+1)
