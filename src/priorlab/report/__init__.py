"""The claim re-test report: ``report.html`` (self-contained), ``verdicts.json``, ``meta.json``.

:func:`write_report` renders a list of :class:`~priorlab.claims.result.ClaimResult`;
``priorlab report DIR`` (:mod:`priorlab.cli.report`) rebuilds it from ``DIR/claims/*/result.json``.
"""

from priorlab.report.html import write_report
from priorlab.report.meta import collect_meta

__all__ = ["collect_meta", "write_report"]
