"""C9: contamination fakes spurious-reward gains, and the partial-prompt probe flags it
(Wu et al., arXiv 2507.10532; claims.md §7)."""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import CLAIMS, Claim, Evidence, PriorSpec, Scale
from priorlab.claims.c01_spurious import PAPER as SPURIOUS_GAIN
from priorlab.claims.common import BAND, DEMO, RANDOM_HORIZON, evaluated_items, final_sets, plot_arms, random_reward
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, problem_pass, problem_rows, records, seed_means
from priorlab.claims.stats import ControlSpec, Estimate

FRACTION = 0.6  # the paper's headline prefix length
REPEATS = 16
PAPER_PROBE = 0.536  # Qwen2.5-Math-7B: answer from a 60% prefix on MATH-500 53.6% vs ~0 on fresh sets (§4.2)


def contaminated(scale: Scale) -> PriorSpec:
    """The demo prior with eval-contaminated items 0 .. :func:`evaluated_items` − 1 per band depth
    (with step-by-step solutions) repeated ``REPEATS`` times in its corpus: every item any seed is
    evaluated on (each seed has its own problems), so every seed's contaminated split is memorised."""
    n = evaluated_items(scale)
    return PriorSpec("contaminated", (f"corpus.contamination.n_items={n}",
                                      f"corpus.contamination.repeats={REPEATS}",
                                      f"corpus.contamination.depths=[{','.join(map(str, BAND))}]"),
                     f"the demo prior continued on a corpus holding {n} eval-contaminated items "
                     f"per depth {BAND} (every seed's evaluation problems), {REPEATS} copies each", base="demo")


def probe_gap_rows(prior, n: int) -> list[dict]:
    """Greedy probe of 60% question prefixes, one row per item: ``answer_contained`` in solve
    mode (prefix + ``<sol>``: does the model still produce the true answer?), plus the paper's
    continuation exact match. priorlab priors are trained with loss on solution tokens only, so
    they never learn to continue question text: the continuation metrics stay 0 even on
    memorised items, and the answer given a truncated question is the probe that can see it."""
    from priorlab.diagnostics.contamination import probe_contamination, world_items
    from priorlab.evaluate import contexts_for, world_for
    from priorlab.model import load_model
    from priorlab.tokenizer import load_tokenizer

    world = world_for(prior)
    items = world_items(world, ["eval", "eval-contaminated"], list(BAND), n, contexts_for(None, prior, world))
    model, tok = load_model(prior), load_tokenizer(prior)
    cont = probe_contamination(model, tok, items, fractions=(FRACTION,))
    solve = probe_contamination(model, tok, items, fractions=(FRACTION,), mode="solve")
    return [{"split": c["split"], "id": c["id"], "exact_match": c["exact_match"], "rouge_l": c["rouge_l"],
             "answer_contained": s["answer_contained"]} for c, s in zip(cont, solve)]


def probe_gap(rows: list[dict], prior: str) -> Estimate:
    """Answer from a 60% prefix, contaminated − clean items, on one prior (greedy: one run). The
    unit is the item: the SE is that of a difference of two independent item means."""
    em = {s: np.array([r["answer_contained"] for r in rows if r.get("prior") == prior and r["split"] == s],
                      dtype=float) for s in ("eval", "eval-contaminated")}
    if not all(len(v) > 1 for v in em.values()):
        return Estimate(None, None, 0)
    gap = float(em["eval-contaminated"].mean() - em["eval"].mean())
    se = float(np.sqrt(sum(v.var(ddof=1) / len(v) for v in em.values())))
    return Estimate(gap, se, min(len(v) for v in em.values()))


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
    control = "the partial-prompt probe on the clean demo prior: neither split was memorised, so no gap"
    paper_effect = SPURIOUS_GAIN
    horizon = RANDOM_HORIZON
    notes = ("Per-problem Δ are after − before of one run (paired); the two splits of a seed are different "
             "problems, so the contrast is unpaired within the seed. The probe's unit is the item (one greedy "
             "run of one prior).", f"Paper effect +{SPURIOUS_GAIN}: the random-reward gain on memorised "
             "MATH-500 against ~0 on fresh RandomCalculation (Wu et al. §4.3, with Shao et al.'s +21.4).",
             f"Contamination: every evaluated contaminated item (of every seed: each seed has its own problems, "
             f"so n_problems × seeds items per depth are planted) appears {REPEATS}× with its solution in the "
             "corpus; the clean split is never in it (content-hash splits).",
             "The probe reads the answer the model gives to a 60% question prefix (solve mode). The paper's "
             "continuation exact match is also recorded, but priorlab priors are trained on solution tokens "
             "only and never learn to continue questions, so it is 0 on every item.")
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
        for prior in ("contaminated", "demo"):
            rows += [r | {"kind": "probe", "prior": prior} for r in probe_gap_rows(ev.priors[prior], ev.scale.n_problems)]
        per_seed = [{"arm": f"Δ {s}", "d_answer": v} for s in ("eval", "eval-contaminated")
                    for v in seed_means(rows, "d_answer", kind="rl", split=s).values()]
        fig = plot_arms(per_seed, "d_answer", ev.out / "c9_contamination.png",
                        "random reward on the contaminated prior: Δ answer pass@1", "Δ answer pass@1",
                        ["Δ eval", "Δ eval-contaminated"])
        return rows, [fig]

    def judge(self, rows):
        gain = contrast(rows, "d_answer", {"kind": "rl", "split": "eval-contaminated"},
                        {"kind": "rl", "split": "eval"}, bounds=(-1, 1))
        return verdict([
            part("spurious gain on the memorised split", "Δ contaminated − Δ clean", gain, paper=SPURIOUS_GAIN),
            part("probe flags the contaminated split", f"answer from a {FRACTION:.0%} prefix, contaminated − clean",
                 probe_gap(rows, "contaminated"), paper=PAPER_PROBE),
        ], gain, negative=ControlSpec(self.control, probe_gap(rows, "demo"), positive=False, sign=0))
