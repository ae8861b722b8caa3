"""Any reasoning-gym task as a world, scored strictly (https://github.com/open-thought/reasoning-gym).

``task`` names a registered reasoning-gym dataset (``basic_arithmetic``, ``leg_counting``, ...;
a typo gets "did you mean"); ``task_config`` passes that dataset's own config fields through.
Depth is the task's curriculum level: depth d sets every curriculum attribute to level
``min(d - 1, last)`` (reasoning-gym's ``upper_bound`` range mode, so depth d is the band at level
d, not everything up to it), giving depths ``1 .. max levels``; a task without a curriculum has
depth 1 only. ``task_config`` is applied last and overrides the curriculum's fields.

Items are ``f(seed, depth, j)``: reasoning-gym item ``j`` of the dataset built with seed
``seed * size`` (reasoning-gym draws item j from ``Random(dataset_seed + j)``, so consecutive
dataset seeds share all but one item; spacing them by ``size`` keeps world seeds disjoint); item ``index`` of a split is the ``index``-th ``j`` (in order, among the first ``size``) whose
question's content hash falls in that split, as in every priorlab world. The single context is
the task name.

Answer extraction (``answer_from``): ``tag`` (default) takes the last ``<answer>...</answer>`` of
the completion, as reasoning-gym's own ``extract_answer``; ``last_line`` takes the last non-empty
line (for models never taught the tags). Scoring is the task's ``score_answer(answer, entry)``,
and a completion is correct **only if the score is exactly 1.0**: reasoning-gym's default scorer
gives partial credit (e.g. ``len(gold) / len(answer)`` when the answer merely contains the gold
string), which is not a verifiable reward. Scores run in the worker pool of
:mod:`priorlab.worlds.workers` (some scorers call sympy on model output).
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, model_validator

from priorlab.registry import did_you_mean
from priorlab.worlds.base import SPLIT_BUCKETS, Problem, WORLDS, split_of
from priorlab.worlds.text import TextWorld, TextWorldConfig, require

_TAG = re.compile(r"<answer>\s?(.*?)\s?</answer>", re.DOTALL)


class ReasoningGymConfig(TextWorldConfig):
    """Knobs of the reasoning_gym world (module docstring)."""

    task: str = Field("basic_arithmetic", description="a reasoning-gym dataset name")
    task_config: dict[str, Any] = Field(default_factory=dict, description="the task's own config fields")
    size: int = Field(10_000, ge=1, description="items j = 0..size-1 scanned per depth to fill the splits")
    answer_from: Literal["tag", "last_line"] = Field("tag", description="<answer>...</answer>, or the last line")
    max_new_tokens: int = Field(256, ge=1, description="sampling budget in the checkpoint's tokens")

    @model_validator(mode="after")
    def _known(self) -> "ReasoningGymConfig":
        require("reasoning-gym", "reasoning_gym")
        from reasoning_gym.factory import DATASETS

        if self.task not in DATASETS:
            raise ValueError(f"task: unknown reasoning-gym task {self.task!r}.{did_you_mean(self.task, sorted(DATASETS))}"
                             f" ({len(DATASETS)} tasks; reasoning_gym.factory.DATASETS lists them)")
        return self


def _levels(task: str) -> int:
    """Number of curriculum levels of ``task`` (1 without a curriculum)."""
    from reasoning_gym.factory import CURRICULA, create_curriculum

    if task not in CURRICULA:
        return 1
    return max(len(a.levels) for a in create_curriculum(task).attributes.values())


@lru_cache(maxsize=64)
def build_dataset(task: str, seed: int, size: int, depth: int, task_config: str):
    """The reasoning-gym dataset of ``task`` at curriculum level ``depth - 1`` (module docstring);
    ``task_config`` is a JSON object string (hashable, for the cache)."""
    from reasoning_gym.coaching.base_curriculum import DefaultCurriculumContext, RangeAttributeMode
    from reasoning_gym.factory import CURRICULA, DATASETS, create_curriculum

    cls, config_cls = DATASETS[task]
    base = {"seed": seed, "size": size}
    if task in CURRICULA:
        cur = create_curriculum(task)
        for name, attr in cur.attributes.items():
            cur.set_attr_level(name, min(depth - 1, len(attr.levels) - 1))
        config = cur.generate_configuration(base, DefaultCurriculumContext(mode=RangeAttributeMode.UPPER_BOUND))
        config = dataclasses.replace(config, **json.loads(task_config))
    else:
        config = config_cls(**base, **json.loads(task_config))
    return cls(config=config)


@lru_cache(maxsize=4096)
def _entry(key: tuple, j: int) -> dict:
    return build_dataset(*key)[j]


def score_check(key: tuple, j: int, answer: str | None) -> tuple[bool, str | None]:
    """Worker side: ``(score == 1.0, answer)`` for item ``j`` of the dataset ``key``."""
    if answer is None:
        return False, None
    dataset = build_dataset(*key)
    return float(dataset.score_answer(answer, _entry(key, j))) == 1.0, answer


@WORLDS.register("reasoning_gym")
class ReasoningGymWorld(TextWorld):
    """A reasoning-gym task with strict scoring (module docstring)."""

    name = "reasoning_gym"
    Config = ReasoningGymConfig
    requires = "reasoning-gym"
    check = staticmethod(score_check)

    def __init__(self, seed: int = 0, **knobs):
        super().__init__(seed, **knobs)
        self.n_levels = _levels(self.cfg.task)
        self._scan: dict[int, tuple[dict[str, list[int]], list[int]]] = {}  # depth -> (split -> js, [next j])

    def key(self, depth: int) -> tuple:
        """Arguments of :func:`build_dataset` for ``depth``."""
        return (self.cfg.task, self.seed * self.cfg.size, self.cfg.size, depth,
                json.dumps(self.cfg.task_config, sort_keys=True))

    @property
    def contexts(self) -> list[str]:
        return [self.cfg.task]

    @property
    def formats(self) -> list[str]:
        return ["tag", "plain"]

    @property
    def depths(self) -> list[int]:
        return list(range(1, self.n_levels + 1))

    def _j(self, split: str, index: int, depth: int) -> int:
        """The dataset index of item ``index`` of ``split`` at ``depth`` (scanning j in order)."""
        found, nxt = self._scan.setdefault(depth, ({s: [] for s in SPLIT_BUCKETS}, [0]))
        while len(found[split]) <= index and nxt[0] < self.cfg.size:
            found[split_of(_entry(self.key(depth), nxt[0])["question"])].append(nxt[0])
            nxt[0] += 1
        if len(found[split]) <= index:
            raise ValueError(f"only {len(found[split])} {split!r} items at depth {depth} among the first "
                             f"{self.cfg.size} of {self.cfg.task}; raise world.size")
        return found[split][index]

    def problem(self, split: str, index: int, depth: int, context: str | None = None) -> Problem:
        if split not in SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r}.{did_you_mean(split, list(SPLIT_BUCKETS))}")
        if depth not in self.depths:
            raise ValueError(f"depth {depth} out of range 1..{self.n_levels} ({self.cfg.task}'s curriculum levels)")
        if context not in (None, self.cfg.task):
            raise ValueError(f"unknown context {context!r}; this world has one: {self.cfg.task!r}")
        j = self._j(split, index, depth)
        entry = _entry(self.key(depth), j)
        return Problem(self.name, split, index, depth, self.cfg.task, entry["question"],
                       (("answer", str(entry["answer"])),), {"j": j, "metadata": entry.get("metadata")})

    def render_solution(self, problem: Problem, fmt: str, confidence: float | None = None) -> str:
        gold = self.gold_answer(problem)
        return f"<answer>{gold}</answer>" if fmt == "tag" else gold

    def extract(self, text: str) -> str | None:
        """The answer of a completion (``answer_from``); None when there is none."""
        if self.cfg.answer_from == "tag":
            found = _TAG.findall(text)
            return found[-1].strip() if found else None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else None

    def detect_format(self, text: str) -> str:
        return "tag" if _TAG.search(text) else "plain"

    def check_args(self, problem: Problem, text: str) -> tuple:
        return self.key(problem.depth), problem.gold["j"], self.extract(text)
