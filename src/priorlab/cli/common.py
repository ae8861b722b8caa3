"""What every command group shares: the consoles, common options, config loading, the result
printers, and the one error handler (:class:`PriorlabGroup`, the root group's class).

Imports go one way: :mod:`priorlab.cli.main` imports the group modules (``train``, ``runs``,
``diagnostics``, ...), they import this module, and nothing below the CLI imports the CLI.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from priorlab.errors import PriorlabError

console = Console()
err_console = Console(stderr=True)

CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML config (default: the demo config)")
STORE_OPT = typer.Option(None, "--store", help="run store root (default $PRIORLAB_STORE or runs/store)")
SET_OPT = typer.Option([], "--set", "-s", help="override a field: --set pretrain.tokens=500000")
THREADS_OPT = typer.Option(None, min=1, help="torch threads; default: free cores")
JSON_OPT = typer.Option(False, "--json", help="print the JSON tables to stdout")
QUIET_OPT = typer.Option(False, help="no progress bars")

#: OS errors the user can fix (a path, a permission, a full or read-only disk; the errnos of
#: :data:`priorlab.checkpoint.STORAGE_ERRNOS`, not imported here to keep torch out of ``--help``).
FIXABLE_OS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
FIXABLE_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def user_error(e: BaseException) -> str | None:
    """The one-line message for an error the user can fix, None for anything else (a bug).

    :class:`~priorlab.errors.PriorlabError` says it all; an OS error names its file and the
    reason (``runs/x: No space left on device``); a non-finite loss stops a run on purpose."""
    if isinstance(e, (PriorlabError, FloatingPointError)):
        msg = str(e)
    elif isinstance(e, OSError) and (isinstance(e, FIXABLE_OS) or e.errno in FIXABLE_ERRNO):
        msg = str(e) if e.filename is None or e.strerror is None else \
            f"{e.filename}: {e.strerror}" + (f" (-> {e.filename2})" if e.filename2 else "")
    else:
        return None
    return " ".join(msg.split())  # one line, whatever a library put into it


class PriorlabGroup(TyperGroup):
    """The root command group: every error the user can fix, raised by any command at any depth,
    becomes ``error: <message>`` on one line of stderr and exit code 2; ``--debug`` (or
    ``PRIORLAB_DEBUG=1``) lets it propagate with its traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as e:
            msg = user_error(e)
            if msg is None or ctx.params.get("debug") or os.environ.get("PRIORLAB_DEBUG", "") not in ("", "0"):
                raise
            err_console.print(f"[bold red]error:[/] {escape(msg)}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None


def load_cfg(config: Optional[Path], sets: list[str]):
    """A prior config: ``config`` (default the demo config) with the ``--set`` overrides applied."""
    from priorlab.config import default_config_path, load_config

    return load_config(config or default_config_path("demo"), sets)


def eval_overrides(splits: str | None, depths: str | None, n_problems: int | None,
                   n_samples: int | None) -> list[str]:
    """``--set`` strings for the eval options shared by the commands (comma lists)."""
    extra = [f"eval.{k}=[{v}]" for k, v in (("splits", splits), ("depths", depths)) if v]
    return extra + [f"eval.{k}={v}" for k, v in (("n_problems", n_problems), ("n_samples", n_samples))
                    if v is not None]


def check_resume(out: Path, resume: bool) -> None:
    """``--resume`` continues a run that started: refuse a directory without its ``config.yaml``
    rather than start a fresh run under a name the user believes holds one."""
    from priorlab.errors import InputDataError

    if resume and not (out / "config.yaml").is_file():
        raise InputDataError(f"--resume: {out} holds no run to resume (no config.yaml); check the path, "
                             f"or drop --resume to start a new run there")


def print_rows(title: str, cols: list[str], rows: list, as_json: bool) -> None:
    """``rows`` as a table with ``cols`` (floats to 4 digits, None as '-'), or JSON objects."""
    if as_json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str))
        return
    table = Table(title=title, title_justify="left")
    for c in cols:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(escape("-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)) for v in r))
    console.print(table)


def fmt(x) -> str:
    """A table cell: '-' for None, 3 decimals for floats."""
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def _ci(r: dict) -> str:
    return f"{r['pass_at_k']:.3f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"


def print_before_after(summary: dict, out: Path) -> None:
    """Per split/depth: verified pass@1 and pass@n before -> after, with 95% CIs."""
    key = {(w, r["split"], r["depth"], r["metric"], r["k"]): r for w in ("before", "after") for r in summary[w]
           if r["format"] == "all" and r["context"] == "all"}
    n = max(k[4] for k in key)
    table = Table(title=f"before -> after training ({summary['steps']} steps; same problems and sampling seeds)")
    for col in ("split", "depth", "verified@1 before", "after", "delta", f"verified@{n} before", "after ",
                "answer@1 before -> after"):
        table.add_column(col)
    for split, depth in sorted({(k[1], k[2]) for k in key}):
        b1, a1 = key[("before", split, depth, "verified", 1)], key[("after", split, depth, "verified", 1)]
        bn, an = key[("before", split, depth, "verified", n)], key[("after", split, depth, "verified", n)]
        ba, aa = key[("before", split, depth, "answer", 1)], key[("after", split, depth, "answer", 1)]
        table.add_row(split, str(depth), _ci(b1), _ci(a1), f"{a1['pass_at_k'] - b1['pass_at_k']:+.3f}", _ci(bn),
                      _ci(an), f"{ba['pass_at_k']:.3f} -> {aa['pass_at_k']:.3f}")
    console.print(table)
    console.print(f"results: {out}/summary.json, metrics.jsonl, training.png, before/, after/ "
                  f"(checkpoint {summary['checkpoint']})")
    meta = Path(summary["checkpoint"]) / "priorlab.json"
    if meta.is_file() and (info := json.loads(meta.read_text())).get("click_lost"):
        warn_unclicked(info)


def print_summary(summary: dict, out: Path) -> None:
    """Per split/depth: verified pass@1 and pass@n with CIs, answer pass@1, chance, formats."""
    rows = [r for r in summary["passk"] if r["format"] == "all" and r["context"] == "all"]
    n = max(r["k"] for r in rows)
    table = Table(title=f"pass@k ({rows[0]['n_problems']} problems x {n} samples per depth)")
    for col in ("split", "depth", "in-dist", "verified@1 [95% CI]", f"verified@{n} [95% CI]",
                "answer@1", f"chance answer@{n}", "formats (share: verified acc)"):
        table.add_column(col)
    fmts = {}
    for f in summary["formats"]:
        fmts.setdefault((f["split"], f["depth"]), []).append(f"{f['format']} {f['share']:.0%}: {f['verified_acc']:.2f}")
    key = {(r["split"], r["depth"], r["metric"], r["k"]): r for r in rows}
    for split, depth in sorted({(r["split"], r["depth"]) for r in rows}):
        v1, vn = key[(split, depth, "verified", 1)], key[(split, depth, "verified", n)]
        a1, an = key[(split, depth, "answer", 1)], key[(split, depth, "answer", n)]
        table.add_row(split, str(depth), "yes" if v1["in_distribution"] else "no", _ci(v1), _ci(vn),
                      f"{a1['pass_at_k']:.3f}", f"{an['chance']:.3f}", "; ".join(fmts.get((split, depth), [])))
    console.print(table)
    console.print(f"results: {out}/summary.json, passk.parquet, samples.parquet, passk.png "
                  f"(checkpoint {summary['checkpoint']})")
    warn_unclicked(summary)


def warn_unclicked(info: dict) -> None:
    """Say so when a pretraining summary (or a model's ``priorlab.json``) records that the prior
    never left the loss plateau, or that a later stage lost its click: RL, sweeps and ``retest``
    refuse such a prior."""
    if info.get("clicked") is False and info.get("click_lost"):
        from priorlab.rl.config import unclicked_reason

        err_console.print(f"[yellow]warning:[/] this model {unclicked_reason(info)}, so RL, sweeps and retest will "
                          f"refuse it as a prior; pass allow_unclicked_prior=true to the consumer to study it.")
    elif info.get("clicked") is False:
        err_console.print(
            f"[yellow]warning:[/] this prior did not click (its probe's trace accuracy never held at the "
            f"threshold, pretrain.click_threshold; metrics.jsonl has every probe), so RL, sweeps and retest "
            f"will refuse it. Whether a seed clicks is chancy (docs/pretraining.md, \"The click study\"): train longer "
            f"(--set pretrain.tokens=9000000), try another seed (--set pretrain.seed=1 --set corpus.seed=1), "
            f"or pass allow_unclicked_prior=true to the consumer to study a plateaued prior.")


#: How each run kind's ``summary.json`` is printed (:attr:`priorlab.kinds.RunKind.summary`).
SUMMARY_PRINTERS = {"passk": print_summary, "before_after": print_before_after}
