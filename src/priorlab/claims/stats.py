"""Effects over seeds and the verdict rule every claim shares.

An RL claim's unit of replication is the seed: each seed gives one effect (e.g. the gain in
pass@1 of arm A minus that of arm B, both measured on the same problems with the same
sampling seeds), and the claim's effect is their mean with a Student-t 95% interval over seeds
(n − 1 degrees of freedom; with 3 seeds t = 4.30, so a claim needs a large, consistent effect
to be called either way — that is the honest price of 3 seeds).
"""

from __future__ import annotations

import math

import numpy as np

from priorlab.claims.base import Judgement


def _t_cdf(x: float, df: int) -> float:
    """Student-t CDF by Simpson integration of the density from 0 to |x| (df >= 1)."""
    grid = np.linspace(0.0, abs(x), 2001)
    logc = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    dens = np.exp(logc - (df + 1) / 2 * np.log1p(grid ** 2 / df))
    h = grid[1] - grid[0] if len(grid) > 1 else 0.0
    area = h / 3 * (dens[0] + dens[-1] + 4 * dens[1:-1:2].sum() + 2 * dens[2:-1:2].sum())
    return 0.5 + math.copysign(area, x)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection, 1e-6)."""
    lo, hi = 0.0, 1000.0
    target = max(p, 1 - p)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < target else (lo, mid)
    return math.copysign((lo + hi) / 2, p - 0.5)


def seed_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed effects [S] and its Student-t CI; NaNs dropped; one value -> (v, nan, nan)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) == 1:
        return mean, float("nan"), float("nan")
    half = t_quantile(1 - (1 - level) / 2, len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return mean, mean - half, mean + half


def directional(values, sign: int, what: str, fmt: str = "{:+.3f}") -> Judgement:
    """Verdict for a claim that predicts the sign of an effect.

    ``holds`` when the 95% CI over seeds lies on the predicted side of 0, ``contradicted``
    when it lies on the other side, else ``inconclusive`` (also with fewer than 2 seeds).
    """
    mean, lo, hi = seed_ci(values)
    n = sum(1 for x in values if x is not None and math.isfinite(x))
    if n < 2 or math.isnan(lo):
        return Judgement("inconclusive", _num(mean), None, None, f"{what}: {n} seed(s), no interval", n)
    ci = f"{what} = {fmt.format(mean)} [{fmt.format(lo)}, {fmt.format(hi)}] over {n} seeds"
    if lo == hi:
        ci += " (identical in every seed, so the interval has no width; uncertainty over problems is not in it)"
    if min(sign * lo, sign * hi) > 0 or max(sign * lo, sign * hi) < 0:
        side = "holds" if min(sign * lo, sign * hi) > 0 else "contradicted"
        pred = "positive" if sign > 0 else "negative"
        why = "as predicted" if side == "holds" else "opposite to the prediction"
        return Judgement(side, mean, lo, hi, f"{ci}: the CI excludes 0, {why} ({pred} effect predicted)", n)
    return Judgement("inconclusive", mean, lo, hi, f"{ci}: the CI includes 0", n)


def combine(parts: list[tuple[str, Judgement]]) -> Judgement:
    """A claim of several predictions: the first part carries the effect; the verdict is
    ``contradicted`` if any part is, ``holds`` if every part does, else ``inconclusive``."""
    verdicts = [j.verdict for _, j in parts]
    verdict = ("contradicted" if "contradicted" in verdicts else
               "holds" if all(v == "holds" for v in verdicts) else "inconclusive")
    head = parts[0][1]
    reason = "; ".join(f"({name}) {j.verdict}: {j.reason}" for name, j in parts)
    return Judgement(verdict, head.effect, head.ci_low, head.ci_high, reason, head.seeds)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def non_inferior(values, margin: float, what: str, fmt: str = "{:+.3f}") -> Judgement:
    """Verdict for "keeps or raises": ``holds`` when the CI's lower end is above −``margin``,
    ``contradicted`` when its upper end is below 0, else ``inconclusive``."""
    j = directional(values, +1, what, fmt)
    if j.ci_low is None:
        return j
    ci = j.reason.split(":")[0]
    if j.ci_high < 0:
        return Judgement("contradicted", j.effect, j.ci_low, j.ci_high, f"{ci}: the CI lies below 0 (a loss)", j.seeds)
    if j.ci_low > -margin:
        return Judgement("holds", j.effect, j.ci_low, j.ci_high,
                         f"{ci}: the CI excludes a loss larger than {margin:g}", j.seeds)
    return Judgement("inconclusive", j.effect, j.ci_low, j.ci_high,
                     f"{ci}: the CI allows a loss larger than {margin:g}", j.seeds)
