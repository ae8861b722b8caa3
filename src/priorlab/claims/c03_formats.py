"""C3: RL collapses onto one pretraining format within the first epoch; the winner is not always
the initially most common or most accurate (Zhao et al., "Echo Chamber", arXiv 2504.07912; claims.md §2)."""

from __future__ import annotations

import json

from priorlab.claims.base import CLAIMS, Claim, Evidence, Judgement, Scale
from priorlab.claims.common import ANSWER_HEAVY, BAND, DEMO, grpo_correct
from priorlab.claims.measure import format_accuracy, records, shares
from priorlab.claims.stats import combine, directional
from priorlab.diagnostics.rundir import metrics_rows, run_config
from priorlab.plots import plt, save

COLLAPSE = 0.9  # "collapsed": one format holds at least 90% of the training rollouts
ARMS = {"grpo-correct": "demo", "grpo-correct-answer-heavy": "answer-heavy"}


def _collapse_epoch(run, steps_rows) -> float:
    """Epochs (RL prompts seen / pool size) until one format first holds >= COLLAPSE of a step's rollouts."""
    pool = json.loads((run / "summary.json").read_text())["pool_size"]
    prompts = run_config(run).rollout.prompts_per_step
    for r in steps_rows:
        if max(v for k, v in r.items() if k.startswith("share_")) >= COLLAPSE:
            return r["step"] * prompts / pool
    return float("inf")


def _observed(rows, key: str, what: str) -> Judgement:
    """An existence claim ("not always"): holds when some prior shows it in at least 2 seeds."""
    by_prior: dict[str, int] = {}
    for r in rows:
        by_prior[r["prior"]] = by_prior.get(r["prior"], 0) + bool(r[key])
    hit = [p for p, n in by_prior.items() if n >= 2]
    if hit:
        return Judgement("holds", None, None, None, f"{what} on prior(s) {', '.join(hit)} (≥ 2 seeds)", len(rows))
    return Judgement("inconclusive", None, None, None, f"{what}: not observed on {', '.join(by_prior)}", len(rows))


@CLAIMS.register("C3")
class FormatCollapse(Claim):
    id = "C3"
    title = "RL collapses onto one pretraining format"
    statement = ("Within the first epoch RL converges to one of the solution formats of the pretraining mix, "
                 "and the winning format is not always the initially most common or the most accurate one.")
    source = {"arxiv": "2504.07912", "date": "2025-04", "authors": "Zhao et al.",
              "title": "Echo Chamber: RL Post-training Amplifies Behaviors Learned in Pretraining"}
    statistic = f"share of the winning format in the after-RL samples minus {COLLAPSE}, per prior × seed"
    notes = ("Rewards are the strict verified reward, which the answer-only format cannot earn; the paper's "
             "answer-correctness reward could, but here answer-only is at chance accuracy (docs/demo.md), so "
             "both rewards favour the step-by-step format.",
             "Collapse time is read from the training rollouts' format shares (metrics.jsonl), in epochs of "
             "the RL pool.")
    next_steps = ("Add the code format and a prior where the accurate format is the rare one (the paper's 28% "
                  "winner).", "Repeat with KL 1e-3 / 1e-2: the paper says a larger KL keeps minority formats.")

    def priors(self, scale: Scale):
        return [DEMO, ANSWER_HEAVY]

    def arms(self, scale: Scale):
        return [grpo_correct(scale), grpo_correct(scale, ANSWER_HEAVY, "grpo-correct-answer-heavy")]

    def measure(self, ev: Evidence):
        rows, traj = [], {}
        for name, prior in ARMS.items():
            for seed, run in sorted(ev.arms[name].items()):
                b, a = records(run, "before", depths=BAND), records(run, "after", depths=BAND)
                s0, acc0, s1 = shares(b), format_accuracy(b), shares(a)
                winner = max(s1, key=s1.get)
                train = [r for r in metrics_rows(run) if r.get("kind") == "train"]
                traj[(name, seed)] = train
                rows.append({"arm": name, "prior": prior, "seed": seed, "winner": winner, "winner_share": s1[winner],
                             "initial_mode": max(s0, key=s0.get), "initial_shares": s0,
                             "most_accurate": max(acc0, key=acc0.get), "initial_answer_acc": acc0,
                             "collapse_epoch": _collapse_epoch(run, train),
                             "not_initial_mode": winner != max(s0, key=s0.get),
                             "not_most_accurate": winner != max(acc0, key=acc0.get)})
        return rows, [self._plot(traj, ev.out / "c3_formats.png")]

    @staticmethod
    def _plot(traj, path):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, ((name, seed), train) in enumerate(sorted(traj.items())):
            for fmt, ls in (("steps", "-"), ("answer", "--")):
                ax.plot([r["step"] for r in train], [r.get(f"share_{fmt}", 0.0) for r in train], ls,
                        color="C0" if name == "grpo-correct" else "C1", alpha=0.7,
                        label=f"{name}: {fmt}" if seed == min(s for n, s in traj if n == name) else None)
        ax.axhline(COLLAPSE, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel("RL step")
        ax.set_ylabel("share of training rollouts")
        ax.set_title("format shares during RL (solid: steps, dashed: answer-only; one line per seed)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        return save(fig, path)

    def judge(self, rows):
        return combine([
            ("collapse", directional([r["winner_share"] - COLLAPSE for r in rows], +1,
                                     f"winning format's share − {COLLAPSE}")),
            ("within the first epoch", directional([1 - min(r["collapse_epoch"], 10.0) for r in rows], +1,
                                                   "1 − epochs to collapse")),
            ("winner ≠ initial mode", _observed(rows, "not_initial_mode", "the winner is not the initial mode")),
            ("winner ≠ most accurate", _observed(rows, "not_most_accurate", "the winner is not the most accurate")),
        ])
