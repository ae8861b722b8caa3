"""Diagnostics: what RL changed, for priorlab runs and any local checkpoint.

One module per diagnostic; each returns tidy tables (lists of flat dicts, one row per
measurement) and draws one PNG:

- :mod:`~priorlab.diagnostics.updates`: parameter-update sparsity, rank and overlap (claims.md §5)
- :mod:`~priorlab.diagnostics.calibration`: accuracy, Brier, ECE, AUROC, reliability (claims.md §6)
- :mod:`~priorlab.diagnostics.passk_compare`: pass@k curves, crossover, solvable sets (claims.md §3)
- :mod:`~priorlab.diagnostics.contamination`: partial-prompt probe (claims.md §7)

``priorlab passk``, ``priorlab diff`` and ``priorlab probe contamination`` live in
:mod:`~priorlab.diagnostics.cli`.
"""

from priorlab.config import ConfigError


class DiagnosticInputError(ConfigError):
    """Bad input to a diagnostic (mismatched checkpoints, records, ...), phrased for the user.

    A :class:`~priorlab.config.ConfigError`, so the CLI prints it as one line with exit code 2.
    """
