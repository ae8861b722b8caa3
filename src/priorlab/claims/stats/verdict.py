"""From estimates to verdicts: parts, multiplicity, power and the controls that gate them.

A claim is a list of :class:`PartSpec` (the first is the *primary* part) and two controls. Each
part gets its own verdict:

- ``holds`` / ``contradicted``: the interval lies on the predicted / the other side of 0 (for a
  "keeps" part, :attr:`PartSpec.margin`: above −margin / below −margin);
- otherwise no verdict: ``underpowered`` when the minimum detectable effect (MDE, 80% power at
  5% two-sided: (t_{0.975} + t_{0.8})·SE with S − 1 df) exceeds the paper's effect (or no paper
  effect is known, or there is no interval: 1 unit, or zero width), else ``no effect detected``;
  ``not run`` when no unit has an estimate at all (an optional arm that did not run).

The primary part is tested at 95%; the other parts are Holm-corrected among themselves (each is
judged from the interval at its Holm level, so the interval shown agrees with its verdict). The
headline verdict is the primary part's, unless a control fails: a negative control whose
interval excludes 0, or a positive control whose interval does not lie on the predicted side,
makes the claim (and every part) ``instrument failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from priorlab.claims.stats.bootstrap import Estimate
from priorlab.claims.stats.tdist import t_cdf

ALPHA = 0.05
FAILED = "instrument failed"
NOT_RUN = "not run"


@dataclass(frozen=True)
class PartSpec:
    """One prediction: ``estimate`` of ``statistic`` and the predicted ``sign`` (+1 / −1).

    ``margin``: a "keeps" prediction (non-inferiority, sign +1: a loss larger than ``margin``
    contradicts it). ``paper_effect``: the paper's effect in the same units (None: not known)."""

    name: str
    statistic: str
    estimate: Estimate
    sign: int = +1
    margin: float | None = None
    paper_effect: float | None = None

    def __post_init__(self):
        if self.sign not in (-1, 1):
            raise ValueError(f"part {self.name!r}: sign must be +1 or -1, got {self.sign}")
        if self.margin is not None and (self.sign != 1 or self.margin <= 0):
            raise ValueError(f"part {self.name!r}: a 'keeps' part (margin) is judged as effect > −margin, so it "
                             f"takes sign +1 and a positive margin (got sign {self.sign}, margin {self.margin}); "
                             f"for 'does not exceed', negate the statistic")


@dataclass(frozen=True)
class ControlSpec:
    """A control: a ``positive`` one must be detected on the ``sign`` side; a negative one fires
    when its interval lies on the ``sign`` side (``sign`` 0: excludes 0 on either side)."""

    description: str
    estimate: Estimate
    positive: bool
    sign: int = +1

    def result(self) -> dict:
        """``{description, effect, ci_low, ci_high, detected}`` (the verdicts.json contract)."""
        lo, hi = self.estimate.interval()
        if lo is None:
            detected = False
        elif self.positive:
            detected = self.sign * lo > 0 and self.sign * hi > 0
        else:
            detected = (lo > 0 or hi < 0) if self.sign == 0 else self.sign * lo > 0 and self.sign * hi > 0
        return {"description": self.description, "effect": self.estimate.effect, "ci_low": lo, "ci_high": hi,
                "detected": bool(detected)}


@dataclass
class Part:
    """A judged part (the ``parts`` rows of ``verdicts.json`` plus the reason, MDE and level)."""

    name: str
    statistic: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    reason: str = ""
    mde: float | None = None
    paper_effect: float | None = None
    level: float = 1 - ALPHA
    units: int = 0


def _p(spec: PartSpec) -> float:
    """Two-sided p of the part's null (0, or −margin for a "keeps" part)."""
    est = spec.estimate
    if spec.margin is None:
        return est.p_value()
    if est.effect is None or not est.se:
        return 1.0
    return 2 * (1 - t_cdf(abs(est.effect + spec.margin) / est.se, est.df))


def judge_part(spec: PartSpec, level: float = 1 - ALPHA) -> Part:
    """The verdict of one part from its interval at ``level`` (module docstring)."""
    est, f = spec.estimate, "{:+.3g}".format
    base = dict(name=spec.name, statistic=spec.statistic, effect=est.effect, mde=est.mde(),
                paper_effect=spec.paper_effect, level=level, units=est.units)
    if est.units == 0:
        return Part(ci_low=None, ci_high=None, verdict=NOT_RUN, **base,
                    reason="no unit has an estimate (no finished run of what this part reads, or no row matches "
                           "it): nothing was measured")
    if est.effect is None or est.units < 2 or est.se is None:
        return Part(ci_low=None, ci_high=None, verdict="underpowered", **base,
                    reason=f"{est.units} unit with an estimate: no interval, no verdict")
    if est.se == 0:
        return Part(ci_low=None, ci_high=None, verdict="underpowered", **base,
                    reason=f"{f(est.effect)} in every bootstrap draw: an interval of zero width gives no verdict")
    lo, hi = est.interval(level)
    ci = (f"{f(est.effect)} [{f(lo)}, {f(hi)}] ({level:.1%} CI over {est.units} units and their problems"
          f"{', paired' if est.paired else ''})")
    edge = 0.0 if spec.margin is None else -spec.margin
    s = spec.sign if spec.margin is None else +1
    if s * (lo - edge) > 0 and s * (hi - edge) > 0:
        what = "above −margin" if spec.margin is not None else "on the predicted side of 0"
        return Part(ci_low=lo, ci_high=hi, verdict="holds", reason=f"{ci}: the CI lies {what}", **base)
    if s * (lo - edge) < 0 and s * (hi - edge) < 0:
        what = f"below −{spec.margin:g} (a loss beyond the margin)" if spec.margin is not None else \
            "on the other side of 0"
        return Part(ci_low=lo, ci_high=hi, verdict="contradicted", reason=f"{ci}: the CI lies {what}", **base)
    target = spec.margin if spec.margin is not None else spec.paper_effect
    mde = est.mde()
    if target is None:
        verdict, why = "underpowered", f"MDE {mde:.3g}; the paper's effect is not known, so power cannot be shown"
    elif mde > abs(target):
        verdict, why = "underpowered", f"MDE {mde:.3g} > the paper's effect {abs(target):.3g}"
    else:
        verdict, why = "no effect detected", f"MDE {mde:.3g} ≤ the paper's effect {abs(target):.3g}"
    return Part(ci_low=lo, ci_high=hi, verdict=verdict, reason=f"{ci}: the CI includes {edge:g}; {why}", **base)


def holm_levels(specs: list[PartSpec], alpha: float = ALPHA) -> list[float]:
    """Confidence level per spec under Holm's step-down: the j-th smallest p is tested at
    α/(m − j + 1); after the first acceptance every later part keeps that level (so its
    interval cannot exclude 0 while Holm accepts it)."""
    order = sorted(range(len(specs)), key=lambda i: _p(specs[i]))
    levels, stop = [0.0] * len(specs), None
    for j, i in enumerate(order):
        a = alpha / (len(specs) - j) if stop is None else stop
        if stop is None and _p(specs[i]) > a:
            stop = a
        levels[i] = 1 - a
    return levels


@dataclass
class Verdict:
    """The claim's verdict: the primary part's, or ``instrument failed``; see :func:`judge`."""

    verdict: str
    reason: str
    parts: list[Part]
    positive_control: dict | None = None
    negative_control: dict | None = None

    @property
    def primary(self) -> Part:
        return self.parts[0]


def judge(specs: list[PartSpec], positive: ControlSpec | None, negative: ControlSpec | None) -> Verdict:
    """Judge every part (the first at 95%, the rest Holm-corrected) and gate on the controls."""
    rest = specs[1:]
    parts = [judge_part(specs[0])] + [judge_part(s, lv) for s, lv in zip(rest, holm_levels(rest))]
    pos = positive.result() if positive else None
    neg = negative.result() if negative else None
    failed = []
    if neg is not None and neg["detected"]:
        failed.append(f"the negative control fired ({neg['description']}: {_ci(neg)})")
    # a positive control without an interval gates only a primary that has one: with neither, nothing
    # was shown either way and the claim is underpowered; a measured control with an interval that
    # misses fails the instrument whatever the primary's interval (C12 at medium: a zero-width primary)
    if pos is not None and not pos["detected"] and (parts[0].ci_low is not None or pos["ci_low"] is not None):
        failed.append(f"the positive control went undetected ({pos['description']}: {_ci(pos)})")
    if failed:
        for p in parts:
            p.verdict = FAILED
    verdict = FAILED if failed else parts[0].verdict
    head = f"{FAILED}: " + "; ".join(failed) + ". " if failed else ""
    side = "; ".join(f"({p.name}) {p.verdict}: {p.reason}" for p in parts[1:])
    reason = (f"{head}(primary: {parts[0].name}) {parts[0].reason}"
              + (f". Other parts, Holm-corrected: {side}" if side else ""))
    return Verdict(verdict, reason, parts, pos, neg)


def _ci(c: dict) -> str:
    if c["effect"] is None:
        return "no estimate"
    if c["ci_low"] is None:
        return f"{c['effect']:+.3g}, no interval"
    return f"{c['effect']:+.3g} [{c['ci_low']:+.3g}, {c['ci_high']:+.3g}]"
