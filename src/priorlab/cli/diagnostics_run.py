"""Diagnostics of one RL run directory: ``priorlab formats``, ``priorlab entropy``, ``priorlab shortcuts``.

Registered by :mod:`priorlab.cli.main`. Each reads ``priorlab rl --out RUN_DIR``
(:mod:`~priorlab.diagnostics.rundir`), writes ``NAME.json`` (meta + every table),
``NAME_TABLE.parquet`` per table and ``NAME.png`` into ``--out`` (default ``RUN_DIR/diagnostics``),
and prints a short table, or the JSON with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from priorlab.cli.common import JSON_OPT, THREADS_OPT, console, fmt
from priorlab.cli.diagnostics import check_metric, write_tables

OUT_OPT = typer.Option(None, help="output directory (default: RUN_DIR/diagnostics)")
BOOT_OPT = typer.Option(1000, min=10, help="bootstrap resamples (over problems) for the 95% CIs")
SEED_OPT = typer.Option(0, help="bootstrap seed")
RUN_ARG = typer.Argument(..., help="directory of a `priorlab rl` run")


def _emit(name: str, run_dir: Path, out: Path | None, tables: dict, meta: dict, as_json: bool,
          show: tuple[str, list], plot) -> None:
    """Write tables and the plot, then print the JSON or the ``show`` = (table, columns) table;
    a column given as ``(value, ci_low, ci_high)`` keys prints as ``value [low, high]``."""
    out = out or run_dir / "diagnostics"
    doc = write_tables(out, name, tables, {"run_dir": str(run_dir)} | meta)
    plot(out / f"{name}.png")
    if as_json:
        print(json.dumps(doc, default=str))
        return
    key, cols = show
    table = Table(title=f"{name}: {key}" + (" [95% CI]" if any(isinstance(c, tuple) for c in cols) else ""))
    for c in cols:
        table.add_column(c[0] if isinstance(c, tuple) else c)
    for r in tables[key]:
        table.add_row(*(f"{fmt(r[c[0]])} [{r[c[1]]:.2f}, {r[c[2]]:.2f}]" if isinstance(c, tuple) else fmt(r[c])
                        for c in cols))
    console.print(table)
    console.print(f"results: {out}/{name}.json, {name}_*.parquet, {name}.png")


def register(app: typer.Typer) -> None:
    """Add ``formats``, ``entropy`` and ``shortcuts`` to ``app``."""
    @app.command("formats")
    def formats_cmd(run_dir: Path = RUN_ARG, out: Optional[Path] = OUT_OPT,
                    metric: str = typer.Option("verified", help="correctness for C_d: verified or answer"),
                    bootstrap: int = BOOT_OPT, seed: int = SEED_OPT, as_json: bool = JSON_OPT):
        """Format shares and accuracy over RL steps; partial contribution C_d of format switches."""
        from priorlab.diagnostics import formats as F
        from priorlab.diagnostics.rundir import metrics_rows, paired_samples

        check_metric(metric)
        traj = F.format_trajectory(metrics_rows(run_dir))
        contrib = [{"eval": name} | r for name, (b, a) in paired_samples(run_dir).items()
                   for r in F.partial_contribution(b, a, metric, bootstrap, seed)]
        _emit("formats", run_dir, out, {"trajectory": traj, "contribution": contrib},
              {"metric": metric, "bootstrap": bootstrap, "seed": seed}, as_json,
              ("contribution", ["eval", "split", "format_before", "format_after", "n", "delta",
                                ("contribution", "ci_low", "ci_high")]),
              lambda p: F.plot_formats(traj, contrib, p))

    @app.command("entropy")
    def entropy_cmd(run_dir: Path = RUN_ARG, out: Optional[Path] = OUT_OPT,
                    n_problems: int = typer.Option(8, min=1, help="eval problems per band depth and context"),
                    n_samples: int = typer.Option(4, min=1, help="samples per problem"),
                    seed: int = typer.Option(0, help="sampling seed (the same for every checkpoint)"),
                    threads: Optional[int] = THREADS_OPT,
                    as_json: bool = JSON_OPT):
        """Mean token entropy per role (plan / compute / answer / other) at every checkpoint."""
        from priorlab import runtime
        from priorlab.diagnostics.entropy import entropy_over_training, plot_entropy

        runtime.set_threads(threads)
        rows = entropy_over_training(run_dir, n_problems, n_samples, seed)
        _emit("entropy", run_dir, out, {"roles": rows},
              {"n_problems": n_problems, "n_samples": n_samples, "seed": seed}, as_json,
              ("roles", ["step", "role", "mean_entropy", "n_tokens", "token_share"]), lambda p: plot_entropy(rows, p))

    @app.command("shortcuts")
    def shortcuts_cmd(run_dir: Path = RUN_ARG, out: Optional[Path] = OUT_OPT, bootstrap: int = BOOT_OPT,
                      seed: int = SEED_OPT, as_json: bool = JSON_OPT):
        """Answer repetition, skipped computation, truncation (before vs after) and easy-item regression."""
        from priorlab.diagnostics import shortcuts as S
        from priorlab.diagnostics.rundir import paired_samples, run_world

        world = run_world(run_dir)
        rows, regression = [], []
        for name, (b, a) in paired_samples(run_dir).items():
            for phase, recs in (("before", b), ("after", a)):
                rows += [{"eval": name, "phase": phase} | r
                         for r in S.shortcut_rows(recs, world, n_boot=bootstrap, seed=seed)]
            regression += [{"eval": name} | r for r in S.easy_regression(b, a)]
        ci = [(k, f"{k}_ci_low", f"{k}_ci_high") for k in ("repeat_share", "right_not_verified", "fewer_steps")]
        _emit("shortcuts", run_dir, out, {"detectors": rows, "regression": regression},
              {"bootstrap": bootstrap, "seed": seed}, as_json,
              ("detectors", ["eval", "phase", "split", "depth", ci[0], "answer_entropy", *ci[1:], "truncated"]),
              lambda p: S.plot_shortcuts(rows, p))
