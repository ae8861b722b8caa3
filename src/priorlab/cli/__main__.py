"""``python -m priorlab.cli``: the same app as the ``priorlab`` entry point."""

from priorlab.cli.main import app

app(prog_name="priorlab")
