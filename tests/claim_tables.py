"""Constructed tidy tables for every claim: ``table(cid, effect, seed)`` has the claim's schema,
realistic variance (a random effect per seed and arm, a problem effect shared by the arms and
seeds that evaluate the problem, per-problem noise) and ``effect`` planted on the primary
contrast in its predicted direction (0: the null)."""

from __future__ import annotations

import numpy as np

SEEDS, PROBLEMS = 3, 32
SEED_SD, PROBLEM_SD, NOISE_SD = 0.03, 0.08, 0.12


class Gen:
    def __init__(self, seed: int, shared: bool = True):
        self.rng = np.random.default_rng(seed)
        self.prob = self.rng.normal(0, PROBLEM_SD, (SEEDS, PROBLEMS))
        if shared:  # every seed evaluates the same problems
            self.prob[:] = self.prob[0]
        self.shared = shared

    def key(self, s: int, p: int, depth: int = 4, split: str = "eval") -> str:
        return f"{split}/c/{depth}/{p if self.shared else 1000 * s + p}"

    def problems(self, base: dict, value: str, mean: float, s: int, lo=-1.0, hi=1.0, **kw) -> list[dict]:
        u = self.rng.normal(0, SEED_SD)
        vals = np.clip(mean + u + self.prob[s] + self.rng.normal(0, NOISE_SD, PROBLEMS), lo, hi)
        return [base | {"seed": s, "problem": self.key(s, p, **kw), value: float(v)} for p, v in enumerate(vals)]

    def scalar(self, mean: float, sd: float = SEED_SD) -> float:
        return float(mean + self.rng.normal(0, sd))


def _arms(g: Gen, arms: dict[str, float], value: str, extra: dict | None = None, **kw) -> list[dict]:
    return [r for a, m in arms.items() for s in range(SEEDS)
            for r in g.problems({"arm": a} | (extra or {}), value, m, s, **kw)]


def c1(g, e):
    return _arms(g, {"random-code-accurate": e, "random-answer-heavy": 0.0}, "d_answer", {"kind": "problem"})


def c2(g, e, verified: float = 0.25):
    """``verified``: the Δ planted in the positive-control arm (the verified reward, 1 update per batch)."""
    arms = ("random", "random-noclip", "random-1-update", "random-rloo", "verified-1-update")
    rows = _arms(g, {a: (-0.05, -0.05, -0.05, -0.05, verified)[i] for i, a in enumerate(arms)}, "d_answer")
    drift = _arms(g, {a: e if a == "random" else 0.0 for a in arms}, "d_mode")  # toward the majority format
    return [r | {"d_mode": d["d_mode"]} for r, d in zip(rows, drift)]


def c3(g, e):
    rows = []
    for a in ("answer-reward-3f", "answer-reward-rare-accurate"):
        for s in range(SEEDS):
            share = g.problems({"kind": "problem", "arm": a, "unit": f"{a}@s{s}"}, "winner_share", 0.9 + e, s, 0.0, 1.0)
            others = {v: g.problems({}, v, m, s, lo) for v, m, lo in (("prior_mode_share", 0.6, 0.0),
                                                                     ("mode_deficit", 0.0, -1.0), ("best_deficit", 0.0, -1.0))}
            rows += [r | {v: col[i][v] for v, col in others.items()} for i, r in enumerate(share)]
            rows.append({"kind": "seed", "arm": a, "seed": s, "unit": f"{a}@s{s}", "one_minus_epoch": g.scalar(0.0, 0.3)})
    return rows


def c4(g, e):
    rows = []
    for s in range(SEEDS):
        cols = {name: g.problems({}, name, m, s, 0.0, 1.0) for name, m in
                (("base_n", 0.8 + e), ("rl_n", 0.8), ("base_1", 0.3), ("rl_1", 0.3), ("half_a", 0.7), ("half_b", 0.7))}
        rows += [{"seed": s, "n": 64, "problem": r["problem"]} | {c: cols[c][i][c] for c in cols}
                 for i, r in enumerate(cols["base_n"])]
    return rows


def c5(g, e):
    rows = []
    for region, depth, planted in (("beyond", 8, 0.0), ("edge band", 6, e)):
        rows += _arms(g, {"edge": planted, "in-distribution": 0.0, "too-hard": 0.0}, "gain_n",
                      {"region": region, "n": 64}, depth=depth)
    return rows


def c6(g, e):
    rows = _arms(g, {"nsr": e, "psr": 0.0, "w-reinforce": 0.0, "grpo-correct": 0.0}, "gain_n", {"n": 64})
    for r, x, y in zip(rows, _arms(g, {a: 0.0 for a in ("nsr", "psr", "w-reinforce", "grpo-correct")}, "gain_1"),
                       _arms(g, {a: 0.6 for a in ("nsr", "psr", "w-reinforce", "grpo-correct")}, "area_after")):
        r |= {"gain_1": x["gain_1"], "area_after": y["area_after"]}
    return rows


def c7(g, e, frozen: float = 0.5, loud: float = 0.003):
    """``frozen``: the unchanged share planted in the masked (positive-control) arm's rows; ``loud``: the
    bf16 − fp32 gap of the large-learning-rate (negative-control) arm's rows."""
    rows = [{"kind": "update", "arm": "grpo-correct", "seed": s, "bf16_minus_fp32": g.scalar(e, 0.01),
             "unchanged_fp32": g.scalar(0.05, 0.01), "rank_ratio": g.scalar(0.9, 0.01)} for s in range(SEEDS)]
    rows += [{"kind": "update", "arm": "grpo-correct-lr100", "seed": s,
              "bf16_minus_fp32": loud + abs(g.scalar(0.0, 0.001))} for s in range(SEEDS)]
    rows += [{"kind": "update", "arm": "grpo-correct-masked", "seed": s,
              "unchanged_fp32": frozen + (1 - frozen) * abs(g.scalar(0.03, 0.01))} for s in range(SEEDS)]
    u = g.rng.normal(0, 0.02, SEEDS)
    return rows + [{"kind": "overlap", "dtype": "bf16", "seeds": [a, b], "o1_minus_random": float(u[a] + u[b] + g.scalar(0.0, 0.01))}
                   for a in range(SEEDS) for b in range(a + 1, SEEDS)]


def c8(g, e):
    rows = [{"kind": "seed", "arm": a, "seed": s, "ece_after": g.scalar(0.25 + (e if a == "conf-correct" else 0)),
             "d_ece": g.scalar(0.0)} for a in ("conf-correct", "conf-brier") for s in range(SEEDS)]
    return rows + _arms(g, {"conf-correct": 0.5, "conf-brier": 0.5}, "accuracy", {"kind": "problem"}, lo=0.0)


def c9(g, e):
    rows = []
    for split, m in (("eval-contaminated", e), ("eval", 0.0)):
        rows += [r | {"split": split} for s in range(SEEDS) for r in
                 g.problems({"kind": "rl", "arm": f"Δ {split}"}, "d_answer", m, s, split=split)]
    return rows + [{"kind": "probe", "set": st, "seed": s, "problem": f"{st}/{i}",  # each replica probes the same items
                    "rouge_l": float(g.rng.uniform(0.3, 0.6) + (0.2 if st == "planted" else 0))}
                   for s in range(SEEDS) for st in ("planted", "unplanted", "clean") for i in range(PROBLEMS)]


def c10(g, e, medium: float = 0.0):
    """``medium``: the medium arm's Δeasy (default 0); the hard arm's is ``e`` below it."""
    rows = _arms(g, {"hard": medium - e, "medium": medium}, "d_easy", {"kind": "problem"})
    return rows + [{"kind": "seed", "arm": a, "seed": s, "d_skip": g.scalar(0.0), "d_repeat": g.scalar(0.0)}
                   for a in ("hard", "medium") for s in range(SEEDS)]


def c11(g, e, expansion: float | None = None):
    """``expansion``: the distilled arm's Δpass@k (default ``e``); RL's is ``e`` below it (the planted effect)."""
    d = e if expansion is None else expansion
    rows = []
    for s in range(SEEDS):
        cols = {name: g.problems({}, name, m, s, lo, 1.0) for name, m, lo in (
            ("d_grpo", d - e, -1.0), ("d_distill", d, -1.0), ("d_distill_grpo", d, -1.0), ("quarters", 0.0, -1.0),
            ("new_prior", 0.1, 0.0), ("new_grpo", 0.1, 0.0), ("new_distill", 0.1 + e, 0.0))}
        rows += [{"kind": "problem", "seed": s, "k": 32, "problem": r["problem"], "rare": float(i % 2 == 0),
                  "region": "beyond" if i % 4 < 2 else "band"} | {c: cols[c][i][c] for c in cols}
                 for i, r in enumerate(cols["d_grpo"])]
        rows.append({"kind": "teacher", "seed": s, "teacher_verified": 0.5, "prior_verified_band": 0.3})
    return rows


def c14(g, e):
    rows = []
    for s in range(SEEDS):
        cols = {name: g.problems({}, name, m, s, 0.0, 64.0) for name, m in (
            ("sft_correct", 2.0 + e), ("grpo_correct", 2.0), ("prior_correct", 2.0), ("prior_incorrect", 6.0),
            ("grpo_incorrect", 6.0), ("sft_incorrect", 6.0), ("half_a_correct", 1.5), ("half_b_correct", 1.5),
            ("grpo_incorrect_matched", 4.0), ("prior_incorrect_matched", 4.0))}
        cols |= {name: g.problems({}, name, 0.6, s, 0.0, 1.0) for name in ("pass_prior", "pass_grpo", "pass_sft")}
        rows += [{"seed": s, "n": 64, "problem": r["problem"]} | {c: cols[c][i][c] for c in cols}
                 for i, r in enumerate(cols["sft_correct"])]
    return rows


def c12(g, e, gold: float = 0.3):
    """``gold``: the pass@n gain over GRPO planted in the gold-trace (positive-control) arm's rows."""
    rows = []
    for value, m in (("pass_n", 0.3), ("pass_1", 0.1)):
        arms = _arms(g, {"grpo-refine": m, "critique-step": m + e, "critique-none": m, "gold-trace": m + gold},
                     value, {"kind": "problem", "n": 64}, lo=0.0, hi=1.0)
        rows = arms if not rows else [r | {value: a[value]} for r, a in zip(rows, arms)]
    return rows + [{"kind": "seed", "arm": "critique-step", "seed": s, "persistent_share": 0.2, "refine_success": 0.5}
                   for s in range(SEEDS)]


TABLES = {f"C{i}": f for i, f in enumerate((c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11), start=1)} | {
    "C12": c12, "C14": c14}


def table(cid: str, effect: float, seed: int, shared: bool = True) -> list[dict]:
    """The constructed table of claim ``cid`` with ``effect`` planted on its primary contrast."""
    return TABLES[cid](Gen(seed, shared), effect)


def c13(g, e):
    rows = []
    for s in range(SEEDS):
        for region, depth, planted, ceiling in (("edge", 6, e, 0.4), ("band", 4, 0.0, 0.85)):
            cols = {name: g.problems({}, name, m, s, 0.0, 1.0, depth=depth) for name, m in
                    (("rlp_n", ceiling + planted), ("cpt_n", ceiling), ("tok_n", ceiling), ("rlp_1", 0.3),
                     ("cpt_1", 0.3), ("tok_1", 0.3), ("rlp_prior_1", 0.2), ("cpt_prior_1", 0.2),
                     ("tok_prior_1", 0.2), ("half_a", ceiling), ("half_b", ceiling))}
            rows += [{"seed": s, "n": 64, "region": region, "problem": r["problem"]} | {c: cols[c][i][c] for c in cols}
                     for i, r in enumerate(cols["rlp_n"])]
    return rows


TABLES["C13"] = c13
