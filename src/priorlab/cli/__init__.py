"""``priorlab`` command line (typer). Run ``priorlab --help`` for the tour.

One package, imports one way: :mod:`~priorlab.cli.main` builds ``app`` from the group modules
(:mod:`~priorlab.cli.train`, :mod:`~priorlab.cli.runs`, :mod:`~priorlab.cli.diagnostics`,
:mod:`~priorlab.cli.diagnostics_run`, :mod:`~priorlab.cli.report`, :mod:`~priorlab.cli.claims`),
which share :mod:`~priorlab.cli.common` (consoles, options, printers, the one error handler).
"""

from priorlab.cli.main import app

__all__ = ["app"]
