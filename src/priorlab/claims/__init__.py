"""Claim re-tests: one file per published claim (recipe, statistic, verdict rule), ``retest``
to run them and the report to show them. Importing this package registers every claim."""

from priorlab.claims import (  # noqa: F401 - registration side effects
    c01_spurious, c02_clipping, c03_formats, c04_crossover, c05_edge, c06_psr_nsr, c07_sparsity, c08_calibration,
    c09_contamination, c10_shortcuts, c11_distillation, c12_critiques, c13_rlp, c14_squeeze,
)
from priorlab.claims.base import CLAIMS, SCALES, Claim

__all__ = ["CLAIMS", "SCALES", "Claim"]
