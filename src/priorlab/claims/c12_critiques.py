"""C12: critiques reach problems scalar rewards cannot (Critique-GRPO, Zhang et al., arXiv 2506.03106;
claims.md §10a, more-systems.md §1)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import DEMO, SCRATCH_NOTE, arm, plot_arms, scratch
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import n_samples, problem_pass, problem_rows, records, seed_means
from priorlab.claims.stats import ControlSpec
from priorlab.passk import ks_up_to
from priorlab.runs import read_jsonl

#: The demo mix, from scratch, with 10% refinement documents (question, wrong attempt, critique, correct
#: solution), which adds the critique markers to its vocabulary: a prior that can read a critique.
REFINE = scratch("refine", "the demo mix with 10% refinement documents (corpus.refine.share)",
                 "corpus.refine.share=0.1")
#: Depth 5 is the demo prior's deepest, depth 6 beyond it: where it fails whole groups.
DEPTHS = (5, 6)
GRPO = "grpo-refine"
ARMS = {GRPO: None, "critique-step": "step", "critique-none": "none", "gold-trace": "gold"}
HORIZON = Horizon(200, 10.0, "Zhang et al.: the horizon was not retrieved (claims.md §10a); C1's order")


@CLAIMS.register("C12")
class Critiques(Claim):
    id = "C12"
    title = "Critiques reach persistent failures"
    statement = ("Scalar-reward RL cannot learn problems on which the prior never succeeds; refinements guided by "
                 "natural-language critiques (Critique-GRPO) can, because a critique carries information the "
                 "prior does not hold.")
    source = {"arxiv": "2506.03106", "date": "2025-06", "authors": "Zhang, Zhang, Sun, Feng, Lu, Yang, Meng",
              "title": "Critique-GRPO: Advancing LLM Reasoning with Natural Language and Numerical Feedback"}
    statistic = ("on the prior's persistent failures (verified pass@n = 0 before RL, n = samples per problem, "
                 f"held-out eval at depths {DEPTHS}): pass@n after Critique-GRPO with the step critique minus after "
                 "GRPO, same prior, per seed")
    control = ("the 'none' critique (right/wrong only, no information a scalar reward lacks) minus GRPO: its "
               "interval must contain 0")
    horizon = HORIZON
    notes = ("Paired statistic: every arm of a seed evaluates the same problems with the same sampling seeds, and "
             "the persistent-failure set is read from that seed's 'before' evaluation (the prior's), identical "
             "across arms; the bootstrap resamples seeds and problems. Selecting on before = 0 makes every arm "
             "regress to the mean alike, so the difference of arms is unbiased.",
             "Arms: GRPO and Critique-GRPO (critique.kind step / none) differ only in the critique section "
             "(rl presets grpo and critique_grpo); all run on the refine prior, RL band = eval depths.",
             "Departures (more-systems.md §1): refinements are drawn only for groups with no verified sample (4 per "
             "such prompt, the best replacing one sample), where the paper refines every prompt (one per sample, "
             "the best kept: 7 on-policy + 1); on-policy tokens keep the clipped ratio, where the released run "
             "removes the clip; advantages are std-normalised as the released code's default.",
             "Positive control: run-level. The 'gold-trace' arm places the world's gold trace in every failed "
             "group (a label leak, not a critique, LUFFY-style) and trains it by its likelihood, -A log p "
             "(critique.loss=reinforce): its pass@n gain over GRPO on the persistent failures must be detected, "
             "else the instrument cannot see learning on those problems. Until 2026-12-06 it took the shaped loss "
             "and went undetected at medium (+0.012): the persistent failures are depth-6 problems on which the "
             "prior writes <ans> after 5 steps (log p of a 6th step ~ -13), and the shaping's gradient, ~ p/gamma "
             "there, cannot raise that token; by likelihood, seed 0 solved 16 of 35 (docs/claims.md, C12's "
             "positive control).",
             "Paper effect: the gain on persistent failures was not retrieved as a number (claims.md §10a: "
             "about 29% of training problems have pass@4 = 0; headline pass@1 gains +4.4 / +3.8 points are over "
             "all problems), so no MDE can be shown below it: without a verdict the claim is 'underpowered'.",
             "The gate (docs/rl.md, 'Critique-GRPO'): refinements must succeed more often than plain resampling "
             "on the prior's failures, or the claim tests nothing. Measured on this prior recipe (share 0.1, and "
             "0.3): they do not (0-1.6% of refinements verified vs 5% of fresh samples at depths 4-5), so a "
             "'no effect' here says the prior cannot read critiques, not that critiques carry no information; "
             "the per-seed refine_success rows show it.",
             "At medium (2026-12-06) the likelihood control was detected (+0.426 [+0.251, +0.601]) and the step "
             "critique's refinements verified in no seed: the verdict is underpowered, the mechanism untested.",
             SCRATCH_NOTE)
    next_steps = ("Find a prior that passes the gate (more refinement tokens, the small model, a context of "
                  "question + critique without the attempt), then rerun; a persistent failure here is a depth-6 "
                  "problem whose 6th step the prior never writes, which the paper's shaping cannot teach even "
                  "from a verified refinement (critique.loss=reinforce as a departure to measure).",
                  "Add the answer critique and γ ∈ {0.1, 0.5, ∞} (more-systems.md §1).")

    def priors(self, scale: Scale):
        return [DEMO, REFINE]

    def arms(self, scale: Scale):
        band = f"data.depths=[{','.join(map(str, DEPTHS))}]"
        return [arm(scale, name, REFINE, band, *(() if kind is None else (f"critique.kind={kind}",)),
                    *(("critique.loss=reinforce",) if kind == "gold" else ()),
                    preset="grpo" if kind is None else "critique_grpo", depths=DEPTHS, horizon=HORIZON,
                    about="GRPO, verified reward" if kind is None else f"Critique-GRPO, critique {kind}")
                for name, kind in ARMS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in ARMS:
            for seed, run in sorted(ev.arms[name].items()):
                before, after = records(run, "before"), records(run, "after")
                n = max(ks_up_to(n_samples(before)))
                base = problem_pass(before, n)
                failed = {p for p, v in base.items() if v == 0}
                rows += problem_rows({"kind": "problem", "arm": name, "seed": seed, "n": n}, {
                    "pass_1": {p: v for p, v in problem_pass(after, 1).items() if p in failed},
                    "pass_n": {p: v for p, v in problem_pass(after, n).items() if p in failed}})
                train = [r for r in read_jsonl(run / "metrics.jsonl") if r.get("kind") == "train"]
                success = [r["refine_success"] for r in train if r.get("refine_success") is not None]
                rows.append({"kind": "seed", "arm": name, "seed": seed, "persistent_share": len(failed) / len(base),
                             "refine_success": sum(success) / len(success) if success else None})
        per_seed = [{"arm": a, "pass_n": v} for a in ARMS
                    for v in seed_means([r for r in rows if r["kind"] == "problem"], "pass_n", arm=a).values()]
        fig = plot_arms(per_seed, "pass_n", ev.out / "c12_persistent.png",
                        "pass@n after RL on the prior's persistent failures", "pass@n", list(ARMS))
        return rows, [fig]

    def judge(self, rows):
        prob = [r for r in rows if r["kind"] == "problem"]
        n = max((r["n"] for r in prob), default=0)

        def gap(value: str, a: str, b: str = GRPO):
            return contrast(prob, value, {"arm": a}, {"arm": b}, bounds=(-1, 1))

        head = gap("pass_n", "critique-step")
        return verdict([
            part(f"pass@{n}: Critique-GRPO − GRPO", f"pass@{n} on persistent failures, critique (step) − GRPO",
                 head),
            part("pass@1: Critique-GRPO − GRPO", "pass@1 on persistent failures, critique (step) − GRPO",
                 gap("pass_1", "critique-step")),
            part(f"pass@{n}: step critique − none critique", f"pass@{n} on persistent failures, step − none",
                 gap("pass_n", "critique-step", "critique-none")),
        ], head, negative=ControlSpec(self.control, gap("pass_n", "critique-none").estimate(), positive=False, sign=0),
            positive=ControlSpec("run-level: a gold trace in every failed group (a label leak, trained by its "
                                 "likelihood) minus GRPO, pass@n on persistent failures: must be detected above 0",
                                 gap("pass_n", "gold-trace").estimate(), positive=True, sign=+1))
