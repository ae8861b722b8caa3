"""Constructed controls on a copy of the measured cells: they test the *statistic* at the noise
of the scale that was run, not the RL.

- :func:`planted`: the cells of ``arm`` shifted so that the claim's effect becomes ``delta``
  (twice the primary MDE: an effect that is there by construction), clipped to the values'
  physical range. Undetected means the statistic cannot register a real shift at this noise
  level (a ceiling, a floor, a saturating transform, a wiring error).
- :func:`exchanged`: within every unit, the two arms' values are swapped on a random half of
  their shared problems (one arm: each per-problem paired difference has its sign flipped with
  probability ½). The effect is then 0 by construction, with the measured variance; the
  negative control fires when the interval excludes 0 anyway.

Seeded explicitly; a claim with a real control run (base vs itself, a checkpoint vs itself, ...) uses that one.
"""

from __future__ import annotations

import numpy as np

from priorlab.claims.stats.bootstrap import Cells, Stat, two_level
from priorlab.claims.stats.verdict import ControlSpec


def _map(data: Cells, arm: str, fn) -> Cells:
    return {u: {a: ({k: fn(v) for k, v in vals.items()} if a == arm else dict(vals)) for a, vals in arms.items()}
            for u, arms in data.items()}


def planted(data: Cells, stat: Stat, arms: list[str], arm: str, coef: float, delta: float,
            bounds: tuple[float, float] | None = None, seed: int = 0) -> ControlSpec:
    """The positive control: ``arm`` (entering ``stat`` with coefficient ``coef``) shifted so the
    effect moves to ``delta``; values clipped to ``bounds``."""
    base = two_level(data, stat, arms, seed=seed).effect or 0.0
    lo, hi = bounds or (-np.inf, np.inf)
    shift = (delta - base) / coef
    est = two_level(_map(data, arm, lambda v: float(np.clip(v + shift, lo, hi))), stat, arms, seed=seed)
    return ControlSpec(f"constructed: the measured values with the effect set to {delta:+.3g} (2 × MDE) on "
                       f"'{arm}'" + (f", clipped to [{lo:g}, {hi:g}]" if bounds else "") +
                       "; tests the statistic, not the RL", est, positive=True, sign=1 if delta > 0 else -1)


def exchanged(data: Cells, stat: Stat, arms: list[str], seed: int = 0) -> ControlSpec:
    """The negative control: arm labels exchanged at random per problem (one arm: signs flipped)."""
    rng = np.random.default_rng([seed, 7])
    out: Cells = {}
    for u in sorted(data, key=str):
        cell = {a: dict(v) for a, v in data[u].items()}
        if len(arms) == 1:
            a = arms[0]
            if a in cell:
                cell[a] = {k: (v if rng.random() < 0.5 else -v) for k, v in sorted(cell[a].items(), key=str)}
        elif arms[0] in cell and arms[1] in cell:
            a, b = cell[arms[0]], cell[arms[1]]
            for k in sorted(set(a) & set(b), key=str):
                if rng.random() < 0.5:
                    a[k], b[k] = b[k], a[k]
        out[u] = cell
    what = "signs of the per-problem changes flipped at random" if len(arms) == 1 else \
        f"'{arms[0]}' and '{arms[1]}' exchanged at random per problem"
    return ControlSpec(f"constructed: the measured values with {what} (no effect by construction); tests the "
                       "statistic, not the RL", two_level(out, stat, arms, seed=seed), positive=False, sign=0)
