"""World protocol: a procedural, verifiable task family.

A world turns ``(seed, split, depth, context, index)`` into a :class:`Problem`, renders
solutions in registered *formats*, and verifies completions strictly into a :class:`Verdict`.
Splits are disjoint by construction: an item belongs to the split its content hash falls in.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from priorlab.registry import Registry

#: Split name -> half-open range of content-hash buckets (out of 100) it owns.
SPLIT_BUCKETS: dict[str, tuple[int, int]] = {
    "pretrain": (0, 80),
    "rl": (80, 90),
    "eval": (90, 95),
    "eval-contaminated": (95, 100),
}
EVAL_SPLITS = ("eval", "eval-contaminated")


def content_bucket(text: str) -> int:
    """Bucket in [0, 100) of a canonical problem text (blake2b, stable across runs)."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def split_of(text: str) -> str:
    """The split that owns a problem text."""
    b = content_bucket(text)
    return next(s for s, (lo, hi) in SPLIT_BUCKETS.items() if lo <= b < hi)


@dataclass(frozen=True)
class Problem:
    """One task instance.

    ``prompt`` and ``answer`` are whitespace-token strings; ``gold`` holds the world's own
    structured solution (for the arithmetic world: leaves and operation nodes).
    """

    world: str
    split: str
    index: int
    depth: int
    context: str
    prompt: str
    answer: tuple[tuple[str, int], ...]
    gold: Any = field(compare=False, repr=False)

    @property
    def uid(self) -> str:
        return hashlib.blake2b(self.prompt.encode(), digest_size=8).hexdigest()


@dataclass
class Verdict:
    """Strict verification of one completion.

    ``verified`` is the "VerifiedCorrect" of claims.md §9: well-formed, every gold operation
    present exactly once with the right parents and values, nothing extra, answer correct.
    Counts (``n_*``) feed the process reward (penalty = value + dependency mismatches +
    missing nodes + min(extra, n_gold) + 1 if the answer is wrong).
    """

    answer_correct: bool = False
    verified: bool = False
    format: str = "none"
    parsed_answer: tuple[tuple[str, int], ...] | None = None
    steps: list[dict] = field(default_factory=list)
    process_acc: float = 0.0
    n_gold: int = 0
    n_correct_steps: int = 0
    n_missing: int = 0
    n_value_mismatch: int = 0
    n_dep_mismatch: int = 0
    n_extra: int = 0
    n_invalid: int = 0
    well_formed: bool = False
    truncated: bool = False
    confidence: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class World(ABC):
    """A task family. Subclasses register with ``@WORLDS.register(name)``."""

    name: str
    seed: int

    @abstractmethod
    def problem(self, split: str, index: int, depth: int, context: str | None = None) -> Problem:
        """Deterministic item ``f(seed, split, depth, context, index)``."""

    @abstractmethod
    def render_solution(self, problem: Problem, fmt: str, confidence: float | None = None) -> str:
        """Solution text in format ``fmt`` (no end-of-sequence token)."""

    @abstractmethod
    def verify(self, problem: Problem, completion: str, truncated: bool = False) -> Verdict:
        """Strict check; never raises on any string."""

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every whitespace token a prompt or solution of this world can contain."""

    @property
    @abstractmethod
    def contexts(self) -> list[str]:
        """Surface-context names."""

    @property
    @abstractmethod
    def formats(self) -> list[str]:
        """Solution formats this world renders."""

    def problems(
        self, split: str, depth: int, n: int, context: str | None = None, start: int = 0
    ) -> list[Problem]:
        return [self.problem(split, start + i, depth, context) for i in range(n)]


WORLDS: Registry[type[World]] = Registry("world")


def make_world(name: str, **config: Any) -> World:
    """Instantiate a registered world by name (``did you mean`` on a typo)."""
    import priorlab.worlds  # noqa: F401  (registers the built-in worlds)

    return WORLDS.get(name)(**config)
