"""C11: distillation moves the capability boundary, RLVR does not (Yue et al., arXiv 2504.13837;
claims.md §3, more-systems.md §8)."""

from __future__ import annotations

import json

from priorlab.claims.base import CLAIMS, Claim, Evidence, Scale
from priorlab.claims.c04_crossover import PAPER as RL_SHRINK
from priorlab.claims.common import DEMO, GRPO_HORIZON, VARIANT_NOTE, arm, plot_curves, sft_arm, sft_base, variant
from priorlab.claims.judging import contrast, part, verdict
from priorlab.claims.measure import change, halves, n_samples, pass_k, problem_pass, problem_rows, records
from priorlab.claims.stats import ControlSpec
from priorlab.passk import ks_up_to

DEPTHS = (4, 5, 6, 7)  # the RL band 4-5 and two depths beyond it
BEYOND = (6, 7)
#: "Outside the prior's boundary": none of the prior's selection samples (half of n) is correct — the
#: design's "depths where base pass@256 < 0.1" (more-systems.md §8) per problem. Until 2026-12-05 it was
#: pass@1 <= 10%, which keeps problems the prior solves at k = n/2 (pass@1 0.05 gives pass@32 ≈ 0.8), so a
#: gain at large k had no room there.
RARE = 0.0
#: The teacher: the demo prior continued on depths 2-7, the two beyond the demo's weighted double, at
#: 4x a variant's tokens and twice its learning rate (small: 8M tokens at 1e-3). Measured (docs/claims.md,
#: "C11's teacher and distillation, a research pass"): the earlier teacher (2M tokens on depths 2-7) solved
#: depths 6-7 at pass@16 0.12 / 0.12 and depths 4-5 no better than the prior, so distillation had nothing
#: to carry; one on depths 4-7 alone solved them (0.81-0.88 / 0.50-0.62) but forgot depths 2-3, and its
#: distilled students lost their click. seq_len 256 (the tiny scale's 128 cannot hold a depth-7 document).
TEACHER = variant("teacher-deep", "the demo prior continued on depths 2-7 (6-7 weighted double), 4x a variant's "
                  "tokens: more tokens and two depths beyond the demo's",
                  "corpus.depths={2: 1.0, 3: 1.0, 4: 1.0, 5: 1.0, 6: 2.0, 7: 2.0}", "pretrain.seq_len=256",
                  "pretrain.lr=0.001", budget=4.0)
#: Distillation, R1's way (rejection-sampled teacher completions, sft preset ``rft``) on the teacher's
#: whole range, depths 2-7 (on 4-7 alone the student lost its shallow depths: its click probe at depths
#: 2-3 fell to 0.02), at 16x the scale's SFT steps and twice its teacher prompts (small: 960 steps on 512
#: prompts x 8 samples per depth, lr 5e-4). At the scale's own 60 steps the student gained nothing on the
#: prior's unsolved problems (docs/claims.md, the research pass).
DISTILL_DEPTHS = (2, 3, 4, 5, 6, 7)
DISTILL_STEPS, DISTILL_PROMPTS, DISTILL_LR = 16, 2, 5e-4
GRPO, DISTILL, BOTH = "grpo-c11", "distill-deep", "distill-deep-grpo"
ARMS = {GRPO: "grpo", DISTILL: "distill", BOTH: "distill_grpo"}
NEGATIVE = ("the prior against itself: pass@(k/2) on one quarter of its held-out samples minus the other, on the "
            "same unsolved problems (no difference exists)")
POSITIVE = (f"run-level: '{DISTILL}' (SFT on the verified samples of the stronger '{TEACHER.name}') must raise "
            "pass@k on the problems the prior's selection half never solves: new information, the expansion the "
            "statistic has to see")


def problem_values(base: list[dict], after: dict[str, list[dict]]) -> tuple[dict[str, dict[str, float]], int]:
    """Per-problem columns of one seed from the prior's samples ``base`` and each arm's samples
    ``after[arm]`` (same problems, same sampling seeds; an arm not given has no columns); returns
    the columns and k.

    The prior's first half of samples (A) only *selects*: ``rare`` (1 when at most RARE of A is
    correct) and the prior's solvable set (problems some sample of A solves). Everything compared
    uses the second half (B, k = |B| samples), so the selection does not bias it (regression to
    the mean): ``d_<arm>`` = pass@k(arm, B) − pass@k(prior, B); ``new_<arm>`` = 1 when the arm's
    B solves a problem outside the prior's solvable set (``new_prior``: the prior's own B, the
    chance level); ``quarters`` = pass@(k/2) of B's first quarter minus its second."""
    a, b = halves(base)
    k = n_samples(b)
    solved_a, ref = problem_pass(a, n_samples(a)), problem_pass(b, k)
    q1, q2 = halves(b)
    cols = {"rare": {p: float(v <= RARE) for p, v in problem_pass(a, 1).items()},
            "quarters": change(problem_pass(q2, max(1, k // 2)), problem_pass(q1, max(1, k // 2)))}
    for col, recs in [("prior", b)] + [(c, halves(after[name])[1]) for name, c in ARMS.items() if name in after]:
        got = problem_pass(recs, k)
        cols[f"new_{col}"] = {p: float(v > 0 and solved_a.get(p) == 0) for p, v in got.items()}
        if col != "prior":
            cols[f"d_{col}"] = change(ref, got)
    return cols, k


@CLAIMS.register("C11")
class Distillation(Claim):
    id = "C11"
    title = "Distillation moves the boundary, RLVR does not"
    statement = ("Distillation from a stronger teacher raises large-k pass@k beyond the base model (new problems "
                 "enter the solvable set), while RLVR's solvable set stays inside the base model's: on the "
                 "problems the base rarely solves, distillation gains at large k and RL does not.")
    source = {"arxiv": "2504.13837", "date": "2025-04", "authors": "Yue et al.",
              "title": "Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?"}
    statistic = ("Δpass@k against the prior (k = n/2: its second half of samples; the first half selects the "
                 "problems none of them solves: outside its boundary as far as n/2 samples see), distilled minus "
                 "GRPO, per seed, held-out "
                 f"eval split at depths {DEPTHS[0]}-{DEPTHS[-1]}")
    control = f"negative: {NEGATIVE}; positive: {POSITIVE}"
    paper_effect = RL_SHRINK
    horizon = GRPO_HORIZON
    notes = ("Departure: every model is sampled at temperature 1.0, top-p 1.0 (Yue et al.: 0.6, top-p 0.95).",
             f"Teacher: '{TEACHER.name}', {TEACHER.about}, built through the store like every variant prior. The "
             "paper distils from DeepSeek-R1 (another model family, far larger); here the teacher is the student's "
             "own recipe with more data, so the new information is depths 6-7 (teacher pass@16 0.94 / 0.69 where "
             "the prior's is 0 / 0) and more tokens.",
             "Distillation is R1's: the teacher's completions the verifier accepts (sft preset 'rft', rejection "
             "sampling; R1's 800k SFT samples kept only correct responses), here on depths 2-7 (the teacher's new "
             "depths and the student's own: on 4-7 alone the student lost depths 2-3) at 16x the scale's SFT steps, "
             "completion-token NLL. Until 2026-12-06 it was every teacher sample on depths 4-5, unfiltered, 60 steps, "
             "from a 2M-token teacher: the positive control could not fire (docs/claims.md, research pass). The "
             "fourth arm runs the same GRPO on the distilled model, seed s on seed s.",
             "Departure: the distillation sees depths 6-7, GRPO only its band 4-5 (as in the paper, the two "
             "mechanisms train on different data: RL on its RL set, distillation on the teacher's outputs).",
             "Every arm evaluates the same problems with the same sampling seeds; the prior's samples are the GRPO "
             "arm's 'before' (identical in every arm on the demo prior). Half of them select, the other half is "
             "compared: k is n/2 (pass@4 tiny, pass@32 small, pass@128 medium and full), not the paper's 256.",
             "The solvable-set parts compare the share of problems an arm solves outside the prior's solvable set "
             "(the first half of its samples) with the prior's own second half: the chance level of a 'new' solve.",
             f"Paper effect {RL_SHRINK}: a lower bound, RL's pass@256 loss alone (Omni-MATH test, base − GRPO step "
             "450, Table 2); distillation lies above the base at every k (the paper's figure; its value was not "
             "retrieved), which only widens the distilled − RL gap.",
             VARIANT_NOTE)
    next_steps = ("Distil the unfiltered samples too, to separate new knowledge from style (Kim et al., arXiv "
                  "2505.14216: distillation expands only with new knowledge).",
                  "GRPO on depths 2-7 as well: the same prompts as the distillation, so only the mechanism differs.",
                  "Match student update tokens between the distillation and the GRPO arm.")

    def priors(self, scale: Scale):
        return [DEMO, TEACHER]

    def arms(self, scale: Scale):
        base = sft_base(scale, "rft")
        steps = DISTILL_STEPS * base.steps
        distill = sft_arm(scale, DISTILL, DEMO, "rft", f"data.depths=[{', '.join(map(str, DISTILL_DEPTHS))}]",
                          f"steps={steps}", f"checkpoint_every={steps}",
                          f"data.n_prompts={DISTILL_PROMPTS * base.data.n_prompts}", f"optim.lr={DISTILL_LR:g}",
                          teacher=TEACHER, depths=DEPTHS,
                          about=f"SFT of the demo prior on the verified samples of '{TEACHER.name}' at depths 2-7")
        return [arm(scale, GRPO, DEMO, depths=DEPTHS, horizon=GRPO_HORIZON, about="GRPO, verified reward"),
                distill, arm(scale, BOTH, distill, depths=DEPTHS, horizon=GRPO_HORIZON, required=False,
                             about="GRPO, verified reward, on the distilled model (only its own part reads it)")]

    def measure(self, ev: Evidence):
        rows, curves = [], {name: {} for name in ("prior", *ARMS)}
        for seed, run in sorted(ev.arms[GRPO].items()):
            if seed not in ev.arms[DISTILL]:
                continue
            base = records(run, "before")
            after = {name: records(ev.arms[name][seed], "after") for name in ARMS if seed in ev.arms.get(name, {})}
            cols, k = problem_values(base, after)
            for r in problem_rows({"kind": "problem", "seed": seed, "k": k}, cols):
                rows.append(r | {"region": "beyond" if r["depth"] in BEYOND else "band"})
            for name, recs in {"prior": base, **after}.items():
                for kk in ks_up_to(n_samples(recs)):
                    curves[name].setdefault(kk, []).append(pass_k(recs, kk))
            data = json.loads((ev.arms[DISTILL][seed] / "summary.json").read_text())
            rows.append({"kind": "teacher", "seed": seed, "teacher_verified": data.get("teacher_verified"),
                         "prior_verified_band": pass_k([r for r in base if r["depth"] < min(BEYOND)], 1)})
        fig = plot_curves({m: sorted(c.items()) for m, c in curves.items() if c}, ev.out / "c11_passk.png",
                          f"pass@k at depths {DEPTHS[0]}-{DEPTHS[-1]} (mean over seeds, 95% band)")
        return rows, [fig]

    def judge(self, rows):
        rare = {"kind": "problem", "rare": 1.0}
        every = {"kind": "problem"}

        def gap(col: str, where: dict, other: str = "d_grpo"):
            return contrast(rows, col, where, where, value_b=other, bounds=(-1, 1))

        head = gap("d_distill", rare)
        expansion = contrast(rows, "d_distill", rare).estimate()
        return verdict([
            part("distilled − RL on the prior's unsolved problems", "Δpass@k(distilled) − Δpass@k(GRPO)", head,
                 paper=RL_SHRINK),
            part("RL does not expand", "Δpass@k(GRPO), the prior's unsolved problems", contrast(rows, "d_grpo", rare),
                 sign=-1, paper=RL_SHRINK),
            part("beyond the RL band", f"Δpass@k(distilled) − Δpass@k(GRPO), depths {BEYOND[0]}-{BEYOND[-1]}",
                 gap("d_distill", every | {"region": "beyond"}), paper=RL_SHRINK),
            part("distilled ⊄ prior", "share solved outside the prior's set, distilled − chance",
                 gap("new_distill", every, "new_prior")),
            part("RL ⊆ prior", "share solved outside the prior's set, GRPO − chance",
                 gap("new_grpo", every, "new_prior"), sign=-1),
            part("distillation then RL keeps the gain", "Δpass@k(distilled → GRPO) − Δpass@k(GRPO)",
                 gap("d_distill_grpo", rare), paper=RL_SHRINK),
        ], head, negative=ControlSpec(NEGATIVE, contrast(rows, "quarters", rare).estimate(), positive=False, sign=0),
            positive=ControlSpec(POSITIVE, expansion, positive=True, sign=+1))
