"""Checks of typed configs that span fields: weights, per-format probabilities and a corpus recipe
against its world. Each raises ``ValueError`` naming the dotted field and the fix (pydantic wraps it
into the :class:`~priorlab.errors.ConfigError` of :func:`priorlab.config.load_config`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from priorlab.overrides import first_error
from priorlab.registry import did_you_mean


def check_weights(weights: dict, field: str, known: list[str] | None = None) -> None:
    if not weights:
        raise ValueError(f"{field}: give at least one entry with a positive weight")
    for key, w in weights.items():
        if known is not None and str(key) not in known:
            raise ValueError(f"{field}: unknown name {key!r}.{did_you_mean(str(key), known)} "
                             f"Known: {', '.join(known)}.")
        if not w >= 0:  # also catches NaN
            raise ValueError(f"{field}.{key}: weight {w} is negative; weights must be >= 0")
    if sum(weights.values()) <= 0:
        raise ValueError(f"{field}: all weights are zero; give at least one a positive weight")


def check_probabilities(probs: dict[str, float] | None, field: str, formats: list[str], zero: bool = True) -> None:
    """Every key is a known format and every value a probability (in [0, 1], or (0, 1] without ``zero``)."""
    for fmt, p in (probs or {}).items():
        if fmt not in formats:
            raise ValueError(f"{field}: unknown format {fmt!r}.{did_you_mean(fmt, formats)} "
                             f"Known: {', '.join(formats)}.")
        if not (0 <= p <= 1 if zero else 0 < p <= 1):
            raise ValueError(f"{field}.{fmt}: {p} is not a probability in {'[' if zero else '('}0, 1]")


def _check_first_world(world, knobs: dict[str, Any], built) -> None:
    """``corpus.curriculum.world``: known knobs of the same world, whose words the prior's tokenizer has."""
    if "name" in knobs:
        raise ValueError("corpus.curriculum.world: the first phase changes the world's knobs, not the world "
                         "(remove 'name')")
    try:
        first = world.changed(knobs).build()
    except ValidationError as e:
        raise ValueError(f"corpus.curriculum.world: {first_error(e).removeprefix('world.')}") from None
    extra = sorted(set(first.vocabulary()) - set(built.vocabulary()))
    if extra:
        raise ValueError(f"corpus.curriculum.world: the first phase's documents would use words the world's "
                         f"vocabulary lacks ({', '.join(extra[:5])}); e.g. a smaller modulus, not a larger one")


def _check_op_acc(op_acc: dict[str, float], used: list[str], known: list[str]) -> None:
    """``corpus.confidence_op_acc``: known formats, every used format covered, p in (0, 1]."""
    field = "corpus.confidence_op_acc"
    check_probabilities(op_acc, field, known, zero=False)
    missing = [f for f in used if f not in op_acc]
    if missing:
        raise ValueError(f"{field}: no entry for corpus format {missing[0]!r}; give every format in "
                         f"corpus.formats a per-operation accuracy, e.g. {{{missing[0]}: 0.85}}")


def check_corpus(c, world_cfg, world) -> None:
    """A prior's corpus recipe ``c`` against its world (``world_cfg``, built: ``world``)."""
    from priorlab.worlds import EVAL_SPLITS, FORMATS

    formats = FORMATS.names()
    check_weights(c.formats, "corpus.formats", formats)
    if c.curriculum.formats is not None:
        check_weights(c.curriculum.formats, "corpus.curriculum.formats", formats)
    if c.curriculum.world:
        _check_first_world(world_cfg, c.curriculum.world, world)
    check_weights(c.contexts, "corpus.contexts", world.contexts)
    check_weights(c.depths, "corpus.depths")
    if c.confidence_op_acc is not None:
        used = [*c.formats.items(), *((c.curriculum.formats or {}).items() if c.curriculum.share else ())]
        _check_op_acc(c.confidence_op_acc, sorted({f for f, w in used if w > 0}), formats)
    check_probabilities(c.format_accuracy, "corpus.format_accuracy", formats)
    check_probabilities(c.curriculum.format_accuracy, "corpus.curriculum.format_accuracy", formats)
    if (c.facts or c.format_accuracy or c.curriculum.format_accuracy) and not hasattr(world, "fact"):
        raise ValueError(f"corpus.facts / corpus.format_accuracy: world {world.name!r} has no operations "
                         f"to drill or to get wrong; leave both at their defaults")
    if c.contamination.split not in EVAL_SPLITS:
        raise ValueError(f"corpus.contamination.split: {c.contamination.split!r} is not an eval split; "
                         f"only {', '.join(EVAL_SPLITS)} can be contaminated on purpose")
    if c.contamination.format not in FORMATS:
        raise ValueError(f"corpus.contamination.format: unknown format {c.contamination.format!r}."
                         f"{did_you_mean(c.contamination.format, formats)}")
