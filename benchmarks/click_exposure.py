"""How many documents, and how many worked traces, had a prior seen when it clicked?

Reads a click study (``benchmarks/click_study.py``: ``OUT/LABEL.jsonl`` and each seed's run
directory) and converts each seed's click step — or, for a seed that never clicked, its last
step — into documents seen, *trace* documents seen (a document that shows its working: every
format but ``answer``) and trace *operations* seen (a depth-d problem's trace works d operations;
the mean depth is the one the corpus asked for, which it draws independently of the format). Rows are served in a seeded order, a curriculum's first phase first
(``pretrain.batch_indices``), so a run that has trained on ``t`` tokens has seen ``t / seq_len``
rows, each holding the mean number of documents of its phase. Without a curriculum that mean comes from the
run's ``corpus.json``; with one the corpus is rebuilt from the run's ``config.yaml`` to count the
documents of each phase (seconds per seed). Run on demand, not a test (docs/pretraining.md,
"What the click needs"):

    python benchmarks/click_exposure.py demo-6m answer-heavy-6m --out runs/click [--json] [--plot PNG]

A label with a directory (``runs/click-gpu/demo-d1-6m-gpu``) reads that study from there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from click_study import stopped_early  # benchmarks/: this script's own folder

from priorlab.config import load_config
from priorlab.pretrain import prior_corpus


def study_rows(out: Path, label: str) -> dict[int, dict]:
    """The last row per seed that ran to a click or to its budget (seeds stopped before either left out)."""
    rows = {}
    for line in (out / f"{label}.jsonl").read_text().splitlines():
        r = json.loads(line)
        if isinstance(r.get("seed"), int) and not stopped_early(r):
            rows[r["seed"]] = r
    return rows


def mean_depth(weights: dict) -> float:
    return sum(int(d) * w for d, w in weights.items()) / sum(weights.values())


def phases(run: Path, stats: dict) -> list[tuple[int, float, float, float]]:
    """(rows, documents per row, trace share, mean depth) of each phase, in the order rows are served;
    ``stats``: the run's ``corpus.json``."""
    asked = stats["requested"]
    answer = stats["format_share"].get("answer", 0.0) * stats["n_documents"]  # answer-only documents
    first = stats.get("curriculum_rows", 0)
    if not first:
        return [(stats["n_rows"], stats["n_documents"] / stats["n_rows"], 1 - answer / stats["n_documents"],
                 mean_depth(asked["depths"]))]
    cfg = load_config(run / "config.yaml")
    per_row = prior_corpus(cfg)[2].doc.max(1)
    docs1, docs2 = int(per_row[:first].sum()), int(per_row[first:].sum())
    mix1 = cfg.corpus.curriculum.formats or cfg.corpus.formats
    answer1 = mix1.get("answer", 0.0) / sum(mix1.values()) * docs1  # expected answer-only docs of phase 1
    return [(first, docs1 / first, 1 - answer1 / docs1, mean_depth(asked["curriculum"]["depths"])),
            (len(per_row) - first, docs2 / (len(per_row) - first), 1 - (answer - answer1) / docs2,
             mean_depth(asked["depths"]))]


def exposure(run: Path, tokens: int) -> tuple[float, float, float]:
    """(documents, trace documents, trace operations) seen by the run in ``run`` once it has trained
    on ``tokens`` (whole rows: optimizer steps x batch size x row length)."""
    stats = json.loads((run / "corpus.json").read_text())
    left, docs, traces, ops = tokens // stats["seq_len"], 0.0, 0.0, 0.0
    for rows, per_row, trace, depth in phases(run, stats):
        take = min(left, rows)
        docs, traces, ops, left = (docs + take * per_row, traces + take * per_row * trace,
                                   ops + take * per_row * trace * depth, left - take)
    return docs, traces, ops


def label_summary(out: Path, label: str) -> dict:
    seeds = {}
    for seed, r in sorted(study_rows(out, label).items()):
        step, tokens = (r["click_step"], r["click_tokens"]) if r["clicked"] else (r["last_step"], r["last_tokens"])
        docs, traces, ops = exposure(out / label / f"seed{seed}", tokens)
        seeds[seed] = {"clicked": r["clicked"], "step": step, "documents": round(docs),
                       "trace_documents": round(traces), "trace_operations": round(ops)}
    summary = {"label": label, "seeds": len(seeds), "clicked": sum(s["clicked"] for s in seeds.values())}
    for key in ("trace_documents", "trace_operations"):
        at = [s[key] for s in seeds.values() if s["clicked"]]
        never = [s[key] for s in seeds.values() if not s["clicked"]]
        summary[f"{key}_at_click"] = [min(at), statistics.median(at), max(at)] if at else None
        summary[f"{key}_unclicked"] = [min(never), max(never)] if never else None
    return summary | {"per_seed": seeds}


def plot(summaries: list[dict], path: Path) -> None:
    """One row per study: each seed's trace operations at its click (filled), or seen by its last
    step when it never clicked (open: it needed more than that)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from priorlab.plots import plt, save

    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(summaries) + 1.2))
    for y, s in enumerate(summaries):
        for seed in s["per_seed"].values():
            ops = seed["trace_operations"] / 1000
            ax.plot(ops, y, "o", ms=5, color="C0" if seed["clicked"] else "C3",
                    mfc="C0" if seed["clicked"] else "none", alpha=0.8)
    ax.set_yticks(range(len(summaries)), [f"{s['label']} ({s['clicked']}/{s['seeds']})" for s in summaries],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="trace operations seen (thousands): at the click (filled), by the end of an unclicked run (open)")
    ax.xaxis.label.set_size(8)
    save(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("label", nargs="+", help="a study's label (in --out), or DIR/LABEL")
    ap.add_argument("--out", type=Path, default=Path("runs/click"))
    ap.add_argument("--json", action="store_true", help="one JSON object per label")
    ap.add_argument("--plot", type=Path, default=None, help="draw every seed's trace operations to this PNG")
    args = ap.parse_args()
    summaries = []
    for label in args.label:
        where = Path(label).parent if "/" in label else args.out
        s = label_summary(where, Path(label).name)
        summaries.append(s)
        if args.json:
            print(json.dumps(s))
            continue
        k = lambda x: f"{x / 1000:.0f}k"  # noqa: E731
        parts = [f"{s['label']}: {s['clicked']} of {s['seeds']} clicked"]
        for key in ("trace_documents", "trace_operations"):
            at, never = s[f"{key}_at_click"], s[f"{key}_unclicked"]
            parts.append(f"{key.replace('_', ' ')} at the click (min / median / max) "
                         f"{' / '.join(map(k, at)) if at else '—'}, by the seeds that did not click "
                         f"{' – '.join(map(k, never)) if never else '—'}")
        print("; ".join(parts))
    if args.plot:
        plot(summaries, args.plot)


if __name__ == "__main__":
    main()
