"""What a claim's ``judge`` is built from: contrasts of tidy rows, parts and control-gated verdicts.

A :class:`Measured` is the cells of a statistic (``{unit: {arm: {problem: value}}}``), the
statistic itself and the arm a constructed positive control shifts. :func:`contrast` builds the
common ones (an arm's mean, or the difference of two arms' means, per unit); :func:`verdict`
turns the parts into a :class:`~priorlab.claims.stats.Verdict`, with the constructed controls
of :mod:`priorlab.claims.stats.controls` where the claim gives no measured one.
"""

from __future__ import annotations

from dataclasses import dataclass

from priorlab.claims.stats import Cells, ControlSpec, Estimate, PartSpec, Verdict, cells, exchanged, judge, planted
from priorlab.claims.stats.bootstrap import Stat, two_level


@dataclass(frozen=True)
class Measured:
    """Cells, statistic and arms of one estimate; ``bounds``: the values' physical range;
    ``moves``: the arm the claim's effect moves, where a planted positive control shifts the
    values (C4: RL's pass@n falls below the base's, so a shift on the base, near its ceiling at
    ``small``, would test the ceiling instead of the statistic); ``coef``: d(statistic)/d(values
    of that arm), which the shift divides by."""

    data: Cells
    stat: Stat
    arms: tuple[str, ...]
    bounds: tuple[float, float] | None = None
    moves: str | None = None
    coef: float = 1.0

    def estimate(self, seed: int = 0) -> Estimate:
        return two_level(self.data, self.stat, list(self.arms), seed=seed)


def contrast(rows: list[dict], value: str, a: dict, b: dict | None = None, offset: float = 0.0,
             bounds: tuple[float, float] | None = None, unit: str = "seed", value_b: str | None = None,
             moves: str = "a") -> Measured:
    """Per unit: mean over problems of ``value`` on rows matching ``a``, minus the mean of
    ``value_b`` (default ``value``) on rows matching ``b`` (when given), minus ``offset`` (a
    threshold the claim compares with). ``moves``: the arm the claim's effect moves ("a" or "b")."""
    data = cells(rows, value, {"a": a}, unit=unit)
    if b is None:
        return Measured(data, lambda m: m["a"] - offset, ("a",), bounds)
    for u, arms in cells(rows, value_b or value, {"b": b}, unit=unit).items():
        data.setdefault(u, {}).update(arms)
    return Measured(data, lambda m: m["a"] - m["b"] - offset, ("a", "b"), bounds, moves, 1.0 if moves == "a" else -1.0)


def part(name: str, statistic: str, m: Measured | Estimate, sign: int = +1, margin: float | None = None,
         paper: float | None = None) -> PartSpec:
    """A :class:`PartSpec` from a measurement (estimated here) or a ready estimate."""
    est = m if isinstance(m, Estimate) else m.estimate()
    return PartSpec(name, statistic, est, sign, margin, paper)


def verdict(specs: list[PartSpec], primary: Measured | None, negative: ControlSpec | None = None,
            positive: ControlSpec | None = None) -> Verdict:
    """Judge ``specs`` (the first is the primary part, measured by ``primary``); a control not
    given is constructed from ``primary``: the effect planted at 2 × MDE on the arm it moves
    (positive) and the arms exchanged (negative)."""
    head = specs[0]
    mde = head.estimate.mde()
    if primary is not None and positive is None and mde:
        positive = planted(primary.data, primary.stat, list(primary.arms), primary.moves or primary.arms[0],
                           primary.coef, 2 * mde * head.sign, primary.bounds)
    if primary is not None and negative is None:
        negative = exchanged(primary.data, primary.stat, list(primary.arms))
    return judge(specs, positive, negative)
