"""Plateau detection: click_step on constructed metrics, the probe on a tiny model."""

from __future__ import annotations

from priorlab.click import click_step, click_summary


def _rows(accs, every=10):
    rows = [{"step": i * every, "loss": 0.3}  for i in range(1, len(accs) + 1)]  # train rows are ignored
    rows += [{"step": i * every, "kind": "probe", "trace_acc": a} for i, a in enumerate(accs, 1)]
    return rows


def test_click_is_the_first_step_from_which_the_criterion_holds():
    assert click_step(_rows([0.0, 0.01, 0.6, 0.8, 0.9]), 0.5) == 30
    assert click_summary(_rows([0.0, 0.7, 0.9]), 0.5) == {"clicked": True, "click_step": 20, "click_threshold": 0.5}


def test_a_transient_spike_is_not_a_click():
    assert click_step(_rows([0.0, 0.6, 0.1, 0.7, 0.8]), 0.5) == 40
    assert click_summary(_rows([0.0, 0.9, 0.2]), 0.5)["clicked"] is False


def test_a_plateau_never_clicks():
    s = click_summary(_rows([0.0, 0.002, 0.01, 0.0]), 0.5)
    assert s["clicked"] is False and s["click_step"] is None
    assert click_summary([], 0.5)["clicked"] is False  # no probe at all: not clicked, never guessed
