"""C2: the random-reward effect needs clipping with several updates per batch
(Shao et al., arXiv 2506.10947, App. B and Fig. 11; claims.md §1)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.common import BAND, DEMO, plot_arms, random_reward
from priorlab.claims.measure import by_seed, paired, records, share, pass_k
from priorlab.claims.stats import combine, directional

ARMS = ("random", "random-1-update", "random-rloo")


@CLAIMS.register("C2")
class Clipping(Claim):
    id = "C2"
    title = "Random rewards act through clipping"
    statement = ("With i.i.d. random rewards the expected policy gradient is zero; the change random rewards make "
                 "comes from the clipping bias, so it disappears with one optimizer step per rollout batch "
                 "(ratio ≡ 1) or without a ratio (REINFORCE/RLOO).")
    source = {"arxiv": "2506.10947", "date": "2025-06", "authors": "Shao et al.",
              "title": "Spurious Rewards: Rethinking Training Signals in RLVR"}
    statistic = ("|Δ answer pass@1| (held-out eval at the band) under the random reward with clipping and 4 "
                 "optimizer steps per batch, minus the same with 1 step per batch, paired by seed")
    notes = ("The magnitude is compared because the clipping bias moves the policy toward already-likely tokens, "
             "which may raise or lower accuracy depending on the prior (claim C1).",
             "Random rewards are Bernoulli(0.5) per completion, seeded by (seed, step).")
    next_steps = ("Add a positive control: the verified reward with 1 update per batch must still learn.",
                  "Log the clip fractions per step (metrics.jsonl clip_low/clip_high) against the drift.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [random_reward(scale),
                random_reward(scale, DEMO, "algo.mini_batches=1", name="random-1-update"),
                random_reward(scale, DEMO, "algo.mini_batches=1", "algo.advantage=rloo", "algo.loss=reinforce",
                              name="random-rloo")]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                b, a = records(run, "before", depths=BAND), records(run, "after", depths=BAND)
                d_acc = pass_k(a, 1, "answer") - pass_k(b, 1, "answer")
                rows.append({"arm": name, "seed": seed, "d_answer": d_acc, "abs_d_answer": abs(d_acc),
                             "d_share_steps": share(a, "steps") - share(b, "steps")})
        fig = plot_arms(rows, "d_answer", ev.out / "c2_random.png",
                        "random reward: Δ answer pass@1 by optimizer setting", "Δ answer pass@1", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        abs_d = {name: by_seed(rows, "abs_d_answer", arm=name) for name in ARMS}
        return combine([
            ("clip vs 1 update", directional(paired(abs_d["random"], abs_d["random-1-update"]), +1,
                                             "|Δ| clipped − |Δ| one update")),
            ("clip vs RLOO", directional(paired(abs_d["random"], abs_d["random-rloo"]), +1,
                                         "|Δ| clipped − |Δ| RLOO")),
        ])
