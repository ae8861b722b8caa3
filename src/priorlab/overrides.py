"""``--set a.b=c`` overrides of a config's data, and one-line messages for its validation errors
(the dotted field, the problem, "did you mean" on an unknown field): shared by every typed config
(:mod:`priorlab.config`, the run kinds' configs, sweep specs)."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from priorlab.errors import ConfigError
from priorlab.registry import did_you_mean


def first_error(e: ValidationError, model: type[BaseModel] | None = None) -> str:
    """``dotted.field: message`` for the first error, with "did you mean" on unknown fields."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ").rstrip(".")
    if err["type"] == "extra_forbidden":
        known = _fields_at(model, err["loc"][:-1]) if model else []
        msg = f"unknown field {err['loc'][-1]!r}.{did_you_mean(str(err['loc'][-1]), known)}".rstrip(".")
        if known:
            msg += f" Fields here: {', '.join(known)}"
    return f"{loc}: {msg}" if loc and not msg.startswith(loc) else msg


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """Field names of the sub-model reached by ``path`` ([] if it is not a model)."""
    for p in path:
        info = model.model_fields.get(str(p))
        ann = getattr(info, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def parse_set(expr: str) -> tuple[list[str], Any]:
    """``'a.b=c'`` -> (['a', 'b'], yaml-parsed c)."""
    if "=" not in expr:
        raise ConfigError(f"--set {expr!r}: expected KEY=VALUE, e.g. --set pretrain.tokens=200000")
    key, value = expr.split("=", 1)
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {expr!r}: the value is not valid YAML ({str(e).splitlines()[0]}); quote it for "
                          "the shell, e.g. --set \"reward.weights={verified: 1.0}\"") from None
    glued = _glued_key(parsed)
    if glued:
        fixed = expr.replace(glued, glued.replace(":", ": ", 1), 1)
        raise ConfigError(f"--set {expr!r}: YAML reads {glued!r} as one key with no value (a mapping needs a space "
                          f"after the colon); write --set \"{fixed}\"")
    return key.strip().split("."), parsed


def _glued_key(value: Any) -> str | None:
    """A mapping key like ``'random:1.0'`` with no value, anywhere in ``value``: ``{random:1.0}`` typed
    without the space YAML needs after a colon."""
    if isinstance(value, dict):
        for k, v in value.items():
            if v is None and isinstance(k, str) and ":" in k:
                return k
            if (found := _glued_key(v)) is not None:
                return found
    elif isinstance(value, list):
        return next((f for v in value if (f := _glued_key(v)) is not None), None)
    return None


def _apply_set(data: dict, path: list[str], value: Any) -> None:
    node = data
    for p in path[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[path[-1]] = value


def apply_sets(data: dict, sets: list[str]) -> None:
    """Apply ``--set`` strings in order, ``world.name`` first: switching to another world drops
    the old world's own knobs (e.g. the demo's ``modulus``; ``seed`` stays) and ``eval.depths``
    (back to the new world's default unless set too)."""
    parsed = sorted(map(parse_set, sets), key=lambda kv: kv[0] != ["world", "name"])
    for key, value in parsed:
        world = data.get("world")
        if key == ["world", "name"] and isinstance(world, dict) and world.get("name") != value:
            data["world"] = {"seed": world.get("seed", 0)}
            if isinstance(data.get("eval"), dict):
                data["eval"].pop("depths", None)
        _apply_set(data, key, value)
