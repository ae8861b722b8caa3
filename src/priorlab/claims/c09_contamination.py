"""C9: contamination fakes spurious-reward gains, and the partial-prompt probe flags it
(Wu et al., arXiv 2507.10532; claims.md §7)."""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import CLAIMS, Claim, Evidence, Judgement, PriorSpec, Scale
from priorlab.claims.common import BAND, DEMO, final_sets, plot_arms, random_reward
from priorlab.claims.measure import by_seed, pass_k, records
from priorlab.claims.stats import combine, directional
from priorlab.passk import bootstrap_ci

FRACTION = 0.6  # the paper's headline prefix length
REPEATS = 16


def contaminated(scale: Scale) -> PriorSpec:
    """The demo prior with the first ``scale.n_problems`` eval-contaminated items per band depth
    (with step-by-step solutions) repeated ``REPEATS`` times in its corpus."""
    return PriorSpec("contaminated", (f"corpus.contamination.n_items={scale.n_problems}",
                                      f"corpus.contamination.repeats={REPEATS}",
                                      f"corpus.contamination.depths=[{','.join(map(str, BAND))}]"),
                     f"the demo prior continued on a corpus holding {scale.n_problems} eval-contaminated items "
                     f"per depth {BAND}, {REPEATS} copies each", base="demo")


def probe_gap(prior, n: int) -> list[dict]:
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


def _em_gap(rows: list[dict], prior: str) -> Judgement:
    em = {s: np.array([r["answer_contained"] for r in rows if r.get("prior") == prior and r["split"] == s])
          for s in ("eval", "eval-contaminated")}
    if not all(len(v) for v in em.values()):
        return Judgement("inconclusive", None, None, None, f"no probe rows for prior {prior}", 0)
    gap = float(em["eval-contaminated"].mean() - em["eval"].mean())
    lo_c, hi_c = bootstrap_ci(em["eval-contaminated"], seed=1)
    lo, hi = bootstrap_ci(em["eval"], seed=2)
    lo, hi = lo_c - hi, hi_c - lo  # conservative: the difference of the two percentile intervals
    what = (f"answer from a {FRACTION:.0%} question prefix, contaminated − clean on {prior} = {gap:+.3f} "
            f"[{lo:+.3f}, {hi:+.3f}]")
    verdict = "holds" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
    return Judgement(verdict, gap, lo, hi, f"{what} (bootstrap over items, greedy: one run)", 1)


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
    notes = (f"Contamination: every evaluated contaminated item appears {REPEATS}× with its solution in the "
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
            d = {s: pass_k(records(run, "after", split=s), 1, "answer") -
                 pass_k(records(run, "before", split=s), 1, "answer") for s in ("eval", "eval-contaminated")}
            rows += [{"kind": "rl", "arm": f"Δ {s}", "seed": seed, "split": s, "d_answer": v} for s, v in d.items()]
            rows.append({"kind": "rl", "arm": "contaminated − clean", "seed": seed, "split": "gap",
                         "d_answer": d["eval-contaminated"] - d["eval"]})
        for prior in ("contaminated", "demo"):
            rows += [r | {"kind": "probe", "prior": prior} for r in probe_gap(ev.priors[prior], ev.scale.n_problems)]
        fig = plot_arms([r for r in rows if r["kind"] == "rl"], "d_answer", ev.out / "c9_contamination.png",
                        "random reward on the contaminated prior: Δ answer pass@1", "Δ answer pass@1",
                        ["Δ eval", "Δ eval-contaminated", "contaminated − clean"])
        return rows, [fig]

    def judge(self, rows):
        gap = by_seed([r for r in rows if r["kind"] == "rl"], "d_answer", split="gap")
        return combine([("spurious gain on the memorised split", directional(list(gap.values()), +1,
                                                                            "Δ contaminated − Δ clean")),
                        ("probe flags the contaminated split", _em_gap(rows, "contaminated"))])

    def judge_control(self, rows):
        return _em_gap(rows, "demo")
