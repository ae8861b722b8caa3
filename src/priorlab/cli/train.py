"""``priorlab demo | pretrain | eval | rl | sft | rlp`` and ``priorlab world show``: make priors, evaluate
them, run RL or SFT on them. :func:`register` adds them to the main app (:mod:`priorlab.cli.main`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from priorlab.cli.common import (
    CONFIG_OPT, QUIET_OPT, SET_OPT, STORE_OPT, THREADS_OPT, check_resume, console, eval_overrides, load_cfg,
    SUMMARY_PRINTERS, print_summary, warn_unclicked,
)


def demo(out: Path = typer.Option(Path("runs/demo"), help="run directory"),
         config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
         resume: bool = typer.Option(False, help="continue an interrupted demo in OUT"),
         quiet: bool = QUIET_OPT):
    """World -> corpus -> prior trained from scratch -> pass@k evaluation, on CPU in minutes."""
    from priorlab.pretrain import pretrain_and_evaluate
    from priorlab.store import claim

    cfg = load_cfg(config, set_)
    check_resume(out, resume)
    console.print(f"[bold]priorlab demo[/] -> {out}")
    with claim(out, "pretrain", cfg):
        summary = pretrain_and_evaluate(cfg, out, resume=resume, show=not quiet)
    print_summary(summary, out)


def pretrain_cmd(out: Optional[Path] = typer.Option(None, help="run directory; without it the run store's "
                                                                "pretrain-HASH (pretrain + eval.*, reused when "
                                                                "finished, resumed when not)"),
                 config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
                 resume: bool = typer.Option(False, help="continue from the latest checkpoint in OUT"),
                 store: Optional[Path] = STORE_OPT,
                 quiet: bool = QUIET_OPT):
    """Pretrain a prior from a composed corpus; writes OUT/model (HF directory)."""
    from priorlab.pretrain import pretrain
    from priorlab.store import claim

    cfg = load_cfg(config, set_)
    if out is None:
        return _store_run("pretrain", cfg, store, quiet)
    check_resume(out, resume)
    with claim(out, "pretrain", cfg):
        model_dir = pretrain(cfg, out, resume=resume, show=not quiet)
    console.print(f"prior saved to [bold]{model_dir}[/]")
    warn_unclicked(json.loads((model_dir / "priorlab.json").read_text()))


def _store_run(kind: str, cfg, store: Optional[Path], quiet: bool) -> None:
    """Run ``cfg`` in the store (``priorlab pretrain`` / ``rl`` without ``--out``)."""
    from priorlab.store import run

    from priorlab.kinds import get_kind

    status, out = run(kind, cfg, store, show=not quiet)
    summary = json.loads((out / "summary.json").read_text())
    SUMMARY_PRINTERS[get_kind(kind).summary](summary, out)
    console.print(f"{status}: [bold]{out}[/] (`priorlab runs show {out.name}`)")


def eval_cmd(checkpoint: Path = typer.Argument(..., help="HF model directory (e.g. RUN/model)"),
             out: Path = typer.Option(..., help="output directory"),
             config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
             splits: Optional[str] = typer.Option(None, help="comma list, e.g. eval,eval-contaminated"),
             depths: Optional[str] = typer.Option(None, help="comma list, e.g. 2,3,4"),
             n_problems: Optional[int] = typer.Option(None, help="problems per split/depth/context"),
             n_samples: Optional[int] = typer.Option(None, help="samples per problem (largest k)"),
             threads: Optional[int] = THREADS_OPT,
             as_json: bool = typer.Option(False, "--json", help="print summary.json to stdout"),
             quiet: bool = QUIET_OPT):
    """Verified and answer-only pass@k with 95% CIs by split, depth, format and context.

    A checkpoint without priorlab.json (any HF causal LM) is evaluated on the config's world,
    e.g. --set world.name=dataset --set world.path=qa.jsonl (docs/diagnostics.md)."""
    from priorlab.evaluate import evaluate
    from priorlab.model import check_model_dir

    check_model_dir(checkpoint)
    cfg = load_cfg(config, list(set_) + eval_overrides(splits, depths, n_problems, n_samples))
    summary = evaluate(checkpoint, cfg.eval, out, world_cfg=cfg.world, show=not (quiet or as_json), threads=threads)
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print_summary(summary, out)


def _kind_config(kind: str, config: Optional[str], sets: list[str], out: Optional[Path], resume: bool):
    """A preset name of run kind ``kind`` (``rl``: grpo, ppo, ...; ``sft``: distill, ...) or YAML
    file; on ``--resume`` with neither, the run's own ``config.yaml``."""
    from priorlab.config import load_config
    from priorlab.kinds import get_kind

    k = get_kind(kind)
    if config is None and resume and out is not None and (out / "config.yaml").exists():
        return load_config(out / "config.yaml", sets, model=k.config_model())
    return load_config(k.base_path(config), sets, model=k.config_model())


def _train_cmd(kind: str, cfg, out: Optional[Path], resume: bool, store: Optional[Path], quiet: bool) -> None:
    """Run ``cfg`` of ``kind`` into ``out`` (claimed, as the store does), or in the store without it."""
    from priorlab.kinds import get_kind
    from priorlab.store import claim

    if out is None:
        return _store_run(kind, cfg, store, quiet)
    check_resume(out, resume)
    with claim(out, kind, cfg):
        summary = get_kind(kind).run(cfg, out, resume=resume, show=not quiet)
    SUMMARY_PRINTERS[get_kind(kind).summary](summary, out)


OUT_OPT = typer.Option(None, help="run directory; without it the run store's <kind>-HASH (reused when finished, "
                                  "resumed when not)")
PRIOR_OPT = typer.Option(None, help="prior checkpoint (HF directory), e.g. runs/demo/model")
RESUME_OPT = typer.Option(False, help="continue from the latest checkpoint in OUT")


def rl_cmd(out: Optional[Path] = OUT_OPT, prior: Optional[Path] = PRIOR_OPT,
           config: Optional[str] = typer.Option(None, "--config", "-c",
                                                help="RL preset (grpo, ppo, expert_iteration, w_reinforce) or "
                                                     "YAML file; default grpo"),
           set_: list[str] = SET_OPT, resume: bool = RESUME_OPT, store: Optional[Path] = STORE_OPT,
           quiet: bool = QUIET_OPT):
    """RLVR on a prior: rollout -> reward -> advantage -> loss -> step; before/after pass@k."""
    sets = list(set_) + ([f"prior={prior}"] if prior else [])
    _train_cmd("rl", _kind_config("rl", config, sets, out, resume), out, resume, store, quiet)


def sft_cmd(out: Optional[Path] = OUT_OPT, prior: Optional[Path] = PRIOR_OPT,
            teacher: Optional[Path] = typer.Option(None, help="teacher checkpoint (HF directory) of the prior's "
                                                              "world, e.g. a stronger prior's RUN/model"),
            config: Optional[str] = typer.Option(None, "--config", "-c",
                                                 help="SFT preset (distill: all teacher samples; rft: verified "
                                                      "ones; demos: world-rendered demonstrations) or YAML file; "
                                                      "default distill"),
            set_: list[str] = SET_OPT, resume: bool = RESUME_OPT, store: Optional[Path] = STORE_OPT,
            quiet: bool = QUIET_OPT):
    """SFT of a prior on a teacher's completions (unfiltered or verified) or on demonstrations; loss on
    completion tokens only; before/after pass@k."""
    sets = list(set_) + ([f"prior={prior}"] if prior else []) + ([f"teacher={teacher}"] if teacher else [])
    _train_cmd("sft", _kind_config("sft", config, sets, out, resume), out, resume, store, quiet)


def rlp_cmd(out: Optional[Path] = OUT_OPT, prior: Optional[Path] = PRIOR_OPT,
            config: Optional[str] = typer.Option(None, "--config", "-c", help="RLP preset (rlp) or YAML file; "
                                                                              "default rlp"),
            set_: list[str] = SET_OPT, resume: bool = RESUME_OPT, store: Optional[Path] = STORE_OPT,
            quiet: bool = QUIET_OPT):
    """RL during pretraining (RLP): thoughts before document tokens, rewarded by their information gain
    over an EMA no-think baseline; before/after pass@k, tokens seen and FLOPs (docs/rlp.md)."""
    sets = list(set_) + ([f"prior={prior}"] if prior else [])
    _train_cmd("rlp", _kind_config("rlp", config, sets, out, resume), out, resume, store, quiet)


def world_show(config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
               split: str = "eval", depth: int = 3, n: int = 2, context: Optional[str] = None):
    """Print problems with their solutions in every format, and the verifier's verdict."""
    world = load_cfg(config, set_).world.build()
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


def register(app: typer.Typer) -> None:
    """Add ``demo``, ``pretrain``, ``eval``, ``rl``, ``sft``, ``rlp`` and the ``world`` group (``world show``) to ``app``."""
    app.command()(demo)
    app.command("pretrain")(pretrain_cmd)
    app.command("eval")(eval_cmd)
    app.command("rl")(rl_cmd)
    app.command("sft")(sft_cmd)
    app.command("rlp")(rlp_cmd)
    world_app = typer.Typer(no_args_is_help=True, help="Inspect worlds: problems, formats, verdicts.")
    world_app.command("show")(world_show)
    app.add_typer(world_app, name="world")
