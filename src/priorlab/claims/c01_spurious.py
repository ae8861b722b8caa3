"""C1: spurious rewards help only when the prior's dominant format is the accurate one
(Shao et al., arXiv 2506.10947; claims.md §1)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.common import ANSWER_HEAVY, BAND, CODE_ACCURATE, RANDOM_HORIZON, plot_arms, random_reward
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, format_accuracy, problem_pass, problem_rows, records, seed_means, shares

ARMS = {"random-code-accurate": "code-accurate", "random-answer-heavy": "answer-heavy"}
PAPER = 0.214  # Qwen2.5-Math-7B, random reward: +21.4 MATH-500 points; Llama/OLMo: no gain (Fig. 1)


def problem_change(run, metric: str = "answer", k: int = 1) -> dict[str, float]:
    """Per-problem pass@k after − before on the band (paired: same problems, same sampling seeds)."""
    b, a = records(run, "before", depths=BAND), records(run, "after", depths=BAND)
    return change(problem_pass(b, k, metric), problem_pass(a, k, metric))


@CLAIMS.register("C1")
class SpuriousRewards(Claim):
    id = "C1"
    title = "Spurious rewards need the right prior"
    statement = ("Random rewards raise accuracy only for priors whose dominant solution format is also the accurate "
                 "one (Qwen2.5-Math's code reasoning); for other priors they do not help.")
    source = {"arxiv": "2506.10947", "date": "2025-06", "authors": "Shao et al.",
              "title": "Spurious Rewards: Rethinking Training Signals in RLVR"}
    statistic = ("Δ answer pass@1 (held-out eval at the band) under the random reward on the code-accurate prior "
                 "(dominant format code, the accurate one) minus the same on the answer-heavy prior (dominant "
                 "format answer-only, at chance), per (prior seed, RL seed)")
    paper_effect = PAPER
    horizon = RANDOM_HORIZON
    notes = ("Paired statistic: each Δ is after − before of one run on the same problems with the same sampling "
             "seeds; the two priors of one seed are paired on the problems they share.",
             "Both priors are trained from scratch once per seed (docs/pretraining.md): RL seed s runs on prior "
             "seed s, so the interval covers the variance between priors of one composition.",
             "The code-accurate prior is the paper's setting planted: Qwen2.5-Math-7B writes code 65% of the "
             "time at 61% accuracy vs 35% without; here code is 65% of the documents and always right, the "
             "step-by-step 35% get 20% of their operations wrong. It is the run-level positive case: where "
             "the paper says random rewards help.",
             f"Paper effect: +{PAPER} is Qwen2.5-Math-7B's MATH-500 gain (accuracy points / 100) against ~0 for "
             "Llama/OLMo; here answer pass@1 on held-out arithmetic, so the units match only in kind.",
             "Only the random reward is run at small scale; format-only and incorrect-label rewards are in the "
             "registry (reward.weights={format: 1.0} / {incorrect_label: 1.0}) for a full-scale sweep.",
             "Departure: the random arms run the GRPO preset's 4 mini-batches per rollout batch at a clip range of "
             "0.2, where the clip binds on 0.03-0.05% of update tokens over 200 steps (C2 at medium): the arms test a "
             "random reward whose clip barely acts, i.e. the walk, not the clipping bias the paper gives as the "
             "mechanism. C2's clip arms (16 mini-batches at 0.05, ≈ 1% clipped) measure what a clip that binds does.",
             "Controls: constructed on the measured rows (a planted shift; the two priors' values exchanged at "
             "random per problem). Until 2026-12-05 the negative control was a random-reward arm with γ = 0: every "
             "reward 0, so every advantage 0 and no update — it could not fire (every Δ exactly 0) and cost a run "
             "per seed.")
    next_steps = ("Run the random arms with C2's clip that binds (16 mini-batches, clip range 0.05) if C2 finds a "
                  "drift toward the mode under it (docs/claims.md, 'The clip that binds').",
                  "Add the format and incorrect-label rewards and a third prior whose dominant format is "
                  "accurate but rarer.", "Sweep γ ∈ {0.3, 0.5, 0.7} as the paper does.")

    def priors(self, scale: Scale):
        return [CODE_ACCURATE, ANSWER_HEAVY]

    def arms(self, scale: Scale):
        return [random_reward(scale, CODE_ACCURATE, name="random-code-accurate"),
                random_reward(scale, ANSWER_HEAVY, name="random-answer-heavy")]

    def measure(self, ev: Evidence):
        rows = []
        for name, prior in ARMS.items():
            for seed, run in sorted(ev.arms[name].items()):
                fmt_share, fmt_acc = shares(records(run, "before", depths=BAND)), format_accuracy(
                    records(run, "before", depths=BAND))
                dominant = max(fmt_share, key=fmt_share.get)
                rows.append({"kind": "seed", "arm": name, "prior": prior, "seed": seed, "dominant_format": dominant,
                             "dominant_share": fmt_share[dominant],
                             "dominant_is_most_accurate": dominant == max(fmt_acc, key=fmt_acc.get)})
                rows += problem_rows({"kind": "problem", "arm": name, "prior": prior, "seed": seed},
                                     {"d_answer": problem_change(run)})
        per_seed = [{"arm": a, "d_answer": v} for a in ARMS for v in seed_means(rows, "d_answer", arm=a).values()]
        fig = plot_arms(per_seed, "d_answer", ev.out / "c1_random.png", "random reward: Δ answer pass@1 by prior",
                        "Δ answer pass@1", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        gap = contrast(rows, "d_answer", {"arm": "random-code-accurate"}, {"arm": "random-answer-heavy"}, bounds=(-1, 1))
        return verdict([
            part("accurate-dominant minus inaccurate-dominant", "Δ answer pass@1, code-accurate − answer-heavy", gap,
                 paper=PAPER),
            part("helps the accurate-dominant prior", "Δ answer pass@1, code-accurate",
                 contrast(rows, "d_answer", {"arm": "random-code-accurate"}), paper=PAPER),
        ], gap)
