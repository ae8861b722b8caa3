"""Spare prior seeds: a from-scratch replica that finished on the plateau is replaced by the scale's next
spare seed (``Scale.spare_seeds``), so a claim keeps one clicked prior per seed while spares last; the
claim's notes name each spare beside the verdict (docs/claims.md, "Spare prior seeds")."""

from __future__ import annotations

from priorlab.claims.base import PriorSpec, Scale


def spares(replicas: dict[str, tuple[str, PriorSpec]], priors: dict[str, PriorSpec], scale: Scale):
    """``spare(name)`` for :func:`priorlab.claims.retest._run_priors`: the next of the scale's
    ``spare_seeds`` not yet taken by replica ``name``'s declared prior, as that prior's replica
    (from-scratch replicas only), or None."""
    taken: dict[str, int] = {}

    def spare(name: str) -> PriorSpec | None:
        declared = replicas[name][0]
        if not priors[declared].from_scratch:
            return None
        i = taken[declared] = taken.get(declared, -1) + 1
        if i >= len(scale.spare_seeds):
            return None
        return priors[declared].replica_at(scale.spare_seeds[i])
    return spare


def plateaued_in_store(job, store) -> bool:
    """Whether the store holds ``job``'s run finished on the plateau (a prior that never clicked)."""
    from priorlab import store as S
    from priorlab.rl.config import unclicked
    from priorlab.sweep import plan as name_runs

    d = name_runs([job], store)[0].run_dir
    return S.run_status(d) == "finished" and unclicked(d / "model") is not None


def spare_note(runs: list[dict]) -> list[str]:
    """The claim's note naming the prior seeds whose replica never clicked and the spare seed each ran
    on instead (a ``spare_for`` run row); none without one."""
    used = [f"seed {r['spare_for']} on {r['name'].split(' (')[0]}" for r in runs if r.get("spare_for") is not None]
    return [f"Prior seeds whose replica never clicked ran on the scale's spare seeds: {', '.join(used)}. The "
            "claim is about priors of each composition that clicked; how often a composition clicks is "
            "measured apart (docs/pretraining.md)."] if used else []
