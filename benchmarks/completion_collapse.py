"""Did RL collapse each held-out problem onto one completion? A research script, run on demand.

For an RL run directory, reads its stored before/after samples (``before/eval``, ``after/eval``:
the prior's and the trained model's samples on the same held-out problems) and splits the
problems into *lost* (the prior verified at least one of its samples, the trained model none) and
*kept* (the trained model verified at least one). For each group it prints the median, over
problems, of the most frequent completion's share of a problem's samples and of the number of
distinct completions (compared as text), before and after (docs/claims.md, C6 at `medium`):

    python benchmarks/completion_collapse.py runs/store/rl-HASH [...] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from priorlab.claims.measure import by_problem, records


def concentration(groups: dict[str, list[dict]], problems: list[str]) -> dict:
    """Median over ``problems`` of the modal completion's share and of distinct completions."""
    if not problems:
        return {"modal_share": None, "distinct": None}
    counts = [Counter(r["text"] for r in groups[p]) for p in problems]
    return {"modal_share": statistics.median(c.most_common(1)[0][1] / sum(c.values()) for c in counts),
            "distinct": statistics.median(len(c) for c in counts)}


def solved(samples: list[dict]) -> bool:
    """Whether any of a problem's samples verified."""
    return any(r["verified"] for r in samples)


def describe(c: dict) -> str:
    """One group's concentration as text."""
    return "—" if c["modal_share"] is None else f"{c['modal_share']:.2f} ({c['distinct']:g} distinct)"


def collapse(run: Path) -> dict:
    """Lost and kept problems of one RL run, with their concentration before and after."""
    before, after = by_problem(records(run, "before")), by_problem(records(run, "after"))
    if set(before) != set(after):
        raise SystemExit(f"{run}: before and after hold different problems; not one run's evaluation")
    lost = [p for p in before if solved(before[p]) and not solved(after[p])]
    kept = [p for p in before if solved(after[p])]
    return {"run": str(run), "problems": len(before), "lost": len(lost), "kept": len(kept),
            **{f"{name}_{when}": concentration(groups, ps) for name, ps in (("lost", lost), ("kept", kept))
               for when, groups in (("before", before), ("after", after))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="RL run directories with before/ and after/ samples")
    ap.add_argument("--json", action="store_true", help="one JSON object per run instead of a line")
    args = ap.parse_args()
    for run in args.runs:
        row = collapse(run)
        if args.json:
            print(json.dumps(row))
            continue
        print(f"{run.name}: {row['lost']} of {row['problems']} lost: modal share "
              f"{describe(row['lost_before'])} → {describe(row['lost_after'])}; "
              f"kept {row['kept']}: {describe(row['kept_before'])} → {describe(row['kept_after'])}")


if __name__ == "__main__":
    main()
