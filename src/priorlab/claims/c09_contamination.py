"""C9: contamination fakes spurious-reward gains, and the partial-prompt probe flags it
(Wu et al., arXiv 2507.10532; claims.md §7)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, PriorSpec, Scale, replica
from priorlab.claims.c01_spurious import PAPER as SPURIOUS_GAIN
from priorlab.claims.common import (BAND, DEMO, RANDOM_HORIZON, SCRATCH_NOTE, evaluated_items, final_sets, plot_arms,
                                    random_reward, scratch)
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, problem_pass, problem_rows, records, seed_means
from priorlab.claims.stats import ControlSpec, Estimate

FRACTION = 0.6  # the paper's headline prefix length
REPEATS = 16


def contaminated(scale: Scale) -> PriorSpec:
    """The demo mix, from scratch, with eval-contaminated items 0 .. :func:`evaluated_items` − 1 per band depth
    (question and step-by-step solution, both trained on: ``whole_document``) repeated ``REPEATS``
    times in its corpus: every item any seed is evaluated on (each seed has its own problems), so
    every seed's contaminated split is memorised."""
    n = evaluated_items(scale)
    return scratch("contaminated", f"the demo mix plus {n} eval-contaminated items "
                   f"per depth {BAND} (every seed's evaluation problems), {REPEATS} copies each, "
                   f"questions trained on as well as solutions",
                   f"corpus.contamination.n_items={n}", f"corpus.contamination.repeats={REPEATS}",
                   f"corpus.contamination.depths=[{','.join(map(str, BAND))}]",
                   "corpus.contamination.whole_document=true")


#: The probe's item sets: (split, first index) — planted items, items of the same split never
#: planted (they start after every seed's evaluated items), and clean eval items.
PROBE_SETS = {"planted": ("eval-contaminated", 0), "unplanted": ("eval-contaminated", None), "clean": ("eval", 0)}


def probe_rows(prior, scale: Scale) -> list[dict]:
    """The paper's partial-prompt probe (greedy continuation of a 60% question prefix), one row
    per item of each :data:`PROBE_SETS` set (``n_problems`` per band depth): ``exact_match`` and
    ``rouge_l`` of the continuation against the question's true remainder, ``answer_contained``."""
    from priorlab.diagnostics.contamination import METRICS, probe_contamination, world_items
    from priorlab.evaluate import contexts_for, world_for
    from priorlab.model import load_model
    from priorlab.tokenizer import load_tokenizer

    world = world_for(prior)
    contexts = contexts_for(None, prior, world)
    sets = {name: world_items(world, [split], list(BAND), scale.n_problems, contexts,
                              start=evaluated_items(scale) if start is None else start)
            for name, (split, start) in PROBE_SETS.items()}
    names = [name for name, items in sets.items() for _ in items]
    every = [it for items in sets.values() for it in items]  # one batched generation; a row per item, in order
    probed = probe_contamination(load_model(prior), load_tokenizer(prior), every, fractions=(FRACTION,))
    return [{"set": n, "split": r["split"], "id": r["id"]} | {k: r[k] for k in METRICS} for n, r in zip(names, probed)]


def probe_gap(rows: list[dict], a: str, b: str = "clean", metric: str = "rouge_l") -> Estimate:
    """``metric`` of the probe on item set ``a`` minus on ``b``, per replica of the contaminated prior
    (greedy: one probe per replica); the interval from the two-level bootstrap over the replicas (prior
    seeds) and the items (each replica probes the same items)."""
    return contrast(rows, metric, {"kind": "probe", "set": a}, {"kind": "probe", "set": b}).estimate()


@CLAIMS.register("C9")
class Contamination(Claim):
    id = "C9"
    title = "Contamination fakes spurious gains"
    statement = ("On benchmarks the prior has memorised, random rewards 'gain' while they do not on clean "
                 "problems of the same distribution; completing partial questions exposes the memorisation.")
    source = {"arxiv": "2507.10532", "date": "2025-07", "authors": "Wu et al.",
              "title": "Reasoning or Memorization? Unreliable Results of Reinforcement Learning Due to Data "
                       "Contamination"}
    statistic = ("Δ answer pass@1 under the random reward on the contaminated split minus on the clean eval split "
                 "(same prior, same run), paired by seed")
    control = ("the probe on the contaminated prior between two sets it never saw: items of the contaminated "
               "split that were not planted minus clean items")
    paper_effect = SPURIOUS_GAIN
    horizon = RANDOM_HORIZON
    notes = ("Per-problem Δ are after − before of one run (paired); the two splits of a seed are different "
             "problems, so the contrast is unpaired within the seed. The probe runs on every replica of the "
             "contaminated prior: its interval is over replicas and items.",
             f"Paper effect +{SPURIOUS_GAIN}: the random-reward gain on memorised "
             "MATH-500 (Shao et al.'s +21.4) against no steady gain on fresh RandomCalculation (Wu et al. §4.3: "
             "'random is unstable'; no number), so it is the contaminated side's size only.",
             f"Contamination: every evaluated contaminated item (of every seed: each seed has its own problems, "
             f"so n_problems × seeds items per depth are planted) appears {REPEATS}× in the corpus, question and "
             "solution both trained on (`corpus.contamination.whole_document`; every other document is trained "
             "on its solution only, and before 2026-12-05 so were these, which left the paper's probe 0 by "
             "construction); the clean split is never in it (content-hash splits).",
             "The probe is the paper's: greedy continuation of a 60% question prefix, no <sol>. Its statistic is "
             "ROUGE-L against the true remainder, planted − clean: the paper's other completion metric, because "
             "exact match sits at the floor on this prior at 60% (docs/claims.md). The paper reports ROUGE-L "
             "0.78 on MATH-500 but none on a clean set, so its effect in these units is not known; its exact "
             "match (54.6% on MATH-500, 0 on LiveMathBench) is recorded per item beside it.",
             SCRATCH_NOTE)
    next_steps = ("Vary the repeats (1, 4, 16) and check that the spurious gain scales with them.",
                  "Add the inverse reward arm (the paper's 'inverted').")

    def priors(self, scale: Scale):
        return [DEMO, contaminated(scale)]

    def arms(self, scale: Scale):
        both = final_sets(scale, BAND, ("eval", "eval-contaminated"))
        return [random_reward(scale, contaminated(scale), *both, name="random-contaminated")]

    def measure(self, ev: Evidence):
        rows = []
        for seed, run in sorted(ev.arms["random-contaminated"].items()):
            for split in ("eval", "eval-contaminated"):
                d = change(problem_pass(records(run, "before", split=split), 1, "answer"),
                           problem_pass(records(run, "after", split=split), 1, "answer"))
                rows += problem_rows({"kind": "rl", "arm": f"Δ {split}", "seed": seed, "split": split}, {"d_answer": d})
        name = contaminated(ev.scale).name
        for seed in ev.scale.seeds:  # each seed's replica of the contaminated prior (a refused one is absent)
            if (prior := ev.priors.get(replica(name, seed))) is not None:
                rows += [r | {"kind": "probe", "seed": seed, "problem": r["id"]} for r in probe_rows(prior, ev.scale)]
        per_seed = [{"arm": f"Δ {s}", "d_answer": v} for s in ("eval", "eval-contaminated")
                    for v in seed_means(rows, "d_answer", kind="rl", split=s).values()]
        fig = plot_arms(per_seed, "d_answer", ev.out / "c9_contamination.png",
                        "random reward on the contaminated prior: Δ answer pass@1", "Δ answer pass@1",
                        ["Δ eval", "Δ eval-contaminated"])
        probe = plot_arms([r for r in rows if r["kind"] == "probe"], "rouge_l", ev.out / "c9_probe.png",
                          f"probe of the contaminated prior: ROUGE-L from a {FRACTION:.0%} prefix, a dot per item "
                          "and replica",
                          "ROUGE-L", list(PROBE_SETS), key="set")
        return rows, [fig, probe]

    def judge(self, rows):
        gain = contrast(rows, "d_answer", {"kind": "rl", "split": "eval-contaminated"},
                        {"kind": "rl", "split": "eval"}, bounds=(-1, 1))
        return verdict([
            part("spurious gain on the memorised split", "Δ contaminated − Δ clean", gain, paper=SPURIOUS_GAIN),
            part("probe flags the contaminated split", f"ROUGE-L of the remainder from a {FRACTION:.0%} prefix, "
                 "planted − clean", probe_gap(rows, "planted")),
        ], gain, negative=ControlSpec(self.control, probe_gap(rows, "unplanted"), positive=False, sign=0))
