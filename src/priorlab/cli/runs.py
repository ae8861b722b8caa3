"""``priorlab runs ls | show ID | query SQL`` and ``priorlab sweep FILE`` (see docs/runs.md).

:func:`register` adds them to the main typer app (:mod:`priorlab.cli.main`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from priorlab.cli.common import console, print_before_after, print_rows, print_summary

STORE_OPT = typer.Option(None, "--store", help="store root (default $PRIORLAB_STORE or runs/store)")
JSON_OPT = typer.Option(False, "--json", help="print JSON instead of a table")


def runs_ls(store: Optional[Path] = STORE_OPT, as_json: bool = JSON_OPT):
    """Every run in the store: id, kind, status (resumable ones say from where), when, wall, error."""
    from priorlab.store import list_runs, store_root

    runs = list_runs(store)
    if as_json:
        print(json.dumps(runs, default=str))
        return
    cols = ["id", "kind", "status", "started", "wall_s", "host", "error"]
    rows = [[r["id"], r.get("kind"), r["status"] + (f" (resume: {r['resumable']})" if r["resumable"] else ""),
             (r.get("started_at") or "")[:19], r.get("wall_s"), r.get("host"), (r.get("error") or "")[:80]]
            for r in runs]
    print_rows(f"{len(runs)} runs in {store_root(store)}", cols, rows, False)


def runs_show(run: str = typer.Argument(..., help="run id, unique id prefix, or run directory"),
              store: Optional[Path] = STORE_OPT, as_json: bool = JSON_OPT):
    """One run: its record, the config fields that differ from the defaults, and its results."""
    from priorlab.catalog import run_row
    from priorlab.store import describe, find_run

    d = find_run(run, store)
    rec = describe(d)
    summary = json.loads((d / "summary.json").read_text()) if (d / "summary.json").exists() else None
    if as_json:
        print(json.dumps({"run": rec, "row": run_row(rec), "summary": summary}, default=str))
        return
    for key in ("id", "kind", "status", "resumable", "dir", "hash", "code_version", "git_commit", "host", "pid",
                "created_at", "started_at", "ended_at", "wall_s", "attempts", "resumed_from", "error"):
        if rec.get(key) is not None:
            console.print(f"[bold]{key:>13}[/] {escape(str(rec[key]))}", soft_wrap=True)
    if summary and "before" in summary:
        print_before_after(summary, d)
    elif summary and "passk" in summary:
        print_summary(summary, d)


def runs_query(sql: str = typer.Argument(..., help='e.g. "SELECT run_id, run_status FROM runs"'),
               store: Optional[Path] = STORE_OPT, as_json: bool = JSON_OPT):
    """SQL (DuckDB) over the views runs, metrics, passk, samples of every run in the store."""
    from priorlab.catalog import query

    cols, rows = query(sql, store)
    print_rows(f"{len(rows)} rows", cols, rows, as_json)


def sweep_cmd(file: Path = typer.Argument(..., help="sweep YAML (kind, config, set, grid, zip, seeds, executor)"),
              executor: Optional[str] = typer.Option(None, help="local or ray (default: the file's, else local)"),
              workers: Optional[int] = typer.Option(None, help="local: processes at a time (default free cores "
                                                               "// threads)"),
              retries: Optional[int] = typer.Option(None, help="extra attempts of a failed job (default 1)"),
              address: Optional[str] = typer.Option(None, help="ray: cluster address, e.g. auto"),
              store: Optional[Path] = STORE_OPT,
              out: Optional[Path] = typer.Option(None, help="sweep directory for sweep.json (default "
                                                            "STORE/sweeps/FILE-STEM)"),
              dry_run: bool = typer.Option(False, "--dry-run", help="list the jobs and their run ids, run nothing"),
              quiet: bool = typer.Option(False, help="no live table")):
    """Run a grid x zip x seeds sweep in the store; finished runs are reused, unfinished ones resume."""
    from pydantic import ValidationError

    from priorlab.config import ConfigError
    from priorlab.overrides import first_error
    from priorlab.store import run_id, run_status, store_root
    from priorlab.sweep import run_jobs
    from priorlab.sweep_spec import expand, load_spec

    spec = load_spec(file)
    over = {k: v for k, v in dict(executor=executor, workers=workers, retries=retries, address=address,
                                  store=str(store) if store else None).items() if v is not None}
    try:
        spec = spec.model_validate(spec.model_dump() | over)
    except ValidationError as e:
        raise ConfigError(f"--{first_error(e, type(spec))}") from None
    jobs = expand(file, spec)
    root = store_root(spec.store)
    if dry_run:
        rows = []
        for j in jobs:
            rid = run_id(j.kind, j.config)
            rows.append([j.name or "-", rid, run_status(root / rid) if (root / rid).exists() else "new"])
        print_rows(f"{len(jobs)} jobs, store {root}", ["job", "run", "status"], rows, False)
        return
    sweep_dir = out or root / "sweeps" / file.stem
    try:
        results = run_jobs(jobs, executor=spec.executor, workers=spec.workers, retries=spec.retries, store=root,
                           show=not quiet, address=spec.address, sweep_dir=sweep_dir)
    except KeyboardInterrupt:
        console.print(f"[bold red]interrupted[/]: rerun the same command to reuse the finished runs and resume "
                      f"the others; record: {sweep_dir / 'sweep.json'}")
        raise typer.Exit(130) from None
    failed = [r for r in results if r.status == "failed"]
    console.print(f"{len(results) - len(failed)}/{len(results)} jobs done "
                  f"({sum(r.status == 'reused' for r in results)} reused); record: {sweep_dir / 'sweep.json'}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``runs`` (ls, show, query) and ``sweep`` to ``app``."""
    runs_app = typer.Typer(no_args_is_help=True, help="The run store: list, inspect and query runs (SQL).")
    runs_app.command("ls")(runs_ls)
    runs_app.command("show")(runs_show)
    runs_app.command("query")(runs_query)
    app.add_typer(runs_app, name="runs")
    app.command("sweep")(sweep_cmd)
