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
- :mod:`~priorlab.diagnostics.trajectories`: distinct correct / incorrect trajectories per problem (more-systems.md §10)

Their commands live in the CLI: ``priorlab passk``, ``calibration``, ``diff`` and ``probe contamination``
in :mod:`priorlab.cli.diagnostics`; ``formats``, ``entropy`` and ``shortcuts`` (one RL run directory
each) in :mod:`priorlab.cli.diagnostics_run`.
"""

from priorlab.errors import InputDataError


class DiagnosticInputError(InputDataError):
    """Bad input to a diagnostic (mismatched checkpoints, records, a missing run file), phrased for
    the user. An :class:`~priorlab.errors.InputDataError`: the CLI prints one line, exit code 2.
    """
