"""C14: RL squeezes, SFT expands (Matsutani et al., arXiv 2509.21128; more-systems.md §10)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import DEMO, GRPO_HORIZON, grpo_correct, plot_arms, sft_arm
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import halves, key, n_samples, problem_pass, problem_rows, records, seed_means
from priorlab.claims.stats import ControlSpec
from priorlab.diagnostics.trajectories import count_trajectories, multiplicities, rarefied, record_trajectories

GRPO, SFT = "grpo-correct", "sft-demos"
MODELS = {"prior": (GRPO, "before"), "grpo": (GRPO, "after"), "sft": (SFT, "after")}
CONTROL = ("the prior against itself: distinct correct trajectories in the first half of its samples minus the "
           "second half (disjoint sampling seeds, same problems): no difference exists")


def trajectory_columns(items: list, name: str) -> dict[str, dict[str, float]]:
    """``{"<name>_correct", "<name>_incorrect": {problem: distinct trajectories}}`` of one model's
    samples (``record_trajectories`` items)."""
    counts = count_trajectories(items)
    return {f"{name}_{c}": {p: float(v[c]) for p, v in counts.items()} for c in ("correct", "incorrect")}


def matched_incorrect(items: dict[str, list], a: str, b: str) -> dict[str, dict[str, float]]:
    """Distinct incorrect trajectories of models ``a`` and ``b`` at a matched number of incorrect
    samples per problem (rarefied to the smaller count; problems where either has fewer than 2
    are left out): a model that fails less has fewer incorrect samples, so its raw distinct count
    falls with its accuracy alone."""
    ma, mb = (multiplicities(items[m], correct=False) for m in (a, b))
    out = {f"{a}_incorrect_matched": {}, f"{b}_incorrect_matched": {}}
    for p in set(ma) & set(mb):
        m = min(sum(ma[p].values()), sum(mb[p].values()))
        if m >= 2:
            out[f"{a}_incorrect_matched"][p] = rarefied(ma[p].values(), m)
            out[f"{b}_incorrect_matched"][p] = rarefied(mb[p].values(), m)
    return out


@CLAIMS.register("C14")
class Squeeze(Claim):
    id = "C14"
    title = "RL squeezes, SFT expands"
    statement = ("RL compresses a model's reasoning onto fewer trajectories (the incorrect ones above all), while "
                 "SFT on diverse demonstrations expands the set of distinct correct trajectories.")
    source = {"arxiv": "2509.21128", "date": "2025-09", "authors": "Matsutani et al.",
              "title": "RL Squeezes, SFT Expands: A Comparative Study of Reasoning LLMs"}
    statistic = ("distinct correct trajectories per problem (a trajectory: the format and the exact sequence of "
                 "computed nodes with their verifier status), after SFT on diverse demonstrations minus after "
                 "GRPO, n samples per problem, held-out eval split at the RL band, per seed")
    control = CONTROL
    paper_effect = None
    horizon = Horizon(GRPO_HORIZON.steps, GRPO_HORIZON.epochs, "the shared GRPO arm's horizon (C4)")
    notes = ("Trajectories come from the verifier's parsed trace (diagnostics/trajectories.py), re-verified from "
             "each completion's text; 'correct' is the strict verified metric.",
             "Arms: the shared GRPO arm and the sft 'demos' preset (world-rendered gold solutions in the steps, code "
             "and answer formats, all four contexts, depths 2-5). Both evaluate the same problems with the same "
             "sampling seeds; the prior is GRPO's 'before'.",
             "Departure: the arithmetic world's operations form a chain, so one order of computation is valid; "
             "diversity comes from formats (steps, code) and, in incorrect completions, from skipped, repeated or "
             "miscomputed nodes. The paper's demonstrations differ in reasoning paths, clustered by text similarity.",
             "Paper effect not retrieved in these units: the abstract reports graph statistics (RL steepens the "
             "decay of visitation, degree and betweenness distributions ≈2.5×, SFT flattens them to ≈1/3), not "
             "distinct trajectory counts; without it an undetected effect is 'underpowered'.",
             "'RL squeezes incorrect' compares distinct incorrect trajectories at a matched number of incorrect "
             "samples per problem (rarefaction): raw counts fall with accuracy alone, since a model that fails less "
             "has fewer incorrect samples to differ (before 2026-12-05 the raw counts were compared).",
             "Measured at medium (docs/claims.md, 'C14 at medium'): distinct correct trajectories never exceeded 1 "
             "per problem for any model, so on the demo prior the primary equals pass@n; it speaks about "
             "solvability, not diversity, until the world allows several correct paths.")
    next_steps = ("Add the SFT → GRPO arm (the paper's two-stage recipe).",
                  "A prior that clicks on several valid orders (world.branches=2, corpus.drawn_orders): a 4M-token "
                  "continuation of the demo prior did not (docs/claims.md, 'Several valid orders').",
                  "Then compare distinct correct trajectories at a matched number of correct samples too (as the "
                  "incorrect ones are): raw counts fall with accuracy, against the less accurate model.")

    def priors(self, scale: Scale):
        return [DEMO]

    def arms(self, scale: Scale):
        return [grpo_correct(scale), sft_arm(scale, SFT, DEMO, "demos",
                                             about="SFT on world-rendered demonstrations in every format and context")]

    def measure(self, ev: Evidence):
        from priorlab.evaluate import world_for

        world, rows = world_for(ev.priors["demo"]), []
        for seed in sorted(set(ev.arms[GRPO]) & set(ev.arms[SFT])):
            recs = {m: records(ev.arms[arm][seed], when) for m, (arm, when) in MODELS.items()}
            n = n_samples(recs["prior"])
            items = {m: record_trajectories(world, r, key) for m, r in recs.items()}
            cols = {f"pass_{m}": problem_pass(r, n) for m, r in recs.items()}
            for m in MODELS:
                cols |= trajectory_columns(items[m], m)
            for h, half in zip("ab", halves(recs["prior"])):  # the prior's trajectories, not verified again
                mine = {id(r) for r in half}
                cols |= trajectory_columns([t for r, t in zip(recs["prior"], items["prior"]) if id(r) in mine],
                                           f"half_{h}")
            rows += problem_rows({"seed": seed, "n": n}, cols)
            rows += problem_rows({"seed": seed, "n": n, "kind": "matched"}, matched_incorrect(items, "grpo", "prior"))
        per_seed = [{"arm": f"{m} {c}", "value": v} for m in MODELS for c in ("correct", "incorrect")
                    for v in seed_means(rows, f"{m}_{c}").values()]
        fig = plot_arms(per_seed, "value", ev.out / "c14_trajectories.png",
                        "distinct trajectories per problem (mean over problems, per seed)", "distinct trajectories",
                        [f"{m} {c}" for c in ("correct", "incorrect") for m in MODELS])
        return rows, [fig]

    def judge(self, rows):
        n = max((r["n"] for r in rows), default=0)
        head = contrast(rows, "sft_correct", {}, {}, value_b="grpo_correct", bounds=(0, n))
        return verdict([
            part("SFT − RL, distinct correct", "distinct correct trajectories, SFT − GRPO", head),
            part("RL squeezes incorrect", "distinct incorrect trajectories at matched incorrect samples (rarefied), "
                 "GRPO − prior", contrast(rows, "grpo_incorrect_matched", {}, {}, value_b="prior_incorrect_matched"),
                 sign=-1),
            part("SFT expands correct", "distinct correct trajectories, SFT − prior",
                 contrast(rows, "sft_correct", {}, {}, value_b="prior_correct")),
            part(f"pass@{n}: SFT − RL", f"pass@{n}(SFT) − pass@{n}(GRPO)",
                 contrast(rows, "pass_sft", {}, {}, value_b="pass_grpo")),
        ], head, negative=ControlSpec(CONTROL, contrast(rows, "half_a_correct", {}, {}, value_b="half_b_correct")
                                      .estimate(), positive=False, sign=0))
