"""C8: binary rewards hurt calibration; the Brier reward restores it without losing accuracy
(Damani et al., RLCR, arXiv 2507.16806; claims.md §6)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import BAND, DEMO, SCRATCH_NOTE, arm, plot_arms, scratch
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import problem_pass, problem_rows, records
from priorlab.diagnostics.calibration import calibration_rows

METRIC = "verified"
MARGIN = 0.03  # "without losing accuracy": no loss above 3 points
#: ``confidence_noise``: a solver's stated confidence varies around its calibrated value, so the policy has
#: neighbouring confidences to choose from within a format; without it the stated value is fixed by
#: (format, depth) and a reward can move calibration only by moving the format (docs/claims.md, "C8 at medium").
CONFIDENT = scratch("confident", "the demo mix, every document ending with the confidence a "
                     "calibrated solver states (0.8^depth for steps, 0.2^depth for answer-only, + N(0, 0.1²); "
                     "docs/calibration.md)",
                     "corpus.confidence_prob=1.0", "corpus.confidence_op_acc={steps: 0.8, answer: 0.2}",
                     "corpus.confidence_noise=0.1")
#: Both arms mean-centre without dividing by the group std (RLCR's ``scale_rewards: false``): with std
#: scaling the Brier reward collapses onto bare answers stating 0% (docs/calibration.md).
HORIZON = Horizon(200, 0.5, "Damani et al.: half an epoch of big-math-digits (math), one of HotpotQA")
PAPER = 0.34  # HotpotQA ECE 0.37 (RLVR) -> 0.03 (RLCR) [2nd]
PAPER_WORSENS = 0.119  # MATH-500 ECE base .492 -> RLVR .611 (recomputed from released generations, claims.md §6)
ARMS = {"conf-correct": "reward.weights={correct: 1.0}", "conf-brier": "reward.weights={brier: 1.0}"}


@CLAIMS.register("C8")
class Calibration(Claim):
    id = "C8"
    title = "Brier reward keeps calibration"
    statement = ("RL with a binary correctness reward makes stated confidence worse calibrated; adding a Brier "
                 "term (reward c − (q − c)²) restores calibration without costing accuracy.")
    source = {"arxiv": "2507.16806", "date": "2025-07", "authors": "Damani et al.",
              "title": "Beyond Binary Rewards: Training LMs to Reason About Their Uncertainty"}
    statistic = ("ECE (10 equal-width bins, stated confidence vs verified correctness, held-out eval at the band) "
                 "after the binary reward minus after the Brier reward, per seed")
    paper_effect = PAPER
    horizon = HORIZON
    notes = ("ECE is a binned statistic of all completions, not a mean over problems: its parts resample "
             "seeds only. The accuracy part resamples seeds and problems (per-problem after-RL pass@1 "
             "of the two arms, paired on the problems a seed's arms share).", f"Paper effect {PAPER}: HotpotQA ECE RLVR − RLCR [2nd].",
             f"'Without losing accuracy' is read as: the CI of the accuracy difference lies above −{MARGIN} "
             "(non-inferiority).", "A completion without a confidence counts as q = 0 (RLCR's extractor).",
             "Departure: in training, a completion without a confidence gets no Brier reward and is left out of the "
             "update, where RLCR's reward is 0 for any format failure (its minimum: its Brier term is shifted to "
             "[0, 1]); here omitting the confidence is neither paid nor penalised. Measured on the stored runs "
             "(metrics.jsonl reward_applies): 99.6-99.8% of training samples state one, never below 93.8% in a step.",
             "Both arms use Dr. GRPO (mean-centred, no std division: RLCR's scale_rewards false); with std "
             "division the Brier arm collapsed onto bare answers stating 0% (accuracy 0.001; docs/calibration.md).",
             "The prior's stated confidence carries noise (σ = 0.1) so that a reward can move it within a format; "
             "before 2026-12-05 it was fixed by format and depth, and at medium both arms ended at the same "
             "stated confidence (0.35 in every seed) with ECE up 0.03-0.08 in both (docs/claims.md).",
             "Departure: the prior states a confidence from pretraining (every document ends with one), where "
             "RLCR's models are asked for one by their prompt and learn to state it in the RL stage. So calibration "
             "before RL is the prior's: from scratch it starts better calibrated (ECE 0.10-0.12 at small) than the "
             "demo prior continued on the mix did (0.16-0.19), and the Brier term has less to repair (docs/claims.md, "
             "'C5, C8, C9, C12, C13 on from-scratch priors').",
             SCRATCH_NOTE)
    next_steps = ("Add the log-loss reward to show why a bounded scoring rule matters.",
                  "Evaluate on deeper (out-of-distribution) depths as the paper's OOD sets.")

    def priors(self, scale: Scale):
        return [DEMO, CONFIDENT]

    def arms(self, scale: Scale):
        return [arm(scale, name, CONFIDENT, sets, "algo.advantage=dr_grpo", about=f"{sets}, Dr. GRPO", horizon=HORIZON)
                for name, sets in ARMS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                row = {"kind": "seed", "arm": name, "seed": seed}
                for when in ("before", "after"):
                    cal = calibration_rows(records(run, when, depths=BAND), metric=METRIC, by=("split",))[0]
                    row |= {f"{k}_{when}": cal[k] for k in ("ece", "brier", "auroc", "accuracy", "mean_confidence",
                                                             "conf_rate")}
                row["d_ece"] = row["ece_after"] - row["ece_before"]
                rows.append(row)
                rows += problem_rows({"kind": "problem", "arm": name, "seed": seed},
                                     {"accuracy": problem_pass(records(run, "after", depths=BAND), 1, METRIC)})
        fig = plot_arms([r for r in rows if r["kind"] == "seed"], "ece_after", ev.out / "c8_ece.png",
                        "ECE after RL (lower is better calibrated)", "ECE", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        seed = {"kind": "seed"}
        head = contrast(rows, "ece_after", seed | {"arm": "conf-correct"}, seed | {"arm": "conf-brier"},
                        bounds=(0, 1))
        return verdict([
            part("binary − Brier ECE", "ECE binary − ECE Brier", head, paper=PAPER),
            part("binary reward worsens ECE", "ΔECE binary",
                 contrast(rows, "d_ece", seed | {"arm": "conf-correct"}), paper=PAPER_WORSENS),
            part("Brier keeps accuracy", "accuracy Brier − binary",
                 contrast(rows, "accuracy", {"kind": "problem", "arm": "conf-brier"},
                          {"kind": "problem", "arm": "conf-correct"}), margin=MARGIN),
        ], head)
