"""Continued-pretraining baselines matched to a finished RLP run, at its tokens or at its FLOPs.

:func:`matched_sets` reads an RLP run's ``summary.json`` and ``config.yaml`` and returns the
``--set`` overrides of ``priorlab pretrain`` (on the config the prior was made with, e.g. the
demo's) that continue the same prior (``pretrain.init_from``) on the same document mix
(``corpus``: formats, depths, contexts, seed) for

- ``tokens``: as many corpus tokens as RLP read (contexts and targets; thoughts are not corpus);
- ``flops``: the tokens that cost what RLP cost, ``C_RLP / (6·N)`` with N the prior's parameters
  (:data:`priorlab.rlp.objective.FLOPS_FORMULA`).

Pretraining runs ``pretrain.tokens // (batch_size × seq_len)`` steps (at least one), so the
baseline reads up to one batch fewer tokens than matched. From a shell::

    python -m priorlab.rlp.matched RUN flops    # prints the ``priorlab pretrain`` command
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import yaml

from priorlab.errors import InputDataError

BUDGETS = {"tokens": "tokens", "flops": "flops_tokens"}


def matched_sets(run: str | Path, by: str) -> list[str]:
    """``--set`` overrides of a continued prior matched to RLP run ``run`` at its ``by`` budget
    (``tokens`` or ``flops``)."""
    if by not in BUDGETS:
        raise InputDataError(f"matched budget {by!r}: choose one of {', '.join(BUDGETS)}")
    run = Path(run)
    try:
        summary = json.loads((run / "summary.json").read_text())
        corpus = yaml.safe_load((run / "config.yaml").read_text())["data"]["corpus"]
        tokens = int(summary["matched"][BUDGETS[by]])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputDataError(f"{run}: not a finished RLP run ({type(e).__name__}: {e}); match a run whose "
                             f"summary.json has 'matched' (priorlab rlp)") from None
    sets = [f"pretrain.init_from={summary['prior']}", f"pretrain.tokens={max(1, tokens)}"]
    return sets + [f"corpus.{k}={json.dumps(v, separators=(',', ':'))}" for k, v in corpus.items()
                   if k in ("seed", "formats", "depths", "contexts")]


def main(argv: list[str]) -> None:
    run, by = argv
    print("priorlab pretrain " + " ".join(f"--set {shlex.quote(s)}" for s in matched_sets(run, by)))


if __name__ == "__main__":
    main(sys.argv[1:])
