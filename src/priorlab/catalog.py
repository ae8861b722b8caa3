"""SQL over a run store (``priorlab runs query``): DuckDB views over every run's own files.

Nothing is copied: ``metrics``, ``passk`` and ``samples`` are views over the runs'
``metrics.jsonl`` (``read_json_auto``) and ``passk.parquet`` / ``samples.parquet``
(``read_parquet``), matched to their run by file name; ``runs`` is built from each ``run.json``,
``config.yaml`` and ``summary.json`` when the catalog opens.

- ``runs``: run_id, run_kind, run_status, resumable, run_dir, config_hash, code_version,
  git_commit, host, created_at, started_at, ended_at, wall_s, attempts, error, ``<field>_run`` for
  each checkpoint field of the run's kind (:mod:`priorlab.kinds`: ``prior_run``, the store id of an RL
  run's prior; ``pretrain_init_from_run`` for a continued prior), then the config flattened to one column per field (dots become ``_``:
  ``reward_weights``, ``algo_advantage``, ``seed``, ``corpus_formats``, ``pretrain_tokens``; lists
  and maps are compact JSON text, so ``GROUP BY reward_weights`` works), then ``summary_*`` (the
  scalar fields of ``summary.json``: steps, wall_s, rl_seconds, ...).
- ``metrics``: run_id + every ``metrics.jsonl`` row (``kind`` train/probe for RL; union of columns).
- ``passk``: run_id, stage and eval_name from the kind's ``eval_dirs`` (``prior``/``eval`` for a
  pretrain run's ``eval/``; ``before`` / ``after`` x ``eval`` (held-out split) / ``band`` (the RL
  depth band) for RL) + the pass@k row schema of
  :mod:`priorlab.evaluate`.
- ``samples``: the same keys + the per-completion records of ``samples.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from priorlab.errors import ConfigError
from priorlab.kinds import KINDS
from priorlab.store import config_model, list_runs, owning_run, store_root

RECORD_COLUMNS = {"id": "run_id", "kind": "run_kind", "status": "run_status", "resumable": "resumable",
                  "dir": "run_dir", "hash": "config_hash", "code_version": "code_version", "git_commit": "git_commit",
                  "host": "host", "created_at": "created_at", "started_at": "started_at", "ended_at": "ended_at",
                  "wall_s": "wall_s", "attempts": "attempts", "error": "error"}


class QueryError(ConfigError):
    """A SQL error, phrased with the available views."""


def flatten(data: dict, model, prefix: str = "") -> dict:
    """Config dict -> ``{a_b_c: scalar}``; sub-models (by ``model``'s fields) recurse, other maps
    and lists become compact JSON text."""
    out = {}
    for key, value in data.items():
        sub = getattr(model.model_fields.get(key) if model else None, "annotation", None)
        if isinstance(value, dict) and isinstance(sub, type) and hasattr(sub, "model_fields"):
            out |= flatten(value, sub, f"{prefix}{key}_")
        else:
            out[f"{prefix}{key}"] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
    return out


def _kind(rec: dict):
    """The registered kind of a run record, or None (unknown or missing kind: no kind columns)."""
    return KINDS.get(rec["kind"]) if rec.get("kind") in KINDS else None


def _dotted(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def run_row(rec: dict) -> dict:
    """One ``runs`` row: the record (renamed), the flattened config and the summary's scalars."""
    d = Path(rec["dir"])
    row = {new: rec.get(old) for old, new in RECORD_COLUMNS.items()}
    row["run_id"] = d.name
    cfg = yaml.safe_load((d / "config.yaml").read_text()) if (d / "config.yaml").exists() else {}
    kind = _kind(rec)
    for dotted in kind.checkpoints if kind else ():  # the store run a checkpoint field points into
        value = _dotted(cfg, dotted)
        if value:
            owner = owning_run(value)
            row[f"{dotted.replace('.', '_')}_run"] = owner.name if owner else None
    row |= flatten(cfg, config_model(rec["kind"]) if rec.get("kind") else None)
    summary = json.loads((d / "summary.json").read_text()) if (d / "summary.json").exists() else {}
    row |= {f"summary_{k}": v for k, v in summary.items() if isinstance(v, (int, float, str, bool))}
    return row


def _arrow(rows: list[dict]):
    """Rows with different keys -> one Arrow table (a column of mixed types becomes text)."""
    import pyarrow as pa

    names = list(dict.fromkeys(k for r in rows for k in r))
    cols = {}
    for n in names:
        values = [r.get(n) for r in rows]
        try:
            cols[n] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            cols[n] = pa.array([None if v is None else json.dumps(v) if not isinstance(v, str) else v
                                for v in values])
    return pa.table(cols) if names else pa.table({"run_id": pa.array([], pa.string())})


def _file_view(con, name: str, reader: str, files: list[tuple[str, ...]], keys: list[str], options: str) -> None:
    """``CREATE VIEW name`` over ``reader([...])`` joined to each file's keys (run_id, ...)."""
    import pyarrow as pa

    if not files:
        nulls = ", ".join(f"NULL::VARCHAR AS {k}" for k in keys)
        con.execute(f"CREATE VIEW {name} AS SELECT {nulls} WHERE false")
        return
    con.register(f"_{name}_files", pa.table({k: [f[i] for f in files] for i, k in enumerate(["path", *keys])}))
    paths = ", ".join("'" + f[0].replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW {name} AS SELECT " + ", ".join(f"f.{k}" for k in keys) + ", t.* EXCLUDE (filename) "
                f"FROM {reader}([{paths}], filename=true, union_by_name=true{options}) t "
                f"JOIN _{name}_files f ON t.filename = f.path")


def connect(store: str | Path | None = None):
    """A DuckDB connection with the views ``runs``, ``metrics``, ``passk``, ``samples``."""
    import duckdb

    con = duckdb.connect()
    recs = list_runs(store)
    con.register("runs", _arrow([run_row(r) for r in recs]))
    metrics, tables = [], {"passk": [], "samples": []}
    for r in recs:
        d = Path(r["dir"])
        if (d / "metrics.jsonl").is_file() and (d / "metrics.jsonl").stat().st_size:
            metrics.append((str(d / "metrics.jsonl"), d.name))
        kind = _kind(r)
        for sub, (stage, eval_name) in (kind.eval_dirs if kind else {}).items():
            for table, files in tables.items():
                if (d / sub / f"{table}.parquet").is_file():
                    files.append((str(d / sub / f"{table}.parquet"), d.name, stage, eval_name))
    _file_view(con, "metrics", "read_json_auto", metrics, ["run_id"], ", format='newline_delimited', sample_size=-1")
    for table, files in tables.items():
        _file_view(con, table, "read_parquet", files, ["run_id", "stage", "eval_name"], "")
    return con


def query(sql: str, store: str | Path | None = None) -> tuple[list[str], list[tuple]]:
    """Run ``sql`` over the store's views; return (column names, rows)."""
    import duckdb

    con = connect(store)
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    except duckdb.Error as e:
        raise QueryError(f"{str(e).splitlines()[0]} (views: runs, metrics, passk, samples over the store "
                         f"{store_root(store)}; columns in docs/runs.md or `DESCRIBE runs`)") from None
    finally:
        con.close()
