"""Task families ("worlds"); importing this package registers the built-in ones."""

from priorlab.worlds import arith_dag, dataset, reasoning_gym  # noqa: F401  (registers the built-in worlds)
from priorlab.worlds.base import EVAL_SPLITS, SPLIT_BUCKETS, WORLDS, Problem, Verdict, World, make_world
from priorlab.worlds.formats import FORMATS

__all__ = ["EVAL_SPLITS", "FORMATS", "SPLIT_BUCKETS", "WORLDS", "Problem", "Verdict", "World",
           "make_world"]
