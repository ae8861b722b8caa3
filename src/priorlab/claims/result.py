"""One re-tested claim: what was claimed, what was run, what was measured, and the verdict.

:class:`ClaimResult` is the contract between ``priorlab retest`` (which fills it) and the report
(:mod:`priorlab.report`, which renders it). It is stored as ``DIR/claims/<id>/result.json`` so a
report can be rebuilt without rerunning anything (``priorlab report DIR``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from priorlab.claims.validate import check_result
from priorlab.errors import InputDataError
from priorlab.registry import did_you_mean

#: holds / contradicted: the primary part's interval excludes 0 on the predicted / other side;
#: no effect detected / underpowered: it does not, and the MDE is below / above the paper's
#: effect (or there is no interval); instrument failed: a control failed (docs/claims.md);
#: not run: the claim's runs did not finish (another process holds them, or they failed): no verdict.
VERDICTS = ("holds", "contradicted", "no effect detected", "underpowered", "instrument failed", "not run")
VERDICT_KEYS = ("id", "verdict", "statistic", "effect", "ci_low", "ci_high", "seeds", "source", "parts",
                "positive_control", "negative_control", "mde", "paper_effect")
PART_KEYS = ("name", "statistic", "effect", "ci_low", "ci_high", "verdict")
CONTROL_KEYS = ("description", "effect", "ci_low", "ci_high", "detected")


@dataclass
class ClaimResult:
    """A claim's re-test. ``effect`` and its 95% CI (``ci_low``, ``ci_high``) are in the units of
    ``statistic``; ``None`` when the run could not estimate them.

    ``source``: ``{"arxiv", "date", "authors", "title"}``. ``runs``: what was run, one dict per run
    ``{"name", "kind" ("prior" | "rl" | "diagnostic"), "path", "summary", "reused", "wall_s"}``.
    ``figures``: PNG paths, absolute or relative to the output directory. ``table``: the tidy
    measurements behind the statistic (flat keys; one row per unit x arm x problem).
    ``parts``: one dict per prediction, the primary first: :data:`PART_KEYS` plus ``reason``,
    ``mde``, ``paper_effect``, ``level`` (Holm) and ``units``. ``positive_control`` /
    ``negative_control``: :data:`CONTROL_KEYS` (``detected`` a bool) or ``None`` (the reason in
    ``notes``). ``mde``: the primary part's minimum detectable effect; ``paper_effect``: the
    paper's, in the same units (``None``: not retrieved).
    """

    id: str
    title: str
    statement: str
    source: dict
    statistic: str
    verdict: str
    reason: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    seeds: int
    scale: str
    runs: list[dict] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)
    positive_control: dict | None = None
    negative_control: dict | None = None
    mde: float | None = None
    paper_effect: float | None = None
    next_steps: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        _check_verdict(self.verdict, f"claim {self.id}: verdict")
        for i, p in enumerate(self.parts):
            _check_verdict(p.get("verdict"), f"claim {self.id}: parts[{i}].verdict")

    def to_json(self) -> dict:
        """Plain JSON types; non-finite floats become ``None`` (JSON has no NaN)."""
        return _finite(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, d: dict) -> ClaimResult:
        """Inverse of :meth:`to_json`; a missing, unknown or mistyped key is an
        :class:`~priorlab.errors.InputDataError` naming it."""
        if not isinstance(d, dict):
            raise InputDataError(f"claim result: expected a JSON object, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise InputDataError(f"claim result: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], names)} "
                                 f"Keys: {', '.join(names)}.")
        missing = [k for k in required if k not in d]
        if missing:
            raise InputDataError(f"claim result {d.get('id', '?')}: missing key(s) {', '.join(missing)}")
        check_result(d)
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2))
        return path


def _check_verdict(verdict, where: str) -> None:
    if verdict not in VERDICTS:
        raise InputDataError(f"{where} is {verdict!r}; use one of {', '.join(VERDICTS)}."
                          f"{did_you_mean(str(verdict), list(VERDICTS))}")


def _finite(x):
    """``x`` with every non-finite float (in nested dicts/lists) replaced by ``None``."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def verdicts_json(results: list[ClaimResult]) -> list[dict]:
    """One row per claim with exactly the keys :data:`VERDICT_KEYS` (what ``verdicts.json`` holds);
    parts with :data:`PART_KEYS`, controls with :data:`CONTROL_KEYS`."""
    def pick(d, keys):
        return None if d is None else {k: d.get(k) for k in keys}

    return [_finite({k: getattr(r, k) for k in VERDICT_KEYS}
                    | {"parts": [pick(p, PART_KEYS) for p in r.parts], "positive_control": pick(r.positive_control,
                       CONTROL_KEYS), "negative_control": pick(r.negative_control, CONTROL_KEYS)}) for r in results]


def load_results(out: str | Path) -> list[ClaimResult]:
    """Every ``out/claims/*/result.json``, ordered by claim id (C2 before C10).

    Raises ``FileNotFoundError`` when there is none and :class:`~priorlab.errors.InputDataError`
    naming the file (and the field) when one does not parse or does not follow the contract.
    """
    paths = sorted(Path(out).glob("claims/*/result.json"))
    if not paths:
        raise FileNotFoundError(f"{out}: no claims/*/result.json (priorlab retest writes them)")
    results = []
    for p in paths:
        try:
            results.append(ClaimResult.from_json(json.loads(p.read_text())))
        except (json.JSONDecodeError, InputDataError, TypeError) as e:
            raise InputDataError(f"{p}: {e}") from None
    return sorted(results, key=lambda r: _natural(r.id))


def _natural(s: str) -> tuple:
    """Sort key that orders digit runs numerically: ``C2`` < ``C10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))
