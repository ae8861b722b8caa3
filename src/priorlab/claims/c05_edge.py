"""C5: RL extends capability only at the edge of competence (Zhang, Neubig, Yue,
arXiv 2512.07783; claims.md §9)."""

from __future__ import annotations

from priorlab.claims.base import CLAIMS, Claim, Evidence, Horizon, Scale
from priorlab.claims.common import DEMO, SCRATCH_NOTE, arm, plot_arms, scratch
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, n_samples, problem_pass, problem_rows, records, seed_means

DEEP = (6, 7, 8)
#: Pretraining covers depths 1-5 fully and 6-7 rarely (the paper's skewed "hard" share); 8 never.
EDGE_DEPTHS = "{1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 0.3, 7: 0.1}"
EDGE_PRIOR = scratch("edge", "the demo mix plus 6% depth-6 and 2% depth-7 documents (depths 1-5 as the demo's)",
                     f"corpus.depths={EDGE_DEPTHS}")
BANDS = {"in-distribution": (3, 4), "edge": (6, 7), "too-hard": (9, 10)}
BEYOND = 8  # deeper than the edge band and than pretraining, shallower than the too-hard band
IN_BAND = "depths " + "-".join(map(str, BANDS["edge"]))
HORIZON = Horizon(300, 20.0, "Zhang et al.: RL until pass@128 saturates; many epochs of each band")
#: "up to +42% pass@128 on deeper problems" (abstract): an upper end, perhaps relative, not a typical
#: effect, so no MDE is judged against it (each part still reports its MDE).
PAPER_UP_TO = 0.42
PAPER = None


@CLAIMS.register("C5")
class EdgeOfCompetence(Claim):
    id = "C5"
    title = "RL helps at the edge of competence"
    statement = ("RL raises large-k pass@k on problems deeper than pretraining only when its data sit just past "
                 "what the prior masters (hard but not impossible); RL on in-distribution or far-too-hard "
                 "problems does not extend capability.")
    source = {"arxiv": "2512.07783", "date": "2025-12", "authors": "Zhang, Neubig, Yue",
              "title": "On the Interplay of Pre-Training, Mid-Training, and RL in Reasoning Language Models"}
    statistic = (f"gain in pass@n (verified, held-out eval problems) at the edge band's depths {BANDS['edge']} after "
                 "RL on the edge band, per seed (the paper's 'genuine gain': after minus before, large k); the "
                 f"other bands and depth {BEYOND}, beyond the band, are parts of their own")
    paper_effect = PAPER
    horizon = HORIZON
    notes = ("Bands by depth: in-distribution 3-4, edge 6-7 (rare in pretraining), too hard 9-10. The edge prior "
             "from scratch (small, 3 replicas, 16 held-out problems x 16 samples per depth): verified pass@1 0.07-0.11 "
             "at depth 6 and 0.02-0.06 at 7, pass@16 0.31-0.50 and 0.12-0.25 (docs/claims.md, session 36); the "
             "continued edge prior before it: pass@1 / pass@256 (32 problems) depth 6 0.036 / 0.59, 7 0.000 / "
             "0.062, 8 0 / 0 (docs/claims.md, C5's depth 8): 6-7 are hard but not impossible, the paper's edge.",
             "Primary (since 2026-12-06): the edge arm's own gain on held-out problems at its band's depths, as the "
             "paper measures (pass@128 on the RL band's own op levels, at or past the pretraining maximum). It was "
             f"depth {BEYOND} alone until the measurements showed that part is 0 by construction: no prior without "
             f"depth {BEYOND} in pretraining writes a {BEYOND}-step trace. Depth {BEYOND} stays its own part, never "
             "pooled with the band's depths, and 'only at the edge' is the parts edge - in-distribution and edge - "
             "too hard at the band's depths (the other arms did not train there).",
             "Paired statistic: each gain is after − before of one run on the same problems and sampling seeds.",
             "The too-hard band never pays (verified reward 0 at depths 9-10), so GRPO's advantages are 0 and its "
             "policy does not move: a built-in null arm.",
             f"Paper effect not retrieved as a typical value: only 'up to +{PAPER_UP_TO:.0%} pass@128' (abstract), an "
             "upper end (possibly relative), so an undetected effect is 'underpowered', never 'no effect "
             "detected' against it (until 2026-12-05 0.42 was the power target); pass@128 vs pass@n here.",
             SCRATCH_NOTE)
    next_steps = ("A beyond-band depth some arm can solve: no prior without depth 8 in pretraining wrote an 8-step "
                  "trace (even one solving 28 of 32 depth-7 problems), so the depth-8 part is 0 by construction; a "
                  "6% depth-8 share gave 95% 8-step traces but pass@256 on 1 of 32, and on it the edge arm fit its "
                  "240-prompt pool with no held-out gain, and with a 10x pool sharpened depth 6 and still extended "
                  "nothing (one-seed pilots, docs/claims.md, C5's depth 8).",
                  "Sweep the rare-depth share (0, 0.1%, 1%, 10%) as the paper sweeps context exposure.",
                  "Compare the process reward on the edge band (claims.md §9 finding 4).")

    def priors(self, scale: Scale):
        return [DEMO, EDGE_PRIOR]

    def arms(self, scale: Scale):
        return [arm(scale, f"band-{name}", EDGE_PRIOR, f"data.depths=[{lo},{hi}]", depths=DEEP, horizon=HORIZON,
                    about=f"GRPO on depths {lo}-{hi}") for name, (lo, hi) in BANDS.items()]

    def measure(self, ev: Evidence):
        rows = []
        for name in BANDS:
            for seed, run in sorted(ev.arms[f"band-{name}"].items()):
                before, after = records(run, "before"), records(run, "after")
                n = n_samples(before)
                for d in DEEP:
                    b = [r for r in before if r["depth"] == d]
                    a = [r for r in after if r["depth"] == d]
                    region = "beyond" if d == BEYOND else "edge band"
                    rows += problem_rows({"arm": name, "seed": seed, "n": n, "region": region}, {
                        "gain_n": change(problem_pass(b, n), problem_pass(a, n)),
                        "gain_1": change(problem_pass(b, 1), problem_pass(a, 1))})
        figs = []
        for region, where in (("edge band", IN_BAND), ("beyond", f"depth {BEYOND}")):
            per_seed = [{"arm": a, "gain_n": v} for a in BANDS
                        for v in seed_means(rows, "gain_n", arm=a, region=region).values()]
            figs.append(plot_arms(per_seed, "gain_n", ev.out / f"c5_bands_{region.split()[0]}.png",
                                  f"Δ pass@n at {where} by RL band (held out)", "Δ pass@n", list(BANDS)))
        return rows, figs

    def judge(self, rows):
        def gap(other: str, region: str = "edge band"):
            return contrast(rows, "gain_n", {"arm": "edge", "region": region}, {"arm": other, "region": region},
                            bounds=(-1, 1))

        head = contrast(rows, "gain_n", {"arm": "edge", "region": "edge band"}, bounds=(-1, 1))
        return verdict([
            part(f"edge raises pass@n, {IN_BAND}", f"Δpass@n at {IN_BAND} after RL on the edge band", head,
                 paper=PAPER),
            part(f"edge − in-distribution, {IN_BAND}", f"Δpass@n at {IN_BAND}, edge − in-distribution",
                 gap("in-distribution"), paper=PAPER),
            part(f"edge − too hard, {IN_BAND}", f"Δpass@n at {IN_BAND}, edge − too hard", gap("too-hard"),
                 paper=PAPER),
            part(f"edge − in-distribution, depth {BEYOND} (beyond the band)",
                 f"Δpass@n at depth {BEYOND}, edge − in-distribution", gap("in-distribution", "beyond"),
                 paper=PAPER),
        ], head)
