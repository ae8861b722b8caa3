"""``priorlab`` command line (typer). Run ``priorlab --help`` for the tour."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Measure what RLVR adds to a controlled pretrained prior.")
world_app = typer.Typer(no_args_is_help=True, help="Inspect worlds: problems, formats, verdicts.")
app.add_typer(world_app, name="world")
console = Console()

CONFIG_OPT = typer.Option(None, "--config", "-c", help="YAML config (default: the demo config)")
STORE_OPT = typer.Option(None, "--store", help="run store root (default $PRIORLAB_STORE or runs/store)")
SET_OPT = typer.Option([], "--set", "-s", help="override a field: --set pretrain.tokens=500000")


def friendly(fn):
    """Turn config and input errors into one red line and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from priorlab.errors import PriorlabError

        try:
            return fn(*args, **kwargs)
        except (PriorlabError, FileNotFoundError, FloatingPointError) as e:
            console.print(f"[bold red]error:[/] {e}", soft_wrap=True)
            raise typer.Exit(2)

    return wrapper


def _config(config: Optional[Path], sets: list[str]):
    from priorlab.config import default_config_path, load_config

    return load_config(config or default_config_path("demo"), sets)


@app.command()
@friendly
def demo(out: Path = typer.Option(Path("runs/demo"), help="run directory"),
         config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
         resume: bool = typer.Option(False, help="continue an interrupted demo in OUT"),
         quiet: bool = typer.Option(False, help="no progress bars")):
    """World -> corpus -> prior trained from scratch -> pass@k evaluation, on CPU in minutes."""
    from priorlab.pretrain import pretrain_and_evaluate
    from priorlab.store import claim

    cfg = _config(config, set_)
    console.print(f"[bold]priorlab demo[/] -> {out}")
    with claim(out, "pretrain", cfg):
        summary = pretrain_and_evaluate(cfg, out, resume=resume, show=not quiet)
    print_summary(summary, out)


@app.command("pretrain")
@friendly
def pretrain_cmd(out: Optional[Path] = typer.Option(None, help="run directory; without it the run store's "
                                                                "pretrain-HASH (pretrain + eval.*, reused when "
                                                                "finished, resumed when not)"),
                 config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
                 resume: bool = typer.Option(False, help="continue from the latest checkpoint in OUT"),
                 store: Optional[Path] = STORE_OPT,
                 quiet: bool = typer.Option(False, help="no progress bars")):
    """Pretrain a prior from a composed corpus; writes OUT/model (HF directory)."""
    from priorlab.pretrain import pretrain
    from priorlab.store import claim

    cfg = _config(config, set_)
    if out is None:
        return _store_run("pretrain", cfg, store, quiet)
    with claim(out, "pretrain", cfg):
        model_dir = pretrain(cfg, out, resume=resume, show=not quiet)
    console.print(f"prior saved to [bold]{model_dir}[/]")


def _store_run(kind: str, cfg, store: Optional[Path], quiet: bool) -> None:
    """Run ``cfg`` in the store (``priorlab pretrain`` / ``rl`` without ``--out``)."""
    from priorlab.store import run

    status, out = run(kind, cfg, store, show=not quiet)
    summary = json.loads((out / "summary.json").read_text())
    (print_before_after if kind == "rl" else print_summary)(summary, out)
    console.print(f"{status}: [bold]{out}[/] (`priorlab runs show {out.name}`)")


@app.command("eval")
@friendly
def eval_cmd(checkpoint: Path = typer.Argument(..., help="HF model directory (e.g. RUN/model)"),
             out: Path = typer.Option(..., help="output directory"),
             config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
             splits: Optional[str] = typer.Option(None, help="comma list, e.g. eval,eval-contaminated"),
             depths: Optional[str] = typer.Option(None, help="comma list, e.g. 2,3,4"),
             n_problems: Optional[int] = typer.Option(None, help="problems per split/depth/context"),
             n_samples: Optional[int] = typer.Option(None, help="samples per problem (largest k)"),
             threads: Optional[int] = typer.Option(None, help="torch threads; default: free cores"),
             as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
             quiet: bool = typer.Option(False, help="no progress bars")):
    """Verified and answer-only pass@k with 95% CIs by split, depth, format and context.

    A checkpoint without priorlab.json (any HF causal LM) is evaluated on the config's world,
    e.g. --set world.name=dataset --set world.path=qa.jsonl (docs/diagnostics.md)."""
    from priorlab.evaluate import evaluate

    if not checkpoint.is_dir():
        raise FileNotFoundError(f"{checkpoint} is not a model directory (expected config.json + safetensors)")
    extra = [f"eval.{k}=[{v}]" for k, v in (("splits", splits), ("depths", depths)) if v]
    extra += [f"eval.{k}={v}" for k, v in (("n_problems", n_problems), ("n_samples", n_samples)) if v]
    cfg = _config(config, list(set_) + extra)
    summary = evaluate(checkpoint, cfg.eval, out, world_cfg=cfg.world, show=not (quiet or as_json), threads=threads)
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary, out)


def _rl_config(config: Optional[str], sets: list[str], out: Optional[Path], resume: bool):
    """An RL preset name (``grpo``, ``ppo``, ...) or YAML file; on ``--resume`` with neither,
    the run's own ``config.yaml``."""
    from priorlab.config import load_config
    from priorlab.rl.config import RLConfig, rl_config_path

    if config is None and resume and out is not None and (out / "config.yaml").exists():
        return load_config(out / "config.yaml", sets, model=RLConfig)
    return load_config(rl_config_path(config), sets, model=RLConfig)


@app.command("rl")
@friendly
def rl_cmd(out: Optional[Path] = typer.Option(None, help="run directory; without it the run store's rl-HASH "
                                                          "(reused when finished, resumed when not)"),
           prior: Optional[Path] = typer.Option(None, help="prior checkpoint (HF directory), e.g. runs/demo/model"),
           config: Optional[str] = typer.Option(None, "--config", "-c",
                                                help="RL preset (grpo, ppo, expert_iteration, w_reinforce) or "
                                                     "YAML file; default grpo"),
           set_: list[str] = SET_OPT,
           resume: bool = typer.Option(False, help="continue from the latest checkpoint in OUT"),
           store: Optional[Path] = STORE_OPT,
           quiet: bool = typer.Option(False, help="no progress bars")):
    """RLVR on a prior: rollout -> reward -> advantage -> loss -> step; before/after pass@k."""
    from priorlab.rl.trainer import train
    from priorlab.store import claim

    sets = list(set_) + ([f"prior={prior}"] if prior else [])
    cfg = _rl_config(config, sets, out, resume)
    if out is None:
        return _store_run("rl", cfg, store, quiet)
    with claim(out, "rl", cfg):
        summary = train(cfg, out, resume=resume, show=not quiet)
    print_before_after(summary, out)


def print_before_after(summary: dict, out: Path) -> None:
    """Per split/depth: verified pass@1 and pass@n before -> after, with 95% CIs."""
    key = {(w, r["split"], r["depth"], r["metric"], r["k"]): r for w in ("before", "after") for r in summary[w]
           if r["format"] == "all" and r["context"] == "all"}
    n = max(k[4] for k in key)
    table = Table(title=f"before -> after RL ({summary['steps']} steps; same problems and sampling seeds)")
    for col in ("split", "depth", "verified@1 before", "after", "delta", f"verified@{n} before", "after ",
                "answer@1 before -> after"):
        table.add_column(col)
    for split, depth in sorted({(k[1], k[2]) for k in key}):
        b1, a1 = key[("before", split, depth, "verified", 1)], key[("after", split, depth, "verified", 1)]
        bn, an = key[("before", split, depth, "verified", n)], key[("after", split, depth, "verified", n)]
        ba, aa = key[("before", split, depth, "answer", 1)], key[("after", split, depth, "answer", 1)]
        ci = lambda r: f"{r['pass_at_k']:.3f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"  # noqa: E731
        table.add_row(split, str(depth), ci(b1), ci(a1), f"{a1['pass_at_k'] - b1['pass_at_k']:+.3f}", ci(bn), ci(an),
                      f"{ba['pass_at_k']:.3f} -> {aa['pass_at_k']:.3f}")
    console.print(table)
    console.print(f"results: {out}/summary.json, metrics.jsonl, training.png, before/, after/ "
                  f"(checkpoint {summary['checkpoint']})")


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
        table.add_row(split, str(depth), "yes" if v1["in_distribution"] else "no",
                      f"{v1['pass_at_k']:.3f} [{v1['ci_low']:.2f}, {v1['ci_high']:.2f}]",
                      f"{vn['pass_at_k']:.3f} [{vn['ci_low']:.2f}, {vn['ci_high']:.2f}]",
                      f"{a1['pass_at_k']:.3f}", f"{an['chance']:.3f}", "; ".join(fmts.get((split, depth), [])))
    console.print(table)
    console.print(f"results: {out}/summary.json, passk.parquet, samples.parquet, passk.png "
                  f"(checkpoint {summary['checkpoint']})")


@world_app.command("show")
@friendly
def world_show(config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
               split: str = "eval", depth: int = 3, n: int = 2, context: Optional[str] = None):
    """Print problems with their solutions in every format, and the verifier's verdict."""
    world = _config(config, set_).world.build()
    for i in range(n):
        try:
            p = world.problem(split, i, depth, context)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        console.print(f"[bold]{p.split}[{p.index}] depth {p.depth} ({p.context})[/]  {p.prompt}")
        for fmt in world.formats:
            sol = world.render_solution(p, fmt)
            v = world.verify(p, sol)
            console.print(f"  [cyan]{fmt:>7}[/] {sol}   [dim]format={v.format} verified={v.verified} "
                          f"answer={v.answer_correct}[/]")


from priorlab.diagnostics.cli import register as register_diagnostics  # noqa: E402  (passk, diff, probe)
from priorlab.runs_cli import register as register_runs  # noqa: E402  (runs ls/show/query, sweep)

register_diagnostics(app)
from priorlab.report.cli import register as register_report  # noqa: E402  (report DIR)
register_report(app)
from priorlab.claims.cli import register as register_claims  # noqa: E402  (retest)
register_claims(app)
register_runs(app)

if __name__ == "__main__":  # pragma: no cover
    app()
