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


def test_pretraining_logs_probes_and_rl_refuses_a_prior_that_never_clicked(tmp_path):
    """The tiny prior stays on the plateau: probes are logged, clicked is false in pretrain.json and
    the model's priorlab.json, ``priorlab pretrain`` warns, and RL refuses it unless the run allows
    it explicitly. Probing does not touch the training run: the losses are those of a run that
    never probes (so runs probed at different intervals are the same prior)."""
    import json

    import pytest
    from typer.testing import CliRunner

    from priorlab.cli import app
    from priorlab.config import load_config
    from priorlab.errors import ConfigError
    from priorlab.rl.config import RLConfig, check_prior
    from priorlab.runs import read_jsonl
    from tests.conftest import TINY

    sets = [a for s in TINY + ["pretrain.probe_every=8"] for a in ("--set", s)]
    res = CliRunner().invoke(app, ["pretrain", "--out", str(tmp_path / "p"), "--quiet", *sets])
    assert res.exit_code == 0, res.output
    assert "did not click" in res.output and "allow_unclicked_prior" in res.output
    model = tmp_path / "p" / "model"
    probes = [r for r in read_jsonl(tmp_path / "p" / "metrics.jsonl") if r.get("kind") == "probe"]
    assert [r["step"] for r in probes] == [8, 16] and all(0 <= r["trace_acc"] <= 1 for r in probes)
    res = CliRunner().invoke(app, ["pretrain", "--out", str(tmp_path / "q"), "--quiet",
                                   *[a for s in TINY for a in ("--set", s)]])
    assert res.exit_code == 0, res.output
    losses = [[(r["step"], r["loss"]) for r in read_jsonl(tmp_path / d / "metrics.jsonl") if "loss" in r]
              for d in ("p", "q")]
    assert losses[0] and losses[0] == losses[1]
    info = json.loads((tmp_path / "p" / "pretrain.json").read_text())
    assert info["clicked"] is False and info["click_step"] is None
    assert json.loads((model / "priorlab.json").read_text())["clicked"] is False
    with pytest.raises(ConfigError, match="never left the loss plateau.*allow_unclicked_prior"):
        check_prior(load_config(None, [f"prior={model}"], model=RLConfig))
    check_prior(load_config(None, [f"prior={model}", "allow_unclicked_prior=true"], model=RLConfig))


def test_a_stage_that_wrecks_its_prior_loses_the_click_and_rl_refuses_the_result(monkeypatch, world, tiny_prior, tmp_path):
    """recheck on constructed probe rows: traces below the threshold lose the click; an RL or SFT
    policy writing almost no traces is not judged, an RLP stage that stopped writing them lost its
    click; a prior that never clicked gains nothing. RL then
    refuses a model that lost its click, naming the stage."""
    import json
    import shutil

    import pytest

    from priorlab import click
    from priorlab.config import load_config
    from priorlab.errors import ConfigError
    from priorlab.rl.config import RLConfig, check_prior

    meta = {"clicked": True, "click_step": 100, "click_threshold": 0.5, "pretrain_depths": [2, 3, 4],
            "corpus_contexts": ["letters"]}

    def probed(acc, share, stage="rlp"):
        monkeypatch.setattr(click, "probe", lambda *a, **k: {"kind": "probe", "trace_acc": acc,
                                                             "probe_trace_share": share, "probe_verified": acc})
        return click.recheck(None, None, world, meta, stage, selects_formats=stage != "rlp")

    assert probed(0.9, 1.0) == {"final_trace_acc": 0.9, "final_trace_share": 1.0}
    lost = probed(0.05, 0.5)
    assert lost["clicked"] is False and lost["click_step"] is None
    assert lost["click_lost"] == {"stage": "rlp", "trace_acc": 0.05, "trace_share": 0.5}
    rl_probe = probed(0.0, 0.02, "rl")  # ≈ 3 trace completions of 128 (< 8): an RL policy is not judged
    assert "clicked" not in rl_probe and "clicked" not in probed(0.0, 0.02, "sft")
    silent = probed(0.0, 0.02)  # an RLP stage that stopped writing traces lost its click
    assert silent["clicked"] is False and silent["click_lost"]["why"].startswith("3 of ")
    assert click.recheck(None, None, world, meta | {"clicked": False}, "rl") == {}

    model = tmp_path / "model"
    shutil.copytree(tiny_prior[1], model)
    info = json.loads((model / "priorlab.json").read_text()) | lost | {"click_threshold": 0.5}
    (model / "priorlab.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="lost its click in its rlp stage.*allow_unclicked_prior"):
        check_prior(load_config(None, [f"prior={model}"], model=RLConfig))
    (model / "priorlab.json").write_text(json.dumps(info | silent))
    with pytest.raises(ConfigError, match="rlp stage.*probe completions are traces: it stopped writing them"):
        check_prior(load_config(None, [f"prior={model}"], model=RLConfig))
