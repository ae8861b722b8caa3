"""The shape of a saved ``result.json``, checked on load: a malformed or hostile file (a number
that is a string, a list that is an object, markup where a number belongs) is an
:class:`~priorlab.errors.InputDataError` naming the field, never a crash or a broken page.

Strings are allowed to hold anything (the report escapes every one); the types are what is
checked, because the report formats numbers, iterates lists and reads dict keys.
"""

from __future__ import annotations

from priorlab.errors import InputDataError

NUM = "number"
OPT_NUM = "number or null"
STR = "string"
OPT_STR = "string or null"

PART = {"name": STR, "statistic": STR, "effect": OPT_NUM, "ci_low": OPT_NUM, "ci_high": OPT_NUM, "verdict": STR,
        "reason": STR, "mde": OPT_NUM, "paper_effect": OPT_NUM, "level": NUM, "units": NUM}
CONTROL = {"description": STR, "effect": OPT_NUM, "ci_low": OPT_NUM, "ci_high": OPT_NUM, "detected": "boolean"}
RUN = {"name": STR, "kind": STR, "path": STR, "summary": STR, "reused": "boolean", "wall_s": OPT_NUM}
TOP = {"id": STR, "title": STR, "statement": STR, "statistic": STR, "verdict": STR, "reason": STR,
       "effect": OPT_NUM, "ci_low": OPT_NUM, "ci_high": OPT_NUM, "seeds": NUM, "scale": STR, "wall_s": NUM,
       "mde": OPT_NUM, "paper_effect": OPT_NUM}


def _ok(value, kind: str) -> bool:
    if kind.endswith("or null") and value is None:
        return True
    if kind.startswith("number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind.startswith("string"):
        return isinstance(value, str)
    return isinstance(value, bool)


def _fields(d, schema: dict, where: str, required: bool = True) -> None:
    if not isinstance(d, dict):
        raise InputDataError(f"{where}: expected an object, got {type(d).__name__}")
    for key, kind in schema.items():
        if key not in d:
            if required:
                raise InputDataError(f"{where}.{key}: missing")
            continue
        if not _ok(d[key], kind):
            raise InputDataError(f"{where}.{key}: expected a {kind}, got {type(d[key]).__name__} {d[key]!r:.60}")


def _list(d: dict, key: str, where: str) -> list:
    value = d.get(key, [])
    if not isinstance(value, list):
        raise InputDataError(f"{where}.{key}: expected a list, got {type(value).__name__}")
    return value


def check_result(d: dict) -> None:
    """Raise :class:`InputDataError` naming the first field of ``d`` that breaks the contract."""
    where = f"claim result {str(d.get('id', '?'))[:40]!r}"
    _fields(d, TOP, where, required=False)
    source = d.get("source")
    if not isinstance(source, dict) or not all(isinstance(v, (str, type(None))) for v in source.values()):
        raise InputDataError(f"{where}.source: expected an object of strings")
    for key in ("figures", "notes", "next_steps"):
        for i, v in enumerate(_list(d, key, where)):
            if not isinstance(v, str):
                raise InputDataError(f"{where}.{key}[{i}]: expected a string, got {type(v).__name__}")
    for i, row in enumerate(_list(d, "table", where)):
        if not isinstance(row, dict):
            raise InputDataError(f"{where}.table[{i}]: expected an object, got {type(row).__name__}")
    for i, run in enumerate(_list(d, "runs", where)):
        _fields(run, RUN, f"{where}.runs[{i}]", required=False)
    for i, part in enumerate(_list(d, "parts", where)):
        _fields(part, {k: PART[k] for k in ("name", "statistic", "effect", "ci_low", "ci_high", "verdict")},
                f"{where}.parts[{i}]")
        _fields(part, PART, f"{where}.parts[{i}]", required=False)
    for key in ("positive_control", "negative_control"):
        if d.get(key) is not None:
            _fields(d[key], CONTROL, f"{where}.{key}")
