"""Diagnostics: what RL changed, for priorlab runs and any local checkpoint.

One module per diagnostic; each returns tidy tables (lists of flat dicts, one row per
measurement) and draws one PNG:

- :mod:`~priorlab.diagnostics.updates`: parameter-update sparsity, rank and overlap (claims.md §5)
- :mod:`~priorlab.diagnostics.calibration`: accuracy, Brier, ECE, AUROC, reliability (claims.md §6)
- :mod:`~priorlab.diagnostics.passk_compare`: pass@k curves, crossover, solvable sets (claims.md §3)
- :mod:`~priorlab.diagnostics.contamination`: partial-prompt probe (claims.md §7)
- :mod:`~priorlab.diagnostics.formats`: format shares over RL, partial contribution C_d (claims.md §1)
- :mod:`~priorlab.diagnostics.entropy`: token entropy by role over checkpoints (claims.md §10b)
- :mod:`~priorlab.diagnostics.shortcuts`: repetition, skipped steps, truncation, easy regression (claims.md §8)

``priorlab passk``, ``diff`` and ``probe contamination`` live in :mod:`~priorlab.diagnostics.cli`;
``formats``, ``entropy`` and ``shortcuts`` (one RL run directory each) in
:mod:`~priorlab.diagnostics.cli_run`.
"""

from priorlab.config import ConfigError


class DiagnosticInputError(ConfigError):
    """Bad input to a diagnostic (mismatched checkpoints, records, ...), phrased for the user.

    A :class:`~priorlab.config.ConfigError`, so the CLI prints it as one line with exit code 2.
    """
