"""The ``priorlab`` typer app: the root group (:class:`~priorlab.cli.common.PriorlabGroup`, the one
error handler), the global ``--debug`` option, and every command group registered in help order."""

from __future__ import annotations

import typer

from priorlab.cli import claims, diagnostics, diagnostics_run, report, runs, train
from priorlab.cli.common import PriorlabGroup

app = typer.Typer(cls=PriorlabGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Measure what RLVR adds to a controlled pretrained prior.")


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="on an error, show the traceback instead of one line "
                                                           "(also PRIORLAB_DEBUG=1)")):
    """Measure what RLVR adds to a controlled pretrained prior."""


train.register(app)  # demo, pretrain, eval, rl, world show
diagnostics.register(app)  # passk, calibration, diff, probe contamination
diagnostics_run.register(app)  # formats, entropy, shortcuts
report.register(app)  # report DIR
claims.register(app)  # retest
runs.register(app)  # runs ls/show/query, sweep
