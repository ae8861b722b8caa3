"""``priorlab priors``: rows per (prior, split, depth), the figure, --json, and clear refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from priorlab.cli import app
from tests.conftest import TINY


@pytest.fixture(scope="module")
def evaluated_prior(tmp_path_factory):
    from priorlab.config import load_config
    from priorlab.pretrain import pretrain_and_evaluate

    out = tmp_path_factory.mktemp("prior") / "run"
    pretrain_and_evaluate(load_config(None, TINY + ["pretrain.probe_every=8"]), out, show=False)
    return out


def test_priors_compares_composition_click_and_passk(evaluated_prior, tmp_path):
    res = CliRunner().invoke(app, ["priors", str(evaluated_prior), str(evaluated_prior), "--out", str(tmp_path),
                                   "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len({r["prior"] for r in rows}) == 2  # one directory twice: told apart by path
    assert sorted({r["depth"] for r in rows}) == [2, 6] and all(r["split"] == "eval" for r in rows)
    corpus = json.loads((evaluated_prior / "corpus.json").read_text())
    for r in rows:
        assert r["clicked"] is False and r["click_step"] is None  # the tiny prior stays on the plateau
        assert r["asked_steps"] == pytest.approx(0.7) and r["actual_steps"] == corpus["format_share"]["steps"]
        assert r["verified_at_1_ci_low"] <= r["verified_at_1"] <= r["verified_at_1_ci_high"]
        assert f"verified_at_{r['n']}" in r and any(k.startswith("share_") for k in r)
    assert (tmp_path / "priors.png").stat().st_size > 0 and (tmp_path / "priors_rows.parquet").exists()
    table = CliRunner().invoke(app, ["priors", str(evaluated_prior), "--out", str(tmp_path)])
    assert table.exit_code == 0 and "priors.png" in table.output


def test_priors_refuses_runs_it_cannot_read(evaluated_prior, tmp_path):
    unevaluated = tmp_path / "bare"
    unevaluated.mkdir()
    (unevaluated / "corpus.json").write_text((evaluated_prior / "corpus.json").read_text())
    for path, words in ((tmp_path / "missing", "no such run directory"), (tmp_path, "not a pretraining run"),
                        (unevaluated, "priorlab eval")):
        res = CliRunner().invoke(app, ["priors", str(path), "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output
