"""C3: RL collapses onto one pretraining format within the first epoch; the winner is not always
the initially most common or most accurate (Zhao et al., "Echo Chamber", arXiv 2504.07912; claims.md §2)."""

from __future__ import annotations

import json
import math

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import BAND, arm, scratch
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import format_accuracy, problem_rows, problem_share, records, shares
from priorlab.claims.stats import ControlSpec
from priorlab.diagnostics.rundir import metrics_rows, run_config
from priorlab.plots import plt, save

COLLAPSE = 0.9  # "collapsed": one format holds at least 90% of the training rollouts
FORMATS = ("steps", "code", "answer")
#: Three formats in the mix, trained from scratch once per seed (docs/pretraining.md).
THREE = scratch("three-formats", "formats steps 0.4 / code 0.3 / answer 0.3, every document right",
                "corpus.formats={steps: 0.4, code: 0.3, answer: 0.3}")
#: The most accurate format is the rarest: code (15%) always right, steps (55%) with slips.
RARE_ACCURATE = scratch("rare-accurate", "formats steps 0.55 (85% of operations right) / code 0.15 (always right) "
                        "/ answer 0.3", "corpus.formats={steps: 0.55, code: 0.15, answer: 0.3}",
                        "corpus.format_accuracy={steps: 0.85}")
ARMS = {"answer-reward-3f": THREE, "answer-reward-rare-accurate": RARE_ACCURATE}
HORIZON = Horizon(48, 3.0, "Zhao et al.: collapse within the first epoch; 3 epochs show it and what follows")
PAPER = 0.1  # a single format takes ~100% of outputs (Figs. 2-3) [2nd]: share 1.0 − 0.9


def collapse_epoch(steps_rows: list[dict], per_step: float) -> float:
    """Epochs of RL updates (prompts trained on / pool size; ``per_step``: prompts per step / pool
    size) until one format first holds >= COLLAPSE of a step's rollouts; inf if none did. The metrics
    row of step k holds the rollouts sampled *before* update k, by a policy that had seen k − 1 batches."""
    for r in steps_rows:
        if max(v for k, v in r.items() if k.startswith("share_")) >= COLLAPSE:
            return (r["step"] - 1) * per_step
    return float("inf")


def one_minus_epoch(epoch: float, observed: float) -> float | None:
    """1 − epochs to collapse. A run that never collapsed is censored at the last epoch it observed
    (``observed``): its collapse, if any, comes later, so 1 − ``observed`` is the value most favourable
    to "within the first epoch"; None (no value) when it observed less than one epoch."""
    if math.isfinite(epoch):
        return 1 - epoch
    return 1 - observed if observed >= 1 else None


def seed_row(name: str, seed: int, run, b: list[dict], a: list[dict]) -> tuple[dict, list[dict], str]:
    """The seed's summary (winner, initial mode, most accurate, collapse time), its training rows,
    and the winner; ``b``, ``a``: its band records before and after RL."""
    s0, acc0, s1 = shares(b), format_accuracy(b), shares(a)
    winner, mode, best = max(s1, key=s1.get), max(s0, key=s0.get), max(acc0, key=acc0.get)
    train = [r for r in metrics_rows(run) if r.get("kind") == "train"]
    per_step = run_config(run).rollout.prompts_per_step / json.loads((run / "summary.json").read_text())["pool_size"]
    epoch = collapse_epoch(train, per_step)
    observed = (train[-1]["step"] - 1) * per_step if train else 0.0
    return ({"kind": "seed", "arm": name, "prior": ARMS[name].name, "seed": seed, "unit": unit(name, seed),
             "winner": winner,
             "initial_mode": mode, "initial_shares": s0, "most_accurate": best, "initial_answer_acc": acc0,
             "collapse_epoch": epoch, "one_minus_epoch": one_minus_epoch(epoch, observed)}, train, winner)


def deficit(after: list[dict], fmt: str) -> dict[str, float]:
    """Per problem: the after-RL share of ``fmt``'s strongest rival (the other format with the largest
    share over the run's after-RL samples) minus ``fmt``'s own. Above 0 where RL made another format
    the winner, below where ``fmt`` won: a per-problem value with sampling noise, where "is the winner
    ``fmt``?" is one indicator per run whose interval over identical runs has zero width."""
    rivals = {f: v for f, v in shares(after).items() if f != fmt}
    own = problem_share(after, fmt)
    rival = problem_share(after, max(rivals, key=rivals.get)) if rivals else dict.fromkeys(own, 0.0)
    return {p: rival[p] - own[p] for p in own}


def unit(name: str, seed: int) -> str:
    """The unit of replication: one replica prior (composition, seed) and its RL run. The two
    compositions' runs of one seed are two units: as "seed" they shared problem keys, and one
    arm's values replaced the other's."""
    return f"{name}@s{seed}"


@CLAIMS.register("C3")
class FormatCollapse(Claim):
    id = "C3"
    title = "RL collapses onto one pretraining format"
    statement = ("Within the first epoch RL converges to one of the solution formats of the pretraining mix, "
                 "and the winning format is not always the initially most common or the most accurate one.")
    source = {"arxiv": "2504.07912", "date": "2025-04", "authors": "Zhao et al.",
              "title": "Echo Chamber: RL Post-training Amplifies Behaviors Learned in Pretraining"}
    statistic = (f"share of the winning format in the after-RL samples minus {COLLAPSE}, per replica prior "
                 "(composition × seed, both compositions pooled)")
    control = "the priors before RL: their modal format's share must not already count as collapsed"
    paper_effect = PAPER
    horizon = HORIZON
    notes = ("Departure: format shares are read from samples at temperature 1.0 (the paper: greedy pass@1, "
             "pass@64 at 0.7) and RL is GRPO at KL 0, sampling at 1.0 (the paper sweeps PPO, REINFORCE with a "
             "baseline and GRPO at KL 0, 1e-3 and 1e-2, sampling at 0.7).",
             "The reward is the answer reward (1 for a right final answer in any format, rl/rewards.py), as the "
             "paper's answer-correctness reward: every format can earn it, so the winner is selected by RL, not "
             "imposed by the reward (the strict verified reward can never pay answer-only).",
             "Both priors hold three formats (steps, code, answer-only) and are trained from scratch once per seed "
             "(RL seed s on prior seed s: the interval covers prior variance). In the rare-accurate prior the "
             "most accurate format (code, always right) is the rarest (15%), so 'the winner is not the most "
             "accurate' can be true or false: it is not decided by the design.",
             "Collapse time is read from the training rollouts' format shares (metrics.jsonl): the row of step k "
             "holds rollouts sampled before update k, so its epoch is (k − 1) × prompts per step / pool size. A "
             "run that never collapsed is censored at the last epoch it observed (the value most favourable to "
             "'within the first epoch'; none when it observed less than one); until 2026-12-05 it counted as 10 "
             "epochs, an arbitrary cap that put −9 beside values near 0.",
             f"Paper effect {PAPER}: a single format reaches ~100% of outputs [2nd: secondary summary].",
             "'Not the initial mode / the most accurate': per problem, the after-RL share of that format's "
             "strongest rival (the other format with the largest share in the run's after-RL samples) minus its "
             "own, with the two-level interval over units and problems; above 0: another format won. Until "
             "2026-12-07 each was a per-run indicator (winner ≠ format), whose interval over runs that all agree "
             "has zero width: no verdict. The mean reads 'usually', where the paper's 'not always' is "
             "existential: a part that holds says RL typically moved away from that format; one contradicted, "
             "that it typically kept it.",
             "The unit is the replica prior (composition × seed) with its RL run: the two compositions of one seed "
             "are independent priors. Before 2026-12-05 the unit was the seed, and where both compositions of a "
             "seed had run, rare-accurate's values replaced three-formats' (same problem keys): the C3 results of "
             "2026-12-02 (docs/claims.md) used 3 of their 4 runs.")
    next_steps = ("Repeat with KL 1e-3 / 1e-2: the paper says a larger KL keeps minority formats.",
                  "Vary the code share (the paper's 1x-8x repeats) to find where the winner flips.")

    def priors(self, scale: Scale):
        return [THREE, RARE_ACCURATE]

    def arms(self, scale: Scale):
        return [arm(scale, name, prior, "reward.weights={answer: 1.0}", horizon=HORIZON,
                    about="GRPO, answer reward (any format can earn it)") for name, prior in ARMS.items()]

    def measure(self, ev: Evidence):
        rows, traj = [], {}
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                before, after = records(run, "before", depths=BAND), records(run, "after", depths=BAND)
                summary, traj[(name, seed)], winner = seed_row(name, seed, run, before, after)
                rows.append(summary)
                rows += problem_rows({"kind": "problem", "arm": name, "seed": seed, "unit": unit(name, seed)}, {
                    "winner_share": problem_share(after, winner),
                    "prior_mode_share": problem_share(before, summary["initial_mode"]),
                    "mode_deficit": deficit(after, summary["initial_mode"]),
                    "best_deficit": deficit(after, summary["most_accurate"])})
        return rows, [self._plot(traj, ev.out / "c3_formats.png")]

    @staticmethod
    def _plot(traj, path):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        styles = dict(zip(FORMATS, ("-", ":", "--")))
        for (name, seed), train in sorted(traj.items()):
            for fmt, ls in styles.items():
                first = seed == min(s for n, s in traj if n == name)
                ax.plot([r["step"] - 1 for r in train], [r.get(f"share_{fmt}", 0.0) for r in train], ls,
                        color="C0" if name == "answer-reward-3f" else "C1", alpha=0.7,
                        label=f"{name}: {fmt}" if first else None)
        ax.axhline(COLLAPSE, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel("updates before the rollouts were sampled")
        ax.set_ylabel("share of training rollouts")
        ax.set_title("format shares during RL (solid steps, dotted code, dashed answer-only)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        return save(fig, path)

    def judge(self, rows):
        def per_unit(value: str, where: dict, **kw):
            return contrast(rows, value, where, unit="unit", **kw)

        share = per_unit("winner_share", {"kind": "problem"}, offset=COLLAPSE, bounds=(0, 1))
        prior = per_unit("prior_mode_share", {"kind": "problem"}, offset=COLLAPSE)
        return verdict([
            part("collapse", f"winning format's share − {COLLAPSE}", share, paper=PAPER),
            part("within the first epoch", "1 − epochs to collapse", per_unit("one_minus_epoch", {"kind": "seed"})),
            part("winner ≠ initial mode", "after-RL share of the strongest other format − the initial mode's",
                 per_unit("mode_deficit", {"kind": "problem"})),
            part("winner ≠ most accurate", "after-RL share of the strongest other format − the most accurate "
                 "format's", per_unit("best_deficit", {"kind": "problem"})),
        ], share, negative=ControlSpec(self.control, prior.estimate(), positive=False, sign=+1))
