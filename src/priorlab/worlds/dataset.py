"""A world over a local JSONL or Parquet file of questions and answers, checked with math-verify.

Rows need a question and an answer column (defaults: the first of ``question`` / ``problem`` /
``prompt`` and of ``answer`` / ``solution`` present). Optional: a difficulty column -> ``depth``
(an integer, or a string holding one such as MATH's ``"Level 3"``; without it every row has
depth 1), and either a split column (values mapped through ``split_map`` onto priorlab's splits)
or ``split`` (every row in one split, e.g. ``eval``); with neither, rows are split by the content
hash of the question like every priorlab world. Items of a (split, depth) keep file order.

Verification (Kydlíček et al., math-verify, https://github.com/huggingface/Math-Verify): the
gold answer is parsed from the answer column (a bare answer such as ``\\frac{1}{2}`` is read as
LaTeX; a worked solution with ``\\boxed{}`` or ``$...$`` as it is) and the prediction from the
completion (math-verify's own extraction: "final answer is" phrases, the last ``\\boxed{}``, then
the last expression); equivalence is math-verify's ``verify``. ``answer_format: boxed`` counts
only completions that contain a ``\\boxed{}``. See :mod:`priorlab.worlds.text` for what a
verdict means here; the checks run in worker processes (math-verify's timeouts use signals).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from priorlab.errors import ConfigError
from priorlab.registry import did_you_mean
from priorlab.worlds.base import SPLIT_BUCKETS, Problem, WORLDS, split_of
from priorlab.worlds.text import CONTEXT, TextWorld, TextWorldConfig, last_boxed

QUESTION_COLUMNS = ("question", "problem", "prompt")
ANSWER_COLUMNS = ("answer", "solution")


class DatasetConfig(TextWorldConfig):
    """Knobs of the dataset world (module docstring)."""

    path: str = Field(..., description="a .jsonl or .parquet file")
    question_column: str | None = Field(None, description="default: the first of question, problem, prompt")
    answer_column: str | None = Field(None, description="default: the first of answer, solution")
    difficulty_column: str | None = Field(None, description="integer difficulty -> depth (default: depth 1)")
    split_column: str | None = Field(None, description="column naming each row's split")
    split_map: dict[str, str] = Field(default_factory=dict, description="split-column value -> priorlab split")
    split: str | None = Field(None, description="put every row in this split (e.g. eval)")
    answer_format: Literal["any", "boxed"] = Field("any", description="boxed: only a \\boxed{} answer counts")

    @model_validator(mode="after")
    def _check(self) -> "DatasetConfig":
        if not Path(self.path).is_file():
            raise ValueError(f"path: file {self.path} does not exist")
        if Path(self.path).suffix not in (".jsonl", ".parquet"):
            raise ValueError(f"path: {self.path} is neither .jsonl nor .parquet")
        if self.split is not None and self.split_column is not None:
            raise ValueError("split and split_column: give one (every row in one split, or a column)")
        for s in [self.split or "eval", *self.split_map.values()]:
            if s not in SPLIT_BUCKETS:
                raise ValueError(f"unknown split {s!r}.{did_you_mean(s, list(SPLIT_BUCKETS))} "
                                 f"Splits: {', '.join(SPLIT_BUCKETS)}")
        return self


@lru_cache(maxsize=8)
def read_rows(path: str, mtime: float) -> tuple[list[dict], list[str]]:
    """Rows of a JSONL or Parquet file and its column names (cached per path and mtime)."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return table.to_pylist(), table.column_names
    rows = []
    for i, line in enumerate(Path(path).read_text().splitlines()):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}, line {i + 1}: not JSON ({e.msg})") from None
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return rows, columns


def _column(cfg_value: str | None, defaults: tuple[str, ...], columns: list[str], what: str, path: str) -> str:
    """The configured column, else the first default present; a clear error otherwise."""
    wanted = [cfg_value] if cfg_value else list(defaults)
    found = next((c for c in wanted if c in columns), None)
    if found is None:
        hint = did_you_mean(wanted[0], columns) if cfg_value else ""
        raise ConfigError(f"{path}: no {what} column {' / '.join(map(repr, wanted))}.{hint} Columns found: "
                          f"{', '.join(columns) or 'none'} (set world.{what}_column)")
    return found


def _depth(value, row: int, path: str) -> int:
    m = re.search(r"-?\d+", str(value)) if value is not None else None
    if m is None:
        raise ConfigError(f"{path}, row {row}: difficulty {value!r} holds no integer")
    return int(m.group())


@lru_cache(maxsize=4096)
def _gold(raw: str, timeout_s: int):
    """math-verify parse of a gold answer: as it is when it holds ``\\boxed``/``$``, else as LaTeX."""
    from math_verify import parse

    if "\\boxed" in raw or "$" in raw:
        return parse(raw, parsing_timeout=timeout_s)
    return parse(f"${raw}$", parsing_timeout=timeout_s) or parse(raw, parsing_timeout=timeout_s)


def math_check(raw_gold: str, text: str, answer_format: str, timeout_s: int) -> tuple[bool, str | None]:
    """Worker side: ``(correct, extracted answer)`` of one completion (module docstring)."""
    from math_verify import parse, verify

    if answer_format == "boxed" and last_boxed(text) is None:
        return False, None
    pred = parse(text, parsing_timeout=timeout_s)
    if not pred:
        return False, None
    gold = _gold(raw_gold, timeout_s)
    return bool(gold) and verify(gold, pred, timeout_seconds=timeout_s), str(pred[-1])


@WORLDS.register("dataset")
class DatasetWorld(TextWorld):
    """Questions and answers from a local file, verified with math-verify (module docstring)."""

    name = "dataset"
    Config = DatasetConfig
    requires = "math-verify"
    check = staticmethod(math_check)

    def __init__(self, seed: int = 0, **knobs):
        super().__init__(seed, **knobs)
        path = self.cfg.path
        rows, columns = read_rows(path, Path(path).stat().st_mtime)
        if not rows:
            raise ConfigError(f"{path}: no rows")
        q = _column(self.cfg.question_column, QUESTION_COLUMNS, columns, "question", path)
        a = _column(self.cfg.answer_column, ANSWER_COLUMNS, columns, "answer", path)
        d = self.cfg.difficulty_column and _column(self.cfg.difficulty_column, (), columns, "difficulty", path)
        s = self.cfg.split_column and _column(self.cfg.split_column, (), columns, "split", path)
        self.items: dict[tuple[str, int], list[Problem]] = {}
        for i, row in enumerate(rows):
            if not isinstance(row.get(q), str) or not row[q].strip() or row.get(a) is None:
                raise ConfigError(f"{path}, row {i + 1}: empty question or answer ({q!r}, {a!r})")
            split = self._split(row, row[q], s, i, path)
            depth = _depth(row.get(d), i + 1, path) if d else 1
            raw = str(row[a])
            key = (split, depth)
            index = len(self.items.setdefault(key, []))
            final = last_boxed(raw) or raw.strip()
            self.items[key].append(Problem(self.name, split, index, depth, CONTEXT, row[q], (("answer", final),),
                                           {"answer": raw, "row": i}))

    def _split(self, row: dict, question: str, column: str | None, i: int, path: str) -> str:
        """``cfg.split``, else the mapped split column, else the content hash of the question."""
        if self.cfg.split is not None:
            return self.cfg.split
        if column is None:
            return split_of(question)
        value = str(row.get(column))
        split = self.cfg.split_map.get(value, value)
        if split not in SPLIT_BUCKETS:
            raise ConfigError(f"{path}, row {i + 1}: split {value!r} is not a priorlab split "
                              f"({', '.join(SPLIT_BUCKETS)}); map it with world.split_map, e.g. {{{value}: eval}}")
        return split

    @property
    def contexts(self) -> list[str]:
        return [CONTEXT]

    @property
    def formats(self) -> list[str]:
        return ["boxed", "plain"]

    @property
    def depths(self) -> list[int]:
        return sorted({d for _, d in self.items})

    def _available(self, split: str, depth: int, context: str | None) -> list[Problem]:
        if context not in (None, CONTEXT):
            raise ValueError(f"unknown context {context!r}; the dataset world has one: {CONTEXT!r}")
        have = self.items.get((split, depth), [])
        if not have:
            counts = ", ".join(f"{s} depth {d}: {len(v)}" for (s, d), v in sorted(self.items.items()))
            raise ConfigError(f"{self.cfg.path} has no items in split {split!r} at depth {depth} "
                              f"(it has {counts}); pick --splits/--depths from those")
        return have

    def problem(self, split: str, index: int, depth: int, context: str | None = None) -> Problem:
        have = self._available(split, depth, context)
        if not 0 <= index < len(have):
            raise ValueError(f"{self.cfg.path}: split {split!r} depth {depth} has {len(have)} items; no index {index}")
        return have[index]

    def problems(self, split: str, depth: int, n: int, context: str | None = None, start: int = 0) -> list[Problem]:
        """Items ``start .. start+n-1`` of (split, depth), fewer where the file has fewer."""
        return self._available(split, depth, context)[start:start + n]

    def render_solution(self, problem: Problem, fmt: str, confidence: float | None = None) -> str:
        final = self.gold_answer(problem)
        return f"\\boxed{{{final}}}" if fmt == "boxed" else final

    def detect_format(self, text: str) -> str:
        return "boxed" if last_boxed(text) is not None else "plain"

    def check_args(self, problem: Problem, text: str) -> tuple:
        return problem.gold["answer"], text, self.cfg.answer_format, self.cfg.timeout_s

