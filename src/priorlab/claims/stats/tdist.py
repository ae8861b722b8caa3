"""Student-t quantiles (no scipy) and the plain per-seed t-interval the figures draw."""

from __future__ import annotations

import math

import numpy as np


def _t_cdf(x: float, df: int) -> float:
    """Student-t CDF by Simpson integration of the density from 0 to |x| (df >= 1)."""
    grid = np.linspace(0.0, abs(x), 2001)
    logc = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    dens = np.exp(logc - (df + 1) / 2 * np.log1p(grid ** 2 / df))
    h = grid[1] - grid[0] if len(grid) > 1 else 0.0
    area = h / 3 * (dens[0] + dens[-1] + 4 * dens[1:-1:2].sum() + 2 * dens[2:-1:2].sum())
    return 0.5 + math.copysign(area, x)


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom; |x| beyond 1000 saturates."""
    return _t_cdf(max(-1000.0, min(1000.0, x)), df)


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection, 1e-6)."""
    lo, hi = 0.0, 1000.0
    target = max(p, 1 - p)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < target else (lo, mid)
    return math.copysign((lo + hi) / 2, p - 0.5)


def seed_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed values [S] and its Student-t CI; NaNs dropped; one value -> (v, nan, nan).

    Figures only (a dot per seed and its band): verdicts use :mod:`.bootstrap`, which also
    resamples evaluation problems."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) == 1:
        return mean, float("nan"), float("nan")
    half = t_quantile(1 - (1 - level) / 2, len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return mean, mean - half, mean + half
