"""When a prior leaves the loss plateau ("clicks"): a probe logged during pretraining.

Pretraining a small model on the arithmetic world goes through two phases (docs/pretraining.md):
value look-up and copying are learned early, then the loss sits on a plateau until modular
arithmetic "clicks", at a step that varies with the seed, the mix and the schedule. A prior
that never clicked writes well-formed traces whose computed values are wrong, so anything
measured on it (RL gains, format selection, pass@k) is about noise, not about a prior.

The criterion, stated once here and in docs/pretraining.md:

- Every ``pretrain.probe_every`` steps (and after the last step) the model samples
  ``PROBE_SAMPLES`` completions for each of ``PROBE_PROBLEMS`` held-out ``eval`` problems at the
  two shallowest corpus depths (first corpus context; fixed problems and sampling seeds).
- ``trace_acc`` is the verified share among completions written in a trace format (steps,
  code: every format but ``answer``, ``mixed`` and ``none``), taken per format and the best
  format kept (formats with at least ``MIN_FORMAT_SAMPLES`` probe completions; all trace
  completions together when none has that many). Chance is about P^-depth (0.2% at depth 2
  with P = 23); an answer-only completion cannot verify, so the share of formats in the mix
  does not move the criterion, and a corpus whose minority format is written with planted
  slips (``corpus.format_accuracy``) is judged by the format it computes best in.
- The prior **clicked** when ``trace_acc >= pretrain.click_threshold`` at the last probe;
  ``click_step`` is the first probe step from which it held at every later probe (``None``
  when it never clicked). A transient spike does not count.
- A model made from a clicked prior by another stage (RL, SFT, an RLP stage) is probed the same
  way at its end (:func:`recheck`): it **lost its click** when at least ``MIN_FORMAT_SAMPLES`` of
  its probe completions are traces and their ``trace_acc`` is below the prior's threshold; it is
  then ``clicked: false`` like a prior that never clicked, with ``click_lost`` saying where. An RL
  or SFT policy that writes almost no traces (collapsed onto bare answers: its reward or data may
  select a format) is not judged by it; a stage that should leave the prior's outputs alone (an
  RLP stage: ``recheck(..., selects_formats=False)``) and stops writing traces has lost its click
  too (a 300-step RLP stage without a next-token loss left 1 trace in 128 and verified pass@8 = 0
  at depths 4-5, docs/rlp.md).
"""

from __future__ import annotations

import math

import torch

PROBE_PROBLEMS = 16
PROBE_SAMPLES = 4
NON_TRACE = ("answer", "mixed", "none")
MIN_FORMAT_SAMPLES = 8  # a trace format needs this many probe completions to count on its own


def probe_problems(world, corpus_cfg) -> list:
    """The fixed probe set: ``PROBE_PROBLEMS`` eval problems at the two shallowest corpus depths
    that are also evaluation depths of the world (a corpus with depth-1 warm-up problems is
    probed at the same depths as one without)."""
    return _probe_set(world, [int(d) for d, w in corpus_cfg.depths.items() if w > 0],
                      next((c for c, w in corpus_cfg.contexts.items() if w > 0), None))


def _probe_set(world, corpus_depths: list[int], ctx: str | None) -> list:
    corpus = sorted(corpus_depths)
    depths = ([d for d in corpus if d in world.eval_depths] or corpus)[:2]
    return [p for d in depths for p in world.problems("eval", d, PROBE_PROBLEMS, ctx)]


def recheck(model, tok, world, meta: dict, stage: str, selects_formats: bool = True) -> dict:
    """What a model made by ``stage`` from a prior with metadata ``meta`` (its ``priorlab.json``)
    adds to its own: ``final_trace_acc`` and ``final_trace_share`` of the click probe on it, and,
    when it lost its click (module doc), ``clicked: false``, ``click_step: None`` and
    ``click_lost: {stage, trace_acc, trace_share}``. Nothing for a prior that had not clicked or was not
    probed. ``selects_formats``: the stage's objective may choose the formats the model writes (RL, SFT),
    so writing too few traces to judge keeps the click; without it (an RLP stage) that loses it."""
    if meta.get("clicked") is not True:
        return {}
    ctx = (meta.get("corpus_contexts") or [None])[0]
    problems = _probe_set(world, meta.get("pretrain_depths") or world.depths, ctx)
    row = probe(model, tok, world, problems, seed=0)
    out = {"final_trace_acc": round(row["trace_acc"], 4), "final_trace_share": round(row["probe_trace_share"], 4)}
    n_trace = round(row["probe_trace_share"] * PROBE_SAMPLES * len(problems))
    judged = n_trace >= MIN_FORMAT_SAMPLES
    if (judged and row["trace_acc"] < meta.get("click_threshold", 0.5)) or (
            not judged and not selects_formats):
        lost = {"stage": stage, "trace_acc": out["final_trace_acc"], "trace_share": out["final_trace_share"]} | (
            {} if judged else {"why": f"{n_trace} of {PROBE_SAMPLES * len(problems)} probe completions are traces"})
        out |= {"clicked": False, "click_step": None, "click_lost": lost}
    return out


@torch.no_grad()
def probe(model, tok, world, problems: list, seed: int) -> dict:
    """Sample and verify the probe set; returns the ``kind: probe`` metrics row (no step)."""
    from priorlab.config import EvalConfig
    from priorlab.evaluate import sample_and_verify

    was_training = model.training
    model.eval()
    cfg = EvalConfig(n_samples=PROBE_SAMPLES)
    try:
        recs = sample_and_verify(model, tok, world, problems, cfg, seed, show=False)
    finally:
        model.train(was_training)
    trace = [r for r in recs if r["format"] not in NON_TRACE]
    per_format = {f: [r["verified"] for r in trace if r["format"] == f] for f in {r["format"] for r in trace}}
    accs = [sum(v) / len(v) for v in per_format.values() if len(v) >= MIN_FORMAT_SAMPLES]
    return {"kind": "probe", "probe_verified": sum(r["verified"] for r in recs) / len(recs),
            "probe_trace_share": len(trace) / len(recs),
            "trace_acc": max(accs, default=sum(r["verified"] for r in trace) / len(trace) if trace else 0.0)}


def click_step(rows: list[dict], threshold: float) -> int | None:
    """First probe step from which ``trace_acc >= threshold`` at every later probe, else None.

    ``rows``: metrics rows; only ``kind == "probe"`` rows with a finite ``trace_acc`` count.
    """
    probes = sorted((r["step"], r["trace_acc"]) for r in rows
                    if r.get("kind") == "probe" and r.get("trace_acc") is not None
                    and math.isfinite(r["trace_acc"]))
    step = None
    for s, acc in probes:
        if acc >= threshold:
            step = s if step is None else step
        else:
            step = None
    return step


def click_summary(rows: list[dict], threshold: float) -> dict:
    """``{"clicked": bool, "click_step": int | None, "click_threshold": float}`` from metrics rows."""
    step = click_step(rows, threshold)
    return {"clicked": step is not None, "click_step": step, "click_threshold": threshold}
