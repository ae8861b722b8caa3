"""Malformed input, the way a hostile tester hands it in: every row must end in one line
``error: ...`` (or click's usage error) naming the field or file, exit code 2, no traceback.

Rows are ``(id, argv, names)``: ``argv`` is formatted with the paths of the :func:`bad` fixture
(``{prior}`` is a good tiny checkpoint, the others are broken copies of it), ``names`` is the
text the message must contain. Everything runs in-process (typer's CliRunner) and fails before
any training or sampling, so the table takes seconds.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from priorlab.cli import app
from priorlab.errors import IncompleteError
from tests.conftest import TINY

TINY_SETS = [a for s in TINY for a in ("--set", s)]
#: a cheap RL run, should a row get past its check (it must not)
RL = ["--set", "final.depths=[2]", "--set", "final.n_problems=1", "--set", "final.n_samples=1", "--set",
      "steps=1", "--set", "threads=1"]


def _copy(model_dir, dst):
    shutil.copytree(model_dir, dst, ignore=shutil.ignore_patterns("evals"))
    return dst


@pytest.fixture(scope="module")
def bad(tiny_prior, tmp_path_factory):
    """Paths for the table: the good prior, broken checkpoints, broken files (built once)."""
    root = tmp_path_factory.mktemp("malformed")
    good = tiny_prior[1]
    p = {"prior": good, "tmp": root, "store": root / "store", "missing": root / "does-not-exist"}
    p["empty"] = root / "empty"
    p["empty"].mkdir()
    corrupt = _copy(good, root / "corrupt")
    (corrupt / "model.safetensors").write_bytes(b"\x00garbage, not a safetensors header" * 8)
    half = _copy(good, root / "half")
    data = (half / "model.safetensors").read_bytes()
    (half / "model.safetensors").write_bytes(data[: len(data) // 2])
    trunc = _copy(good, root / "trunc_config")
    (trunc / "config.json").write_text((trunc / "config.json").read_text()[:40])
    no_tok = _copy(good, root / "no_tokenizer")
    (no_tok / "tokenizer.json").unlink()
    mismatch = _copy(good, root / "mismatch")  # modulus 97: values 23..96 are not in the tokenizer
    meta = json.loads((mismatch / "priorlab.json").read_text())
    (mismatch / "priorlab.json").write_text(json.dumps(meta | {"world": meta["world"] | {"modulus": 97}}))
    bad_meta = _copy(good, root / "bad_meta")
    (bad_meta / "priorlab.json").write_text('{"world": {"name": "arith_dag"')
    alien = _copy(good, root / "alien_world")
    (alien / "priorlab.json").write_text(json.dumps(meta | {"world": {"name": "arith_dgg"}}))
    p |= {"corrupt": corrupt, "half": half, "trunc": trunc, "no_tok": no_tok, "mismatch": mismatch,
          "bad_meta": bad_meta, "alien": alien}
    files = {"bad.yaml": "pretrain: [unclosed\n", "list.yaml": "- 1\n- 2\n",
             "sweep_bad.yaml": "kind: pretrain\ngrid: {pretrain.lr: [1, 2\n",
             "sweep_key.yaml": "kind: pretrain\ngridd: {pretrain.lr: [0.1]}\n",
             "sweep_kind.yaml": "kind: pretrian\n",
             "sweep_set.yaml": "kind: pretrain\ngrid: {pretrain.tokens: [-1]}\n",
             "sweep_ok.yaml": "kind: pretrain\ngrid: {pretrain.seed: [0, 1]}\n",
             "items.jsonl": "{not json\n", "items_keys.jsonl": '{"q": "a b c", "a": "1"}\n'}
    for name, text in files.items():
        (root / name).write_text(text)
        p[name.replace(".", "_")] = root / name
    p["report_bad"] = root / "report_bad"
    (p["report_bad"] / "claims" / "C1").mkdir(parents=True)
    (p["report_bad"] / "claims" / "C1" / "result.json").write_text('{"id": "C1", "verdict": "holds"')
    p["rl_resume"] = root / "rl-never-started"
    return {k: str(v) for k, v in p.items()}


ROWS = [
    # -- config values (--set, --config) ---------------------------------------------------------
    ("set-unknown-name", ["world", "show", "--set", "corpus.formats.stepz=1"], "corpus.formats"),
    ("set-wrong-type", ["world", "show", "--set", "pretrain.tokens=lots"], "pretrain.tokens"),
    ("set-negative", ["world", "show", "--set", "pretrain.tokens=-5"], "pretrain.tokens"),
    ("set-unknown-field", ["world", "show", "--set", "pretrian.tokens=5"], "pretrian"),
    ("set-no-equals", ["world", "show", "--set", "pretrain.tokens"], "pretrain.tokens"),
    ("set-unknown-world", ["world", "show", "--set", "world.name=arith"], "world.name"),
    ("set-unknown-preset", ["world", "show", "--set", "model.preset=huge"], "model.preset"),
    ("set-negative-weight", ["world", "show", "--set", "corpus.depths={{2: -1}}"], "corpus.depths"),
    ("set-probability", ["world", "show", "--set", "corpus.confidence_prob=1.5"], "corpus.confidence_prob"),
    ("set-depth-range", ["world", "show", "--set", "eval.depths=[40]"], "eval.depths"),
    ("heads-not-dividing", ["world", "show", "--set", "model.d_model=30", "--set", "model.n_heads=4"],
     "model.n_heads"),
    ("world-knob", ["world", "show", "--set", "world.modulus=1"], "world.modulus"),
    ("config-missing", ["world", "show", "--config", "{missing}"], "does-not-exist"),
    ("config-bad-yaml", ["world", "show", "--config", "{bad_yaml}"], "bad.yaml"),
    ("config-not-mapping", ["world", "show", "--config", "{list_yaml}"], "list.yaml"),
    ("config-is-a-directory", ["world", "show", "--config", "{empty}"], "empty"),
    ("world-show-depth", ["world", "show", "--depth", "99"], "depth 99"),
    ("world-show-context", ["world", "show", "--context", "planets"], "planets"),
    # -- CLI options ----------------------------------------------------------------------------------
    ("threads-0", ["eval", "{prior}", "--out", "{tmp}/e", "--threads", "0"], "--threads"),
    ("threads-negative", ["eval", "{prior}", "--out", "{tmp}/e", "--threads", "-1"], "--threads"),
    ("threads-passk", ["passk", "{prior}", "--out", "{tmp}/p", "--threads", "-1"], "--threads"),
    ("eval-depths-text", ["eval", "{prior}", "--out", "{tmp}/e", "--depths", "two"], "eval.depths"),
    ("eval-depths-range", ["eval", "{prior}", "--out", "{tmp}/e", "--depths", "40"], "eval.depths"),
    ("eval-splits", ["eval", "{prior}", "--out", "{tmp}/e", "--splits", "test"], "eval.splits"),
    ("eval-n-samples", ["eval", "{prior}", "--out", "{tmp}/e", "--n-samples", "-3"], "eval.n_samples"),
    ("eval-n-problems-0", ["eval", "{prior}", "--out", "{tmp}/e", "--n-problems", "0"], "eval.n_problems"),
    ("passk-metric", ["passk", "{prior}", "--out", "{tmp}/p", "--metric", "exact"], "--metric"),
    ("probe-fractions", ["probe", "contamination", "{prior}", "--out", "{tmp}/c", "--fractions", "x"],
     "--fractions"),
    ("probe-mode", ["probe", "contamination", "{prior}", "--out", "{tmp}/c", "--mode", "guess"], "mode"),
    # -- checkpoints ----------------------------------------------------------------------------------
    ("ckpt-missing", ["eval", "{missing}", "--out", "{tmp}/e"], "does-not-exist"),
    ("ckpt-empty-dir", ["eval", "{empty}", "--out", "{tmp}/e"], "empty"),
    ("ckpt-is-a-file", ["eval", "{prior}/config.json", "--out", "{tmp}/e"], "config.json"),
    ("ckpt-corrupt-safetensors", ["eval", "{corrupt}", "--out", "{tmp}/e"], "model.safetensors"),
    ("ckpt-truncated-safetensors", ["eval", "{half}", "--out", "{tmp}/e"], "model.safetensors"),
    ("ckpt-truncated-config", ["eval", "{trunc}", "--out", "{tmp}/e"], "config.json"),
    ("ckpt-no-tokenizer", ["eval", "{no_tok}", "--out", "{tmp}/e"], "tokenizer"),
    ("ckpt-tokenizer-mismatch", ["eval", "{mismatch}", "--out", "{tmp}/e"], "tokenizer"),
    ("ckpt-bad-priorlab-json", ["eval", "{bad_meta}", "--out", "{tmp}/e"], "priorlab.json"),
    ("ckpt-unknown-world", ["eval", "{alien}", "--out", "{tmp}/e"], "priorlab.json"),
    ("passk-empty-dir", ["passk", "{prior}", "{empty}", "--out", "{tmp}/p"], "empty"),
    ("passk-corrupt", ["passk", "{prior}", "{corrupt}", "--out", "{tmp}/p"], "model.safetensors"),
    ("calibration-no-tokenizer", ["calibration", "{no_tok}", "--out", "{tmp}/k"], "tokenizer"),
    ("diff-empty-dir", ["diff", "{prior}", "{empty}", "--out", "{tmp}/d"], "empty"),
    ("diff-corrupt", ["diff", "{prior}", "{corrupt}", "--out", "{tmp}/d"], "model.safetensors"),
    ("probe-mismatch", ["probe", "contamination", "{mismatch}", "--out", "{tmp}/c"], "tokenizer"),
    ("probe-items-missing", ["probe", "contamination", "{prior}", "--out", "{tmp}/c", "--items", "{missing}"],
     "does-not-exist"),
    ("probe-items-not-json", ["probe", "contamination", "{prior}", "--out", "{tmp}/c", "--items",
                              "{items_jsonl}"], "items.jsonl"),
    ("probe-items-keys", ["probe", "contamination", "{prior}", "--out", "{tmp}/c", "--items",
                          "{items_keys_jsonl}"], "items_keys.jsonl"),
    # -- RL -------------------------------------------------------------------------------------------
    ("rl-prior-missing", ["rl", *RL, "--out", "{tmp}/r1", "--prior", "{missing}"], "does-not-exist"),
    ("rl-prior-corrupt", ["rl", *RL, "--out", "{tmp}/r2", "--prior", "{corrupt}"], "model.safetensors"),
    ("rl-depth-range", ["rl", *RL, "--out", "{tmp}/r3", "--prior", "{prior}", "--set", "data.depths=[40]"],
     "data.depths"),
    ("rl-unknown-context", ["rl", *RL, "--out", "{tmp}/r4", "--prior", "{prior}", "--set", "data.contexts=[planets]"],
     "data.contexts"),
    ("rl-final-depth-range", ["rl", *RL, "--out", "{tmp}/r5", "--prior", "{prior}", "--set", "final.depths=[40]"],
     "final.depths"),
    ("rl-resume-missing", ["rl", *RL, "--out", "{rl_resume}", "--prior", "{prior}", "--resume"], "rl-never-started"),
    ("rl-unknown-preset", ["rl", *RL, "--out", "{tmp}/r6", "--prior", "{prior}", "-c", "grpx"], "grpx"),
    ("rl-unknown-advantage", ["rl", *RL, "--out", "{tmp}/r7", "--prior", "{prior}", "--set", "algo.advantage=grpx"],
     "algo.advantage"),
    ("rl-group-size-0", ["rl", *RL, "--out", "{tmp}/r8", "--prior", "{prior}", "--set", "rollout.group_size=0"],
     "rollout.group_size"),
    ("rl-threads-0", ["rl", *RL, "--out", "{tmp}/r9", "--prior", "{prior}", "--set", "threads=0"], "threads"),
    ("pretrain-resume-missing", ["pretrain", "--out", "{tmp}/never", "--resume", *TINY_SETS], "never"),
    ("pretrain-threads-negative", ["pretrain", "--out", "{tmp}/pt", "--set", "pretrain.threads=-1"],
     "pretrain.threads"),
    # -- run store, sweeps, claims, reports -------------------------------------------------------------
    ("sweep-missing", ["sweep", "{missing}", "--store", "{store}"], "does-not-exist"),
    ("sweep-bad-yaml", ["sweep", "{sweep_bad_yaml}", "--store", "{store}"], "sweep_bad.yaml"),
    ("sweep-unknown-key", ["sweep", "{sweep_key_yaml}", "--store", "{store}"], "gridd"),
    ("sweep-unknown-kind", ["sweep", "{sweep_kind_yaml}", "--store", "{store}"], "kind"),
    ("sweep-workers-0", ["sweep", "{sweep_ok_yaml}", "--store", "{store}", "--dry-run", "--workers", "0"],
     "--workers"),
    ("sweep-retries-negative", ["sweep", "{sweep_ok_yaml}", "--store", "{store}", "--retries", "-1"], "--retries"),
    ("sweep-unknown-executor", ["sweep", "{sweep_ok_yaml}", "--store", "{store}", "--executor", "rey"],
     "--executor"),
    ("sweep-bad-value", ["sweep", "{sweep_set_yaml}", "--store", "{store}", "--dry-run"], "pretrain.tokens"),
    ("sql-syntax", ["runs", "query", "SELEC 1", "--store", "{store}"], "SELEC"),
    ("sql-unknown-column", ["runs", "query", "SELECT no_such_column FROM runs", "--store", "{store}"],
     "no_such_column"),
    ("runs-show-unknown", ["runs", "show", "pretrain-nope", "--store", "{store}"], "pretrain-nope"),
    ("retest-unknown-claim", ["retest", "C99", "--list"], "C99"),
    ("retest-list-unknown-scale", ["retest", "--list", "--scale", "huge"], "huge"),
    ("retest-unknown-claim-run", ["retest", "C99", "--out", "{tmp}/rt", "--store", "{store}"], "C99"),
    ("retest-unknown-scale", ["retest", "--scale", "huge", "--out", "{tmp}/rt", "--store", "{store}"], "huge"),
    ("retest-status-unknown-scale", ["retest", "--status", "--scale", "huge", "--store", "{store}"], "huge"),
    ("retest-status-unknown-claim", ["retest", "C99", "--status", "--store", "{store}"], "C99"),
    ("report-no-results", ["report", "{empty}"], "empty"),
    ("report-truncated-result", ["report", "{report_bad}"], "result.json"),
    ("formats-not-a-run", ["formats", "{empty}"], "empty"),
    ("entropy-not-a-run", ["entropy", "{missing}"], "does-not-exist"),
]


@pytest.mark.parametrize("argv,names", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_malformed_input_is_one_clear_line(bad, argv, names):
    res = CliRunner().invoke(app, [a.format(**bad) for a in argv], env={"COLUMNS": "400"})
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    assert names in res.output, res.output
    if "Usage:" not in res.output:  # click's own usage errors are a box; ours are one line
        assert res.output.count("\n") == 1 and res.output.startswith("error: "), res.output


def test_error_keeps_bracketed_text(tmp_path):
    """Rich markup must not eat ``[...]`` in a message (a list value, a '[UNK]' token)."""
    res = CliRunner().invoke(app, ["world", "show", "--set", "eval.splits=[bogus]"])
    assert res.exit_code == 2 and "eval.splits=[bogus]" in res.output, res.output
    res = CliRunner().invoke(app, ["runs", "show", "[abc]", "--store", str(tmp_path)])
    assert res.exit_code == 2 and "'[abc]'" in res.output, res.output


def test_debug_shows_the_traceback(tmp_path):
    res = CliRunner().invoke(app, ["--debug", "world", "show", "--set", "world.name=arith"])
    assert res.exit_code != 2 and res.exception is not None and "world.name" in str(res.exception)
    res = CliRunner().invoke(app, ["world", "show", "--set", "world.name=arith"], env={"PRIORLAB_DEBUG": "1"})
    assert res.exception is not None and not isinstance(res.exception, SystemExit)


@pytest.mark.parametrize("error,code", [
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/model.safetensors"), 2),
    (PermissionError(errno.EACCES, "Permission denied", "runs/x"), 2),
    (IncompleteError("2 of 5 jobs could not run: rl-1 [crashed]"), 2),
    (RuntimeError("a bug in priorlab"), 1),
])
def test_one_handler_for_every_command(monkeypatch, error, code):
    """What the user can fix is one line and exit 2 from any command; a bug keeps its traceback."""
    import priorlab.config

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(priorlab.config, "load_config", fail)
    res = CliRunner().invoke(app, ["world", "show"])
    assert res.exit_code == code
    if code == 2:
        assert res.output.startswith("error: ") and res.output.count("\n") == 1
        assert (getattr(error, "filename", None) or "[crashed]") in res.output
    else:
        assert res.exception is error


def test_python_dash_m_runs_the_same_app():
    out = subprocess.run([sys.executable, "-m", "priorlab.cli", "world", "show", "--n", "1"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "verified=True" in out.stdout, out.stderr
