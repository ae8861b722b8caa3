"""Compare priors: composition asked vs actual, click step, pass@k and formats per depth.

``priorlab priors DIR...`` reads pretraining run directories (``priorlab demo``, store
``pretrain-*`` runs, or ``priorlab pretrain --out`` runs evaluated into ``DIR/eval``) and returns
tidy rows, one per (prior, split, depth):

- prior-level columns, repeated on each row: ``prior`` (the directory name), ``tokens``,
  ``seed``, ``clicked`` / ``click_step`` (:mod:`priorlab.click`; ``None`` when the run did not
  probe), ``asked_<format>`` (the corpus mix requested, normalised) and ``actual_<format>`` (the
  share of documents written, from ``corpus.json``);
- per depth: ``verified_at_1`` and ``verified_at_<n>`` with their 95% CIs (n = samples per
  problem of the prior's evaluation), ``answer_at_1``, and per detected format ``share_<f>`` and
  ``acc_<f>`` (verified accuracy of the completions in that format).

Nothing is sampled here: a prior without an evaluation is refused with the command that makes one.
"""

from __future__ import annotations

import json
from pathlib import Path

from priorlab.errors import InputDataError


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputDataError(f"{path}: cannot read it as JSON ({e})") from None


def _eval_summary(run: Path) -> dict:
    for p in (run / "summary.json", run / "eval" / "summary.json"):
        if p.exists():
            data = _read_json(p)
            if "passk" in data and "formats" in data:
                return data
    raise InputDataError(f"{run}: no evaluation (summary.json with pass@k); make one with "
                         f"`priorlab eval {run}/model --out {run}/eval`")


def _prior_columns(run: Path) -> dict:
    """The prior-level columns of one run directory."""
    if not (run / "corpus.json").exists():
        raise InputDataError(f"{run}: not a pretraining run directory (no corpus.json); pass the directory "
                             f"that `priorlab pretrain --out` or `priorlab demo` wrote")
    corpus = _read_json(run / "corpus.json")
    asked = corpus.get("requested", {}).get("formats", {})
    total = sum(asked.values()) or 1.0
    info = _read_json(run / "pretrain.json") if (run / "pretrain.json").exists() else {}
    cols = {"prior": run.name, "path": str(run), "tokens": corpus.get("n_tokens"),
            "seed": corpus.get("requested", {}).get("seed"),
            "clicked": info.get("clicked"), "click_step": info.get("click_step")}
    cols |= {f"asked_{f}": w / total for f, w in sorted(asked.items())}
    cols |= {f"actual_{f}": s for f, s in sorted(corpus.get("format_share", {}).items())}
    return cols


def prior_rows(runs: list[str | Path]) -> list[dict]:
    """Tidy rows, one per (prior, split, depth), for every run directory in ``runs``."""
    rows, seen = [], set()
    for run in map(Path, runs):
        if not run.is_dir():
            raise InputDataError(f"{run}: no such run directory")
        head, summary = _prior_columns(run), _eval_summary(run)
        if head["prior"] in seen:  # two runs with one directory name: tell them apart by path
            head["prior"] = str(run)
        seen.add(head["prior"])
        passk = [r for r in summary["passk"] if r["format"] == "all" and r["context"] == "all"]
        n = max(r["k"] for r in passk)
        for split, depth in sorted({(r["split"], r["depth"]) for r in passk}):
            at = {(r["metric"], r["k"]): r for r in passk if (r["split"], r["depth"]) == (split, depth)}
            row = head | {"split": split, "depth": depth, "n": n}
            for name, (metric, k) in {"verified_at_1": ("verified", 1), f"verified_at_{n}": ("verified", n),
                                      "answer_at_1": ("answer", 1)}.items():
                r = at[(metric, k)]
                row |= {name: r["pass_at_k"], f"{name}_ci_low": r["ci_low"], f"{name}_ci_high": r["ci_high"]}
            for f in summary["formats"]:
                if (f["split"], f["depth"]) == (split, depth):
                    row |= {f"share_{f['format']}": f["share"], f"acc_{f['format']}": f["verified_acc"]}
            rows.append(row)
    return rows


def plot_priors(rows: list[dict], path: str | Path) -> Path:
    """Verified pass@1 and pass@n per depth (one line per prior, 95% CI bars; the first split)
    beside each prior's format shares at its shallowest depth; returns ``path``."""
    from priorlab.plots import plt, save

    rows = [r for r in rows if r["split"] == rows[0]["split"]]
    n = rows[0]["n"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for prior in dict.fromkeys(r["prior"] for r in rows):
        mine = [r for r in rows if r["prior"] == prior]
        for key, style in (("verified_at_1", "-o"), (f"verified_at_{n}", "--s")):
            if key not in mine[0]:
                continue
            d = [r["depth"] for r in mine]
            v = [r[key] for r in mine]
            err = [[x - r[f"{key}_ci_low"] for x, r in zip(v, mine)], [r[f"{key}_ci_high"] - x for x, r in zip(v, mine)]]
            click = {None: "not probed", False: "never clicked"}.get(mine[0]["clicked"], f"click {mine[0]['click_step']}")
            ax1.errorbar(d, v, yerr=err, fmt=style, capsize=3,
                         label=f"{prior} {key.replace('verified_at_', 'pass@')} ({click})")
    ax1.set(xlabel="depth", ylabel="verified pass@k", title="verified pass@k per depth (95% CI)", ylim=(-0.02, 1.02),
            xticks=sorted({r["depth"] for r in rows}))
    ax1.legend(fontsize=7)
    firsts: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: r["depth"]):
        firsts.setdefault(r["prior"], r)
    fmts = sorted({k[6:] for r in rows for k in r if k.startswith("share_")})
    bottom = [0.0] * len(firsts)
    for f in fmts:
        vals = [r.get(f"share_{f}", 0.0) for r in firsts.values()]
        ax2.bar(list(firsts), vals, bottom=bottom, label=f)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax2.set(ylabel="share of completions", title="formats at the shallowest depth")
    ax2.legend(fontsize=7)
    ax2.tick_params(axis="x", labelrotation=20)
    return save(fig, path)
