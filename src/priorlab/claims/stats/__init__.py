"""The statistics every claim shares: two-level bootstrap estimates (:mod:`.bootstrap`), parts,
Holm, power and control-gated verdicts (:mod:`.verdict`), constructed controls (:mod:`.controls`)."""

from priorlab.claims.stats.bootstrap import Cells, Estimate, cells, pair_bootstrap, two_level
from priorlab.claims.stats.controls import exchanged, planted
from priorlab.claims.stats.tdist import seed_ci, t_quantile
from priorlab.claims.stats.verdict import ControlSpec, Part, PartSpec, Verdict, holm_levels, judge, judge_part

__all__ = ["Cells", "ControlSpec", "Estimate", "Part", "PartSpec", "Verdict", "cells", "exchanged", "holm_levels",
           "judge", "judge_part", "pair_bootstrap", "planted", "seed_ci", "t_quantile", "two_level"]
