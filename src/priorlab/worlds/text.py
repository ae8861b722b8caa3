"""Worlds of free-text questions with one final answer (a dataset file, reasoning-gym tasks).

They exist to evaluate *any* checkpoint: the model input is the question in a user template
(``"{question}"`` by default; write an instruction or a chat wrapper around it), the sampling
budget is a config field, and a completion is scored by an answer checker that runs in the
worker pool of :mod:`priorlab.worlds.workers`. There is no trace to check, so a verdict is
strict on the answer only: ``verified == answer_correct``, and a completion that hit the token
limit (``truncated``) is never correct (it has no final answer). A trailing end-of-sequence
marker (``<eos>``, ``</s>``, ``<|...|>``) is dropped before the answer is extracted.
"""

from __future__ import annotations

import importlib.util
import re
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from priorlab.worlds.base import Problem, Verdict, World
from priorlab.worlds.workers import run_checks

CONTEXT = "default"
_END_MARKERS = re.compile(r"(?:\s*(?:<\|[^<>|\s]*\|>|</s>|<eos>))+\s*$")


class TextWorldConfig(BaseModel):
    """Knobs shared by the text worlds (validated; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    template: str = Field("{question}", description="model input; {question} is replaced by the question text")
    max_new_tokens: int = Field(512, ge=1, description="sampling budget in the checkpoint's tokens")
    timeout_s: int = Field(5, ge=1, description="per parse / comparison in the checker (seconds)")
    workers: int = Field(2, ge=1, description="checker processes")

    @field_validator("template")
    @classmethod
    def _has_question(cls, v: str) -> str:
        if "{question}" not in v:
            raise ValueError(f"template {v!r} has no {{question}} placeholder")
        return v


def require(package: str, world: str) -> None:
    """A clear error when the checker package of ``world`` is not installed."""
    if importlib.util.find_spec(package.replace("-", "_")) is None:
        from priorlab.errors import ConfigError

        raise ConfigError(f"the {world} world needs {package}: pip install {package} (or pip install -e '.[real]')")


def strip_end_marker(text: str) -> str:
    """``text`` without a trailing run of end-of-sequence markers (and whitespace)."""
    return _END_MARKERS.sub("", text)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (braces matched), or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    return None


class TextWorld(World):
    """Base of the text worlds: template input, configured budget, answer-only strict verdicts.

    Subclasses give :attr:`check` (a module-level function run in the worker pool, returning
    ``(correct: bool, extracted: str | None)``), :meth:`check_args` and :meth:`detect_format`.
    """

    pretrainable = False
    Config: type[TextWorldConfig]
    requires: str  # the checker's PyPI package
    check: Callable[..., tuple[bool, str | None]]

    def __init__(self, seed: int = 0, **knobs):
        require(self.requires, self.name)
        self.seed = int(seed)
        self.cfg = self.Config(**knobs)

    @abstractmethod
    def check_args(self, problem: Problem, text: str) -> tuple:
        """Picklable arguments of :attr:`check` for one completion (end marker already stripped)."""

    @abstractmethod
    def detect_format(self, text: str) -> str:
        """The answer format a completion used (one of :attr:`formats`, or ``"none"``)."""

    def model_input(self, problem: Problem) -> str:
        return self.cfg.template.replace("{question}", problem.prompt)

    def max_new_tokens(self, problems: list[Problem]) -> int:
        return self.cfg.max_new_tokens

    def gold_answer(self, problem: Problem) -> str:
        return problem.answer[0][1]

    def answer_phrases(self, problem: Problem) -> tuple[str, ...]:
        return (self.gold_answer(problem),)

    def verify(self, problem: Problem, completion: str, truncated: bool = False) -> Verdict:
        return self.verify_many([problem], [completion], [truncated])[0]

    def verify_many(self, problems: list[Problem], completions: list[str],
                    truncated: list[bool] | None = None) -> list[Verdict]:
        """Strict verdicts; the checks run in ``cfg.workers`` processes (module docstring)."""
        truncated = truncated if truncated is not None else [False] * len(problems)
        texts = [strip_end_marker(c) if isinstance(c, str) else "" for c in completions]
        results = run_checks(type(self).check, [self.check_args(p, t) for p, t in zip(problems, texts)],
                             self.cfg.workers, 3 * self.cfg.timeout_s)
        return [_verdict(res, self.detect_format(t), bool(cut)) for res, t, cut in zip(results, texts, truncated)]


def _verdict(result: Any, fmt: str, truncated: bool) -> Verdict:
    """A checker result ``(correct, extracted)`` (None: the check failed) as a Verdict."""
    correct, extracted = result if result is not None else (False, None)
    ok = bool(correct) and not truncated
    return Verdict(answer_correct=ok, verified=ok, format=fmt if extracted is not None else "none",
                   parsed_answer=None if extracted is None else (("answer", str(extracted)),),
                   process_acc=float(ok), well_formed=extracted is not None and not truncated,
                   truncated=truncated)
