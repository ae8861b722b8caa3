"""A run kind declared here, in a test, is run by a sweep, listed by ``priorlab runs ls`` and
queried by the catalog, with no change to store, sweep or catalog (issue: run kinds as a registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field
from typer.testing import CliRunner

from priorlab.cli import app
from priorlab.config import Strict
from priorlab.kinds import KINDS, RunKind, get_kind, register_kind, set_field


class EchoConfig(Strict):
    seed: int = 0
    threads: int | None = Field(None, ge=1)
    value: int = 1
    checkpoint: str | None = None


def echo_run(cfg: EchoConfig, out: Path, resume: bool, show: bool) -> dict:
    """The toy kind's pipeline: writes its config's value and seed as the summary."""
    summary = {"value": cfg.value, "seed": cfg.seed, "resumed": resume}
    (Path(out) / "config.yaml").write_text(json.dumps(cfg.model_dump(mode="json")))
    (Path(out) / "summary.json").write_text(json.dumps(summary))
    return summary


def echo_base(name: str | None) -> Path:
    return Path(name)


ECHO = register_kind(RunKind("echo", config=f"{__name__}:EchoConfig", entry=f"{__name__}:echo_run",
                             base_config=f"{__name__}:echo_base", seed_field="seed", thread_field="threads",
                             marker="value", checkpoints=("checkpoint",)))


def test_the_declaration_carries_its_module_and_the_fields_it_names():
    assert get_kind("echo") is ECHO and ECHO.module == __name__ and "echo" in KINDS.names()
    cfg = set_field(EchoConfig(), ECHO.thread_field, 3)
    assert cfg.threads == 3 and get_kind("pretrain").thread_field == "pretrain.threads"


def test_a_kind_declared_in_a_test_is_swept_listed_and_queried(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parent.parent)  # job processes import this module as tests.test_kinds
    base = tmp_path / "echo.yaml"
    base.write_text("value: 3\n")
    store = tmp_path / "store"
    spec = tmp_path / "sweep.yaml"
    spec.write_text(json.dumps({"kind": "echo", "config": str(base), "seeds": [0, 1], "grid": {"value": [3, 4]},
                                "store": str(store), "workers": 2}))
    res = CliRunner().invoke(app, ["sweep", str(spec), "--quiet"])
    assert res.exit_code == 0, res.output
    listed = CliRunner().invoke(app, ["runs", "ls", "--store", str(store), "--json"])
    runs = json.loads(listed.output)
    assert len(runs) == 4 and {r["kind"] for r in runs} == {"echo"} and {r["status"] for r in runs} == {"finished"}
    q = CliRunner().invoke(app, ["runs", "query", "SELECT value, seed, summary_value FROM runs ORDER BY value, seed",
                                 "--store", str(store), "--json"])
    assert q.exit_code == 0, q.output
    assert [(r["value"], r["seed"], r["summary_value"]) for r in json.loads(q.output)] == \
        [(3, 0, 3), (3, 1, 3), (4, 0, 4), (4, 1, 4)]
    again = CliRunner().invoke(app, ["sweep", str(spec), "--quiet"])  # every run reused
    assert again.exit_code == 0 and "reused" in again.output


def test_an_unknown_kind_fails_before_anything_runs(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(json.dumps({"kind": "ehco", "config": "x.yaml"}))
    res = CliRunner().invoke(app, ["sweep", str(spec)])
    assert res.exit_code == 2 and "unknown run kind 'ehco'" in res.output and "echo" in res.output


@pytest.mark.parametrize("field", ["seed_field", "thread_field"])
def test_builtin_kinds_name_fields_their_configs_have(field):
    from priorlab.kinds import get_field

    for name in ("pretrain", "rl"):
        kind = get_kind(name)
        get_field(kind.config_model()(), getattr(kind, field))  # raises AttributeError if misdeclared
