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

from priorlab.config import ConfigError
from priorlab.registry import did_you_mean

VERDICTS = ("holds", "contradicted", "inconclusive", "not run")  # not run: its runs did not finish, no verdict
VERDICT_KEYS = ("id", "verdict", "statistic", "effect", "ci_low", "ci_high", "seeds", "source")


@dataclass
class ClaimResult:
    """A claim's re-test. ``effect`` and its 95% CI (``ci_low``, ``ci_high``) are in the units of
    ``statistic``; ``None`` when the run could not estimate them.

    ``source``: ``{"arxiv", "date", "authors", "title"}``. ``runs``: what was run, one dict per run
    ``{"name", "kind" ("prior" | "rl" | "diagnostic"), "path", "summary", "reused", "wall_s"}``.
    ``figures``: PNG paths, absolute or relative to the output directory. ``table``: the tidy
    measurements behind the statistic (flat keys). ``control``: the negative control
    ``{"description", "verdict", "effect", "ci_low", "ci_high", "reason"}`` or ``None``.
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
    control: dict | None = None
    next_steps: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        _check_verdict(self.verdict, f"claim {self.id}: verdict")
        if self.control is not None:
            _check_verdict(self.control.get("verdict"), f"claim {self.id}: control.verdict")

    def to_json(self) -> dict:
        """Plain JSON types; non-finite floats become ``None`` (JSON has no NaN)."""
        return _finite(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, d: dict) -> ClaimResult:
        """Inverse of :meth:`to_json`; a missing or unknown key is a :class:`ConfigError` naming it."""
        names = [f.name for f in dataclasses.fields(cls)]
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise ConfigError(f"claim result: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], names)} "
                              f"Keys: {', '.join(names)}.")
        missing = [k for k in required if k not in d]
        if missing:
            raise ConfigError(f"claim result {d.get('id', '?')}: missing key(s) {', '.join(missing)}")
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2))
        return path


def _check_verdict(verdict, where: str) -> None:
    if verdict not in VERDICTS:
        raise ConfigError(f"{where} is {verdict!r}; use one of {', '.join(VERDICTS)}."
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
    """One row per claim with exactly the keys :data:`VERDICT_KEYS` (what ``verdicts.json`` holds)."""
    return [_finite({k: getattr(r, k) for k in VERDICT_KEYS}) for r in results]


def load_results(out: str | Path) -> list[ClaimResult]:
    """Every ``out/claims/*/result.json``, ordered by claim id (C2 before C10).

    Raises ``FileNotFoundError`` when there is none and :class:`ConfigError` naming the file
    when one does not parse.
    """
    paths = sorted(Path(out).glob("claims/*/result.json"))
    if not paths:
        raise FileNotFoundError(f"{out}: no claims/*/result.json (priorlab retest writes them)")
    results = []
    for p in paths:
        try:
            results.append(ClaimResult.from_json(json.loads(p.read_text())))
        except (json.JSONDecodeError, ConfigError, TypeError) as e:
            raise ConfigError(f"{p}: {e}") from None
    return sorted(results, key=lambda r: _natural(r.id))


def _natural(s: str) -> tuple:
    """Sort key that orders digit runs numerically: ``C2`` < ``C10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))
