"""Diagnostics commands on checkpoints: ``priorlab passk``, ``priorlab calibration``, ``priorlab diff``,
``priorlab probe contamination`` (the run-directory ones are in :mod:`~priorlab.cli.diagnostics_run`).

:func:`register` adds them to the main typer app (:mod:`priorlab.cli.main`). Every command writes
its tidy tables (Parquet + one JSON) and a PNG into ``--out``; ``--json`` prints the JSON instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from priorlab.cli.common import (
    CONFIG_OPT, JSON_OPT, QUIET_OPT, SET_OPT, THREADS_OPT, console, eval_overrides, fmt, load_cfg,
)


def unique_labels(paths: list[Path]) -> list[str]:
    """Checkpoint paths as labels; a repeated path gets ``#2``, ``#3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        seen[str(p)] = seen.get(str(p), 0) + 1
        out.append(str(p) if seen[str(p)] == 1 else f"{p}#{seen[str(p)]}")
    return out


def shared_world(checkpoints: list[Path], world_cfg):
    """The world every checkpoint was trained on (``world_cfg`` for foreign checkpoints)."""
    from priorlab.diagnostics import DiagnosticInputError
    from priorlab.evaluate import checkpoint_meta, world_for

    worlds = {json.dumps(checkpoint_meta(c).get("world"), sort_keys=True): c for c in checkpoints}
    worlds.pop("null", None)
    if len(worlds) > 1:
        a, b = list(worlds.values())[:2]
        raise DiagnosticInputError(f"{a} and {b} were trained on different worlds (priorlab.json 'world'); "
                                   f"compare checkpoints of the same world")
    ref = next(iter(worlds.values()), checkpoints[0])
    return world_for(ref, None if worlds else world_cfg), ref


def sample_checkpoints(checkpoints: list[Path], cfg, threads: int | None, show: bool) -> dict[str, list[dict]]:
    """``{label: records}`` of :func:`priorlab.evaluate.sample_eval` for every checkpoint on the
    same problems with the same seeds (``cfg.eval``), labels from :func:`unique_labels`."""
    from priorlab import runtime
    from priorlab.evaluate import contexts_for, sample_eval
    from priorlab.model import load_model
    from priorlab.tokenizer import load_tokenizer

    world, ref = shared_world(checkpoints, cfg.world)
    contexts = contexts_for(cfg.eval.contexts, ref, world)
    runtime.set_threads(threads)
    records = {}
    for label, ckpt in zip(unique_labels(checkpoints), checkpoints):
        model, tok = load_model(ckpt, runtime.device()), load_tokenizer(ckpt)
        records[label] = sample_eval(model, tok, world, cfg.eval, contexts, show)[0]
    return records


def _check_dirs(paths: list[Path]) -> None:
    """Every path is a loadable model directory (before any of them is sampled)."""
    from priorlab.model import check_model_dir

    for p in paths:
        check_model_dir(p)


def write_tables(out: Path, name: str, tables: dict[str, list[dict]], meta: dict) -> dict:
    """``out/{name}.json`` (meta + every table) and ``out/{name}_{table}.parquet`` per table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from priorlab.runs import write_json

    out.mkdir(parents=True, exist_ok=True)
    for t, rows in tables.items():
        if rows:
            pq.write_table(pa.Table.from_pylist(rows), out / f"{name}_{t}.parquet")
    doc = meta | tables
    write_json(out / f"{name}.json", doc)
    return doc


def write_samples(out: Path, records: dict[str, list[dict]]) -> None:
    """``out/samples.parquet``: every completion of every model, with a ``model`` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([r | {"model": m} for m, rs in records.items() for r in rs]),
                   out / "samples.parquet")


def check_metric(metric: str) -> None:
    """``--metric`` must be a correctness field of the eval records (verified / answer)."""
    from priorlab.evaluate import METRICS

    if metric not in METRICS:
        raise typer.BadParameter(f"--metric {metric!r}: use one of {', '.join(METRICS)}")


def _print_passk(res: dict, metric: str, n: int, out: Path) -> None:
    """Pooled-over-depths table: pass@1 and pass@n with CIs, crossover, Δ_SE, solvable sets."""
    cur = {(r["split"], r["model"], r["k"]): r for r in res["curves"] if r["depth"] is None}
    cmp = {(c["split"], c["model"]): c for c in res["comparisons"] if c["depth"] is None}
    kmax = max(k for *_, k in cur)
    table = Table(title=f"{metric} pass@k [95% CI], pooled over depths; first model = reference (ref); "
                        f"sig. = CI of ref - model excludes 0 at the crossover; Δ_SE = ref@{n} - model@1")
    for col in ("split", "model", "pass@1", f"pass@{kmax}", "crossover k", "sig.", "Δ_SE", "only ref / model"):
        table.add_column(col, no_wrap=col in ("split", "crossover k"))
    for (split, model, k), r in cur.items():
        if k != 1:
            continue
        top, c = cur[(split, model, kmax)], cmp.get((split, model), {})
        table.add_row(split, model, f"{r['pass_at_k']:.3f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
                      f"{top['pass_at_k']:.3f} [{top['ci_low']:.2f}, {top['ci_high']:.2f}]",
                      fmt(c.get("crossover_k")), fmt(c.get("crossover_significant")), fmt(c.get("delta_se")),
                      f"{c['n_only_ref']} / {c['n_only_model']}" if c else "-")
    console.print(table)
    console.print(f"results: {out}/passk.json, passk_*.parquet, samples.parquet, passk.png")


def _print_diff(tables: dict, out: Path) -> None:
    """Overall changed fraction per dtype and tolerance, mean rank ratio, overlap lines."""
    overall = [r for r in tables["sparsity"] if r["scope"] == "overall"]
    tols = sorted({r["tol"] for r in overall})
    table = Table(title=f"fraction of {overall[0]['n_params']:,} parameters changed (|Δ| > tol)")
    for col in ["dtype"] + [f"tol {t:g}" for t in tols] + ["mean rank ratio"]:
        table.add_column(col)
    for dt in sorted({r["dtype"] for r in overall}, reverse=True):
        frac = {r["tol"]: r["changed_frac"] for r in overall if r["dtype"] == dt}
        ratios = [r["rank_ratio"] for r in tables["ranks"] if r["dtype"] == dt]
        table.add_row(dt, *(f"{frac[t]:.4f}" for t in tols), fmt(sum(ratios) / len(ratios) if ratios else None))
    console.print(table)
    for r in tables["overlap"]:
        if r["tol"] in (0.0, 1e-5):
            console.print(f"overlap {r['dtype']} tol {r['tol']:g}: o1 {fmt(r['o1'])} (random {r['o1_random']:.3f}), "
                          f"o2 {fmt(r['o2'])} (random {r['o2_random']:.3f})")
    console.print(f"results: {out}/diff.json, diff_*.parquet, diff.png")


def _print_contamination(summary: list[dict], mode: str, out: Path) -> None:
    table = Table(title=f"partial-prompt probe ({mode}, greedy; means over items)")
    for col in ("split", "prefix", "items", "exact match", "ROUGE-L", "answer contained"):
        table.add_column(col, no_wrap=col == "split")
    for r in summary:
        table.add_row(r["split"], f"{r['fraction']:.0%}", str(r["n_items"]), fmt(r["exact_match"]),
                      fmt(r["rouge_l"]), fmt(r["answer_contained"]))
    console.print(table)
    console.print(f"results: {out}/contamination.json, contamination_*.parquet, contamination.png")


def _print_priors(rows: list[dict], out: Path) -> None:
    n = rows[0]["n"]
    table = Table(title=f"priors: composition asked -> actual, click, verified pass@k [95% CI] (n = {n})")
    for col in ("prior", "formats asked -> actual", "clicked", "split", "depth", "verified@1", f"verified@{n}",
                "formats (share: verified acc)"):
        table.add_column(col)
    for r in rows:
        mix = ", ".join(f"{k[6:]} {r[k]:.0%}->{r.get('actual_' + k[6:], 0):.0%}" for k in r if k.startswith("asked_"))
        click = {None: "not probed", False: "no"}.get(r["clicked"], f"step {r['click_step']}")
        ci = lambda key: f"{fmt(r[key])} [{r[key + '_ci_low']:.2f}, {r[key + '_ci_high']:.2f}]"  # noqa: E731
        fmts = "; ".join(f"{k[6:]} {r[k]:.0%}: {fmt(r['acc_' + k[6:]])}" for k in r if k.startswith("share_"))
        table.add_row(r["prior"], mix, click, r["split"], str(r["depth"]), ci("verified_at_1"), ci(f"verified_at_{n}"),
                      fmts)
    console.print(table)
    console.print(f"results: {out}/priors.json, priors_rows.parquet, priors.png")


def _register_priors(app: typer.Typer) -> None:
    @app.command("priors")
    def priors_cmd(runs: list[Path] = typer.Argument(..., help="pretraining run directories (priorlab demo, store "
                                                               "pretrain-*, or pretrain --out evaluated into RUN/eval)"),
                   out: Path = typer.Option(Path("priors"), help="output directory: priors.json, "
                                                                 "priors_rows.parquet, priors.png"),
                   as_json: bool = typer.Option(False, "--json", help="print the rows as JSON instead of the table")):
        """Compare priors: composition asked vs actual, click step, verified pass@1 / pass@n and formats per depth."""
        from priorlab.diagnostics.priors import plot_priors, prior_rows

        rows = prior_rows(runs)
        write_tables(out, "priors", {"rows": rows}, {"runs": [str(r) for r in runs]})
        plot_priors(rows, out / "priors.png")
        if as_json:
            print(json.dumps(rows, default=str))
        else:
            _print_priors(rows, out)


def register(app: typer.Typer) -> None:
    """Add ``passk``, ``calibration``, ``diff``, ``priors`` and the ``probe`` group (``probe contamination``) to ``app``."""
    _register_passk(app)
    _register_calibration(app)
    _register_diff(app)
    _register_priors(app)
    probe_app = typer.Typer(no_args_is_help=True, help="Probe one checkpoint (contamination).")
    app.add_typer(probe_app, name="probe")
    _register_contamination(probe_app)


DEPTHS_OPT = typer.Option(None, help="comma list, e.g. 2,3,4")
OUT_OPT = typer.Option(..., help="output directory")
SPLITS_OPT = typer.Option(None, help="comma list, e.g. eval,eval-contaminated")
N_PROBLEMS_OPT = typer.Option(None, help="problems per split/depth/context")
METRIC_OPT = typer.Option("verified", help="correctness: verified (strict trace) or answer")


def _register_passk(app: typer.Typer) -> None:
    @app.command("passk")
    def passk_cmd(checkpoints: list[Path] = typer.Argument(..., help="HF model dirs; the first is the reference (base)"),
                  out: Path = OUT_OPT, config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
                  splits: Optional[str] = SPLITS_OPT, depths: Optional[str] = DEPTHS_OPT,
                  n_problems: Optional[int] = N_PROBLEMS_OPT,
                  n_samples: Optional[int] = typer.Option(None, help="samples per problem n (largest k), e.g. 256"),
                  metric: str = METRIC_OPT, threads: Optional[int] = THREADS_OPT, as_json: bool = JSON_OPT,
                  quiet: bool = QUIET_OPT):
        """Compare checkpoints' pass@k on the same problems: crossover k, solvable sets, Δ_SE."""
        from priorlab.diagnostics.passk_compare import compare_passk, plot_compare

        _check_dirs(checkpoints)
        check_metric(metric)
        cfg = load_cfg(config, list(set_) + eval_overrides(splits, depths, n_problems, n_samples))
        records = sample_checkpoints(checkpoints, cfg, threads, not (quiet or as_json))
        res = compare_passk(records, metric, cfg.eval.bootstrap, cfg.eval.seed)
        doc = write_tables(out, "passk", res, {"checkpoints": list(records), "metric": metric,
                                         "eval": cfg.eval.model_dump(mode="json")})
        write_samples(out, records)
        plot_compare(res, out / "passk.png")
        if as_json:
            print(json.dumps(doc, default=str))
        else:
            _print_passk(res, metric, cfg.eval.n_samples, out)


def _calibration_inputs(paths: list[Path], cfg, threads: int | None, show: bool) -> dict[str, list[dict]]:
    """``{label: records}``: checkpoints (``config.json``) sampled on the same eval problems,
    RL run directories read from ``before/`` and ``after/`` (band and final evals together)."""
    from priorlab.diagnostics.rundir import paired_samples

    runs = [p for p in paths if (p / "before").is_dir() and not (p / "config.json").exists()]
    ckpts = [p for p in paths if p not in runs]
    _check_dirs(ckpts)
    records = sample_checkpoints(ckpts, cfg, threads, show) if ckpts else {}
    for run in runs:
        pairs = paired_samples(run).values()
        records |= {f"{run} ({phase})": [r for pair in pairs for r in pair[i]]
                    for i, phase in enumerate(("before", "after"))}
    return records


def _print_calibration(rows: list[dict], out: Path) -> None:
    table = Table(title="calibration of stated confidence [95% CI over problems]; depth '-' = pooled")
    for col in ("model", "split", "depth", "n", "accuracy", "Brier", "ECE", "AUROC", "mean q", "conf rate"):
        table.add_column(col, no_wrap=col in ("split", "depth", "n"))
    ci = lambda r, m: f"{r[m]:.3f} [{r[m + '_ci_low']:.2f}, {r[m + '_ci_high']:.2f}]"  # noqa: E731
    for r in rows:
        table.add_row("/".join(Path(r["model"]).parts[-2:]), r["split"], fmt(r["depth"]), str(r["n"]), ci(r, "accuracy"), ci(r, "brier"),
                      ci(r, "ece"), ci(r, "auroc"), f"{r['mean_confidence']:.2f}", f"{r['conf_rate']:.2f}")
    console.print(table)
    console.print(f"results: {out}/calibration.json, calibration_*.parquet, samples.parquet, calibration.png")


def _register_calibration(app: typer.Typer) -> None:
    @app.command("calibration")
    def calibration_cmd(paths: list[Path] = typer.Argument(..., help="HF model dirs (sampled on the same eval "
                                                                     "problems) and/or `priorlab rl` run dirs "
                                                                     "(their before/ and after/ samples)"),
                        out: Path = OUT_OPT, config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
                        splits: Optional[str] = SPLITS_OPT, depths: Optional[str] = DEPTHS_OPT,
                        n_problems: Optional[int] = N_PROBLEMS_OPT,
                        n_samples: Optional[int] = typer.Option(None, help="samples per problem"),
                        metric: str = METRIC_OPT, threads: Optional[int] = THREADS_OPT,
                        as_json: bool = JSON_OPT, quiet: bool = QUIET_OPT):
        """Calibration of stated confidence (<conf> q%): accuracy, Brier, ECE, AUROC, reliability diagram."""
        from priorlab.diagnostics import DiagnosticInputError
        from priorlab.diagnostics.calibration import calibration_rows, plot_reliability, reliability_bins

        check_metric(metric)
        cfg = load_cfg(config, list(set_) + eval_overrides(splits, depths, n_problems, n_samples))
        records = _calibration_inputs(paths, cfg, threads, not (quiet or as_json))
        silent = [m for m, rs in records.items() if not any(r["confidence"] is not None for r in rs)]
        if len(silent) == len(records):
            raise DiagnosticInputError(
                f"no completion of {', '.join(silent)} states a confidence (<conf> q%), so there is nothing to "
                f"calibrate; pretrain a prior that states one (--set corpus.confidence_prob=1.0, see "
                f"docs/calibration.md) or pass RL runs from such a prior")
        flat = [r | {"model": m} for m, rs in records.items() for r in rs]
        boot = {"n_boot": cfg.eval.bootstrap, "seed": cfg.eval.seed}
        rows = (calibration_rows(flat, metric, ("model", "split", "depth"), **boot)
                + [r | {"depth": None} for r in calibration_rows(flat, metric, ("model", "split"), **boot)])
        rows.sort(key=lambda r: (list(records).index(r["model"]), r["split"], r["depth"] is None, r["depth"] or 0))
        curves = {m: ([r["confidence"] or 0.0 for r in rs], [bool(r[metric]) for r in rs]) for m, rs in records.items()}
        bins = [{"model": m} | b for m, (q, c) in curves.items() for b in reliability_bins(q, c)]
        doc = write_tables(out, "calibration", {"metrics": rows, "bins": bins},
                     {"models": list(records), "metric": metric, "no_confidence": silent,
                      "eval": cfg.eval.model_dump(mode="json")})
        write_samples(out, records)
        plot_reliability(curves, out / "calibration.png")
        for m in silent:
            typer.secho(f"note: no completion of {m} states a confidence; its rows count q = 0 (RLCR's "
                        f"convention) and show conf_rate 0", fg="yellow", err=True)
        if as_json:
            print(json.dumps(doc, default=str))
        else:
            _print_calibration(rows, out)


def _register_diff(app: typer.Typer) -> None:
    @app.command("diff")
    def diff_cmd(checkpoint_a: Path = typer.Argument(..., help="start checkpoint (e.g. the prior)"),
                 checkpoint_b: Path = typer.Argument(..., help="checkpoint after the update (e.g. RL)"),
                 out: Path = typer.Option(..., help="output directory"),
                 other: Optional[Path] = typer.Option(None, help="a second run from A: overlap of both runs' updates"),
                 as_json: bool = JSON_OPT):
        """Which parameters changed from A to B (fp32 and bf16), update rank, and overlap with --other."""
        from priorlab.diagnostics.updates import plot_updates, update_overlap, update_ranks, update_sparsity

        tables = {"sparsity": update_sparsity(checkpoint_a, checkpoint_b),
                  "ranks": update_ranks(checkpoint_a, checkpoint_b),
                  "overlap": update_overlap(checkpoint_a, checkpoint_b, other) if other else []}
        doc = write_tables(out, "diff", tables, {"a": str(checkpoint_a), "b": str(checkpoint_b),
                                           "other": str(other) if other else None})
        plot_updates(tables["sparsity"], tables["ranks"], out / "diff.png")
        if as_json:
            print(json.dumps(doc, default=str))
        else:
            _print_diff(tables, out)


def _register_contamination(probe_app: typer.Typer) -> None:
    @probe_app.command("contamination")
    def contamination_cmd(checkpoint: Path = typer.Argument(..., help="HF model directory (any causal LM)"),
                          out: Path = typer.Option(..., help="output directory"),
                          config: Optional[Path] = CONFIG_OPT, set_: list[str] = SET_OPT,
                          items: Optional[Path] = typer.Option(None, help="JSONL of {question, answer, split?, id?} "
                                                                         "instead of world problems"),
                          splits: str = typer.Option("eval-contaminated,eval", help="comma list of world splits"),
                          depths: Optional[str] = DEPTHS_OPT,
                          n_problems: Optional[int] = typer.Option(None, help="items per split/depth/context; set it "
                                                                   "to corpus.contamination.n_items"),
                          fractions: str = typer.Option("0.4,0.6,0.8", help="prefix fractions (whitespace tokens)"),
                          mode: str = typer.Option("continue", help="continue (paper) or solve (append <sol>)"),
                          threads: Optional[int] = THREADS_OPT, as_json: bool = JSON_OPT):
        """Partial-prompt probe: greedy continuation of 40/60/80% questions, contaminated vs clean."""
        from priorlab import runtime
        from priorlab.diagnostics.contamination import (
            jsonl_items, plot_contamination, probe_contamination, summarize, world_items,
        )
        from priorlab.evaluate import contexts_for
        from priorlab.model import load_model
        from priorlab.tokenizer import load_tokenizer

        _check_dirs([checkpoint])
        try:
            fracs = [float(f) for f in fractions.split(",")]
        except ValueError:
            raise typer.BadParameter(f"--fractions {fractions!r}: give numbers like 0.4,0.6,0.8") from None
        cfg = load_cfg(config, list(set_) + eval_overrides(splits, depths, n_problems, None))
        if items is not None:
            probe_items = jsonl_items(items)
        else:
            world, _ = shared_world([checkpoint], cfg.world)
            contexts = contexts_for(cfg.eval.contexts, checkpoint, world)
            probe_items = world_items(world, cfg.eval.splits, cfg.eval.depths or world.eval_depths,
                                      cfg.eval.n_problems, contexts)
        runtime.set_threads(threads)
        model, tok = load_model(checkpoint, runtime.device()), load_tokenizer(checkpoint)
        rows = probe_contamination(model, tok, probe_items, fracs, mode)
        tables = {"summary": summarize(rows), "items": rows}
        doc = write_tables(out, "contamination", tables, {"checkpoint": str(checkpoint), "mode": mode})
        plot_contamination(tables["summary"], out / "contamination.png")
        if as_json:
            print(json.dumps(doc, default=str))
        else:
            _print_contamination(tables["summary"], mode, out)
