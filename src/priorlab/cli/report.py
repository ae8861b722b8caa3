"""``priorlab report DIR``: rebuild ``DIR/report.html`` and ``DIR/verdicts.json`` from the saved
``DIR/claims/*/result.json`` (and ``DIR/meta.json``) without rerunning anything; ``--check`` opens
the page in headless Chromium. :func:`register` adds the command to the main typer app."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from priorlab.cli.common import console


def report_cmd(out: Path = typer.Argument(..., metavar="DIR",
                                          help="a retest directory holding claims/*/result.json"),
               check: bool = typer.Option(False, help="open report.html in headless Chromium: fail on console "
                                                     "errors or non-local requests; screenshot DIR/report.png")):
    """Rebuild DIR/report.html and DIR/verdicts.json from the saved claim results (reruns nothing)."""
    from priorlab.claims.result import load_results
    from priorlab.report import fmt, write_report
    from priorlab.report.meta import load_meta

    results = load_results(out)
    path = write_report(results, out, load_meta(out, results))
    table = Table(title=f"{len(results)} claims")
    for col in ("claim", "title", "verdict", "effect [95% CI]", "seeds"):
        table.add_column(col)
    colour = fmt.RICH_COLOURS
    for r in results:
        table.add_row(escape(r.id), escape(r.title), f"[{colour[r.verdict]}]{r.verdict}[/]",
                      fmt.effect_ci(r.effect, r.ci_low, r.ci_high), str(r.seeds))
    console.print(table)
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.2f} MB, self-contained), {out}/verdicts.json")
    if check:
        _check(path, out / "report.png")


def _check(path: Path, screenshot: Path) -> None:
    from priorlab.report.browser import check_page

    res = check_page(path, screenshot)
    for line in res.errors + [f"non-local request: {u}" for u in res.external]:
        console.print(f"[red]{escape(line)}[/]", soft_wrap=True)
    if not res.ok:
        raise typer.Exit(1)
    console.print(f"Chromium: loaded, no console errors, no network requests; {res.height} px tall; "
                  f"screenshot {res.screenshot}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report_cmd)
