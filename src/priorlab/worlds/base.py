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

    ``prompt`` is the question text (for the arithmetic world, whitespace tokens); ``answer``
    holds ``(name, value)`` pairs (a text world: one ``("answer", text)`` pair); ``gold`` holds the
    world's own structured solution (for the arithmetic world: leaves and operation nodes).
    """

    world: str
    split: str
    index: int
    depth: int
    context: str
    prompt: str
    answer: tuple[tuple[str, Any], ...]
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
    missing nodes + min(extra, n_gold) + 1 if the answer is wrong). Worlds without a trace to check
    (a dataset, reasoning-gym) set ``verified = answer_correct`` and leave the counts at 0.
    """

    answer_correct: bool = False
    verified: bool = False
    format: str = "none"
    parsed_answer: tuple[tuple[str, Any], ...] | None = None
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
    """A task family. Subclasses register with ``@WORLDS.register(name)``.

    ``pretrainable`` worlds (procedural, with a fixed vocabulary) can generate a pretraining corpus;
    the others (a dataset file, reasoning-gym tasks) only evaluate checkpoints and score completions.
    """

    name: str
    seed: int
    pretrainable: bool = True

    @abstractmethod
    def problem(self, split: str, index: int, depth: int, context: str | None = None) -> Problem:
        """Deterministic item ``f(seed, split, depth, context, index)``."""

    @abstractmethod
    def render_solution(self, problem: Problem, fmt: str, confidence: float | None = None) -> str:
        """Solution text in format ``fmt`` (no end-of-sequence token)."""

    @abstractmethod
    def verify(self, problem: Problem, completion: str, truncated: bool = False) -> Verdict:
        """Strict check; never raises on any string."""

    def vocabulary(self) -> list[str]:
        """Every whitespace token a prompt or solution of this world can contain (pretrainable worlds)."""
        raise NotImplementedError(f"world {self.name!r} has no fixed vocabulary")

    def gold_steps(self, problem: Problem) -> list:
        """The gold solution's steps (:class:`~priorlab.worlds.formats.Step`) in order, which a
        ``step`` critique names; empty for worlds whose verifier checks no trace."""
        return []

    def in_drawn_order(self, problem: Problem, rng) -> Problem:
        """``problem`` with its gold steps in a valid order drawn by ``rng`` (``corpus.drawn_orders``);
        unchanged where a trace has one order."""
        return problem

    def wrong_solution(self, problem: Problem, rng) -> str:
        """A plausible wrong solution of ``problem`` (``rng``: a ``random.Random``), the failed
        attempt of a refinement document (``corpus.refine``); pretrainable worlds only."""
        raise NotImplementedError(f"world {self.name!r} writes no wrong solutions")

    @property
    @abstractmethod
    def contexts(self) -> list[str]:
        """Surface-context names."""

    @property
    @abstractmethod
    def formats(self) -> list[str]:
        """Solution formats this world renders."""

    @property
    @abstractmethod
    def depths(self) -> list[int]:
        """Every depth (difficulty) this world has items at."""

    @property
    def eval_depths(self) -> list[int]:
        """Depths evaluated when the config names none (``eval.depths``): all of them."""
        return self.depths

    def problems(
        self, split: str, depth: int, n: int, context: str | None = None, start: int = 0
    ) -> list[Problem]:
        return [self.problem(split, start + i, depth, context) for i in range(n)]

    def verify_many(self, problems: list[Problem], completions: list[str],
                    truncated: list[bool] | None = None) -> list[Verdict]:
        """:meth:`verify` for each (problem, completion); worlds with costly checkers batch them."""
        truncated = truncated if truncated is not None else [False] * len(problems)
        return [self.verify(p, c, bool(t)) for p, c, t in zip(problems, completions, truncated)]

    def model_input(self, problem: Problem) -> str:
        """The text a checkpoint is conditioned on; default priorlab's ``<bos> prompt <sol>``."""
        from priorlab.tokenizer import prompt_text

        return prompt_text(problem.prompt)

    def max_new_tokens(self, problems: list[Problem]) -> int:
        """Sampling budget: 1.5x the longest gold solution (any format, whitespace tokens) + 16."""
        longest = max(len(self.render_solution(p, f, 1.0).split()) for p in problems for f in self.formats)
        return int(1.5 * longest) + 16

    def guess_prob(self, problem: Problem) -> float:
        """Chance that one uniform guess of the answer is right; NaN where no guessing model exists."""
        return float("nan")

    def answer_phrases(self, problem: Problem) -> tuple[str, ...]:
        """Phrases a completion must contain to hold the answer (contamination probe): ``name value``."""
        return tuple(f"{k} {v}" for k, v in problem.answer)


WORLDS: Registry[type[World]] = Registry("world")


def make_world(name: str, **config: Any) -> World:
    """Instantiate a registered world by name (``did you mean`` on a typo)."""
    import priorlab.worlds  # noqa: F401  (registers the built-in worlds)

    return WORLDS.get(name)(**config)
