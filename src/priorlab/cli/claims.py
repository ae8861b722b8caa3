"""``priorlab retest``: the claims registry from the command line (:func:`register` adds it to the
main typer app)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from priorlab.cli.common import console


def _scale(scale: str) -> None:
    """Refuse an unknown ``--scale`` with the known ones."""
    from priorlab.claims import SCALES
    from priorlab.errors import ConfigError
    from priorlab.registry import did_you_mean

    if scale not in SCALES:
        raise ConfigError(f"--scale {scale!r}: unknown.{did_you_mean(scale, list(SCALES))} "
                          f"Scales: {', '.join(SCALES)}.")


def _list(ids: list[str] | None, scale: str) -> None:
    """The registry (or the claims ``ids``) at ``scale``: sources, priors, arms and the run count."""
    from priorlab.claims import SCALES
    from priorlab.claims.base import prior_replicas
    from priorlab.claims.retest import chosen, plan

    _scale(scale)
    claims = chosen(ids)
    t = Table(title=f"claims (scale {scale}: runs per arm = {len(SCALES[scale].seeds)} seeds)")
    for col in ("id", "title", "source", "priors", "arms"):
        t.add_column(col)
    for c in claims:
        arms = [a.name + ("" if a.required else " (optional)") for a in c.arms(SCALES[scale])]
        t.add_row(c.id, c.title, f"{c.source['authors']} arXiv {c.source['arxiv']}",
                  ", ".join(p.name for p in c.priors(SCALES[scale])), ", ".join(arms))
    console.print(t)
    seeds = SCALES[scale].seeds
    priors, arms = plan(claims, SCALES[scale])
    kinds = [a.kind for a in arms.values()]
    runs = ", ".join(f"{kinds.count(k) * len(seeds)} {k.upper()}" for k in dict.fromkeys(kinds))
    made = len(prior_replicas(priors, SCALES[scale]))
    console.print(f"{'these' if ids else 'all'} claims: {len(priors)} priors ({made} to train: replicated ones once "
                  f"per seed), {len(arms)} arms × {len(seeds)} seeds = {len(arms) * len(seeds)} runs ({runs})")


def _status(ids: list[str] | None, scale: str, store: Path | None, workers: int | None) -> None:
    """Every run the claims need at ``scale``, as the store holds it now, and the time left."""
    from priorlab.claims import SCALES
    from priorlab.claims.retest import chosen
    from priorlab.claims.survey import readiness, summary, survey
    from priorlab.report.fmt import duration
    from priorlab.runtime import usable_cores

    _scale(scale)
    claims = chosen(ids)
    rows = survey(claims, SCALES[scale], store)
    t = Table(title=f"runs (scale {scale})")
    for col in ("run", "kind", "status", "wall", "detail"):
        t.add_column(col)
    for r in rows:
        wall = duration(r["wall_s"]) if r["wall_s"] else (f"{r['done']:.0%} done" if r["done"] else "")
        t.add_row(r["name"], r["kind"], r["status"], wall, r["detail"])
    console.print(t)
    for line in readiness(claims, SCALES[scale], rows):
        console.print(line)
    console.print(summary(rows, workers or usable_cores()))


def retest_cmd(ids: Optional[list[str]] = typer.Argument(None, help="claim ids (default: all), e.g. C1 C4"),
               out: Path = typer.Option(Path("runs/retest"), help="report directory"),
               scale: str = typer.Option("small", help="tiny (smoke test), small (3 seeds, 30 RL steps: hours on "
                                                      "2 cores for all claims), medium (the "
                                                      "papers' horizons, 5 seeds, n = 256: ~21 h on 2 cores, "
                                                      "resumable), full"),
               list_: bool = typer.Option(False, "--list", help="show the registry and exit"),
               status: bool = typer.Option(False, "--status", help="show where these claims' runs stand in the "
                                                                 "store and the time left; runs nothing"),
               executor: str = typer.Option("local", help="local (process pool) or ray"),
               workers: Optional[int] = typer.Option(None, help="cores to use: jobs are packed into them by "
                                                               "their threads (a 2-thread prior alone on 2 cores, "
                                                               "one-thread jobs two at a time; default: free cores)"),
               address: Optional[str] = typer.Option(None, help="Ray cluster address (executor ray)"),
               store: Optional[Path] = typer.Option(None, help="run store (default: $PRIORLAB_STORE or runs/store)"),
               quiet: bool = typer.Option(False, help="no progress display")):
    """Re-test published claims: run what they need (shared and reused), judge, write report.html."""
    from priorlab.claims.retest import retest

    if list_:
        _list(ids, scale)
        return
    if status:
        _status(ids, scale, store, workers)
        return
    results = retest(ids, scale, out, executor, workers, store, not quiet, address)
    t = Table(title=f"verdicts (scale {scale})")
    for col in ("claim", "verdict", "effect [95% CI]", "seeds"):
        t.add_column(col)
    for r in results:
        eff = "n/a" if r.effect is None else (f"{r.effect:+.3f}" + (
            f" [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if r.ci_low is not None else ""))
        t.add_row(f"{r.id} {r.title}", r.verdict, eff, str(r.seeds))
    console.print(t)
    console.print(f"report: [bold]{out / 'report.html'}[/], verdicts: {out / 'verdicts.json'}")


def register(app: typer.Typer) -> None:
    """Add ``retest`` to ``app``."""
    app.command("retest")(retest_cmd)
