"""C1: spurious rewards help only when the prior's dominant format is the accurate one
(Shao et al., arXiv 2506.10947; claims.md §1)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.common import ANSWER_HEAVY, BAND, DEMO, plot_arms, random_reward
from priorlab.claims.measure import by_seed, format_accuracy, paired, pass_k, records, shares
from priorlab.claims.stats import combine, directional

ARMS = {"random": "demo", "random-answer-heavy": "answer-heavy", "random-gamma0": "demo"}


@CLAIMS.register("C1")
class SpuriousRewards(Claim):
    id = "C1"
    title = "Spurious rewards need the right prior"
    statement = ("Random rewards raise accuracy only for priors whose dominant solution format is also the accurate "
                 "one (Qwen2.5-Math's code reasoning); for other priors they do not help.")
    source = {"arxiv": "2506.10947", "date": "2025-06", "authors": "Shao et al.",
              "title": "Spurious Rewards: Rethinking Training Signals in RLVR"}
    statistic = ("Δ answer pass@1 (held-out eval at the band) under the random reward on the demo prior (dominant "
                 "format steps, the accurate one) minus the same on the answer-heavy prior (dominant format "
                 "answer-only, at chance), paired by seed")
    control = "γ = 0 (every reward 0, so every advantage is 0): the policy must not move"
    notes = ("Only the random reward is run at small scale; format-only and incorrect-label rewards are in the "
             "registry (reward.weights={format: 1.0} / {incorrect_label: 1.0}) for a full-scale sweep.",)
    next_steps = ("Add the format and incorrect-label rewards and a third prior whose dominant format is "
                  "accurate but rarer.", "Sweep γ ∈ {0.3, 0.5, 0.7} as the paper does.")

    def priors(self, scale: Scale):
        return [DEMO, ANSWER_HEAVY]

    def arms(self, scale: Scale):
        return [random_reward(scale), random_reward(scale, ANSWER_HEAVY, name="random-answer-heavy"),
                random_reward(scale, DEMO, "reward.args={gamma: 0.0}", name="random-gamma0")]

    def measure(self, ev: Evidence):
        rows = []
        for name, prior in ARMS.items():
            for seed, run in sorted(ev.arms[name].items()):
                b, a = records(run, "before", depths=BAND), records(run, "after", depths=BAND)
                fmt_share, fmt_acc = shares(b), format_accuracy(b)
                dominant = max(fmt_share, key=fmt_share.get)
                rows.append({"arm": name, "prior": prior, "seed": seed,
                             "d_answer": pass_k(a, 1, "answer") - pass_k(b, 1, "answer"),
                             "dominant_format": dominant, "dominant_share": fmt_share[dominant],
                             "dominant_is_most_accurate": dominant == max(fmt_acc, key=fmt_acc.get)})
        fig = plot_arms(rows, "d_answer", ev.out / "c1_random.png", "random reward: Δ answer pass@1 by prior",
                        "Δ answer pass@1", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        d = {name: by_seed(rows, "d_answer", arm=name) for name in ARMS}
        return combine([
            ("accurate-dominant minus inaccurate-dominant",
             directional(paired(d["random"], d["random-answer-heavy"]), +1, "Δ demo − Δ answer-heavy")),
            ("helps the accurate-dominant prior", directional(list(d["random"].values()), +1, "Δ demo")),
        ])

    def judge_control(self, rows):
        zero = by_seed(rows, "d_answer", arm="random-gamma0")
        return directional(list(zero.values()), +1, "Δ answer pass@1 with γ = 0")
