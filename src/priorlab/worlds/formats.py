"""Solution formats: how a list of computation steps is written, and read back.

A format renders :class:`Step` objects into whitespace tokens (one step per ``;``-terminated
line) and parses one line back, returning ``None`` for anything it does not recognise.
Formats are registered so a corpus config can weight them by name; the verifier detects the
format of a completion from its content (``def``/``mul (`` lines are code, ``x = a 1 + b 2 =
x 3`` lines are steps, a bare ``<ans>`` is answer-only).
"""

from __future__ import annotations

from dataclasses import dataclass

from priorlab.registry import Registry

SEP = ";"
ANS = "<ans>"
CONF = "<conf>"
OPS = ("+", "-", "*")
CONF_TOKENS = tuple(f"{p}%" for p in range(0, 101, 10))
#: Critique markers (:mod:`priorlab.worlds.critique`): a critique opens with ``<crit>`` and the
#: verdict of the attempt it judges. Not in :func:`vocabulary`: a prior's tokenizer gets them with
#: its refinement documents (``corpus.refine``), so every other prior stays as it was.
CRIT, RIGHT, WRONG = "<crit>", "<right>", "<wrong>"
CRITIQUE_TOKENS = (CRIT, RIGHT, WRONG)
#: Thought markers: ``<think> … </think>`` is scratch work, skipped by the verifier
#: (:func:`drop_thoughts`). RL during pretraining (``priorlab rlp``) samples thoughts; a corpus
#: teaches them with thought documents (``corpus.thoughts``). Not in :func:`vocabulary`, for the
#: same reason as the critique markers.
THINK, END_THINK = "<think>", "</think>"
THOUGHT_TOKENS = (THINK, END_THINK)


@dataclass(frozen=True)
class Step:
    """``target = args[0] op args[1] = target result``; an arg is (name, value) or (None, const)."""

    target: str
    op: str
    args: tuple[tuple[str | None, int], ...]
    result: int


def as_int(tok: str) -> int | None:
    """A short token of ASCII digits as int, else None (bounded: no giant-int parsing).

    ASCII only: ``str.isdigit`` is also true for ``'²'`` and ``'①'`` (on which ``int`` raises)
    and for ``'٣'`` (Arabic-Indic, which ``int`` reads as 3), none of which a world renders."""
    return int(tok) if len(tok) <= 6 and tok.isascii() and tok.isdigit() else None


def is_name(tok: str) -> bool:
    return tok.isalpha() and tok.isascii()


def _operand(toks: list[str], i: int) -> tuple[tuple[str | None, int] | None, int]:
    """Parse ``name value`` or ``const`` at position i; returns (operand, next index)."""
    if i < len(toks) and as_int(toks[i]) is not None:
        return (None, as_int(toks[i])), i + 1
    if i + 1 < len(toks) and is_name(toks[i]) and as_int(toks[i + 1]) is not None:
        return (toks[i], as_int(toks[i + 1])), i + 2
    return None, i


def _operand_tokens(arg: tuple[str | None, int]) -> list[str]:
    name, value = arg
    return [str(value)] if name is None else [name, str(value)]


class SolutionFormat:
    """Base class: answer line and confidence handling shared by every format."""

    name = "base"
    header: tuple[str, ...] = ()
    markers: frozenset[str] = frozenset()

    def render_step(self, step: Step) -> list[str]:
        raise NotImplementedError

    def parse_step(self, toks: list[str]) -> Step | None:
        raise NotImplementedError

    def render(
        self, steps: list[Step], answer: tuple[tuple[str, int], ...], confidence: float | None
    ) -> list[str]:
        out: list[str] = list(self.header) + ([SEP] if self.header else [])
        for step in steps:
            out += self.render_step(step) + [SEP]
        out.append(ANS)
        for name, value in answer:
            out += [name, str(value)]
        if confidence is not None:
            out += [CONF, confidence_token(confidence)]
        return out


FORMATS: Registry[SolutionFormat] = Registry("format")


def confidence_token(q: float) -> str:
    """Round a probability to the nearest 10% token ('0%' .. '100%')."""
    q = min(1.0, max(0.0, float(q)))
    return f"{int(round(q * 10)) * 10}%"


def register(cls: type[SolutionFormat]) -> type[SolutionFormat]:
    FORMATS.register(cls.name)(cls())
    return cls


@register
class StepsFormat(SolutionFormat):
    """``e = s 7 * r 10 = e 5`` — every value right after its name ("bind" format)."""

    name = "steps"

    def render_step(self, step: Step) -> list[str]:
        a, b = step.args
        return [step.target, "=", *_operand_tokens(a), step.op, *_operand_tokens(b),
                "=", step.target, str(step.result)]

    def parse_step(self, toks: list[str]) -> Step | None:
        if len(toks) < 7 or not is_name(toks[0]) or toks[1] != "=":
            return None
        a, i = _operand(toks, 2)
        if a is None or i >= len(toks) or toks[i] not in OPS:
            return None
        op = toks[i]
        b, i = _operand(toks, i + 1)
        if b is None or toks[i:i + 2] != ["=", toks[0]] or len(toks) != i + 3:
            return None
        result = as_int(toks[i + 2])
        return None if result is None else Step(toks[0], op, (a, b), result)


@register
class CodeFormat(SolutionFormat):
    """``def solve ( ) :`` then ``e = mul ( s 7 , r 10 ) -> e 5`` lines: same steps as code."""

    name = "code"
    header = ("def", "solve", "(", ")", ":")
    words = {"+": "add", "-": "sub", "*": "mul"}
    markers = frozenset({"def", "->", "add", "sub", "mul"})

    def render_step(self, step: Step) -> list[str]:
        a, b = step.args
        return [step.target, "=", self.words[step.op], "(", *_operand_tokens(a), ",",
                *_operand_tokens(b), ")", "->", step.target, str(step.result)]

    def parse_step(self, toks: list[str]) -> Step | None:
        ops = {w: o for o, w in self.words.items()}
        if len(toks) < 10 or not is_name(toks[0]) or toks[1] != "=" or toks[2] not in ops:
            return None
        if toks[3] != "(":
            return None
        a, i = _operand(toks, 4)
        if a is None or i >= len(toks) or toks[i] != ",":
            return None
        b, i = _operand(toks, i + 1)
        if b is None or toks[i:i + 3] != [")", "->", toks[0]] or len(toks) != i + 4:
            return None
        result = as_int(toks[i + 3])
        return None if result is None else Step(toks[0], ops[toks[2]], (a, b), result)


@register
class AnswerFormat(SolutionFormat):
    """Answer only: ``<ans> t 4 l 3`` with no steps."""

    name = "answer"

    def render(self, steps, answer, confidence):  # noqa: D102 - steps are omitted
        return super().render([], answer, confidence)

    def parse_step(self, toks: list[str]) -> Step | None:
        return None


def drop_thoughts(toks: list[str]) -> tuple[list[str], int]:
    """``toks`` without its thoughts (each ``<think> … </think>`` span), and the number of
    malformed markers: a ``</think>`` that closes nothing, a ``<think>`` inside a thought or never
    closed (its span still dropped, to the end)."""
    if THINK not in toks and END_THINK not in toks:
        return toks, 0
    out, inside, bad = [], False, 0
    for t in toks:
        if t == THINK:
            bad += inside
            inside = True
        elif t == END_THINK:
            bad += not inside
            inside = False
        elif not inside:
            out.append(t)
    return out, bad + inside


def parse_line(toks: list[str]) -> tuple[str, Step | None]:
    """Classify one ``;``-separated line: ('header'|'steps'|'code'|'invalid', step)."""
    if tuple(toks) == CodeFormat.header:
        return "header", None
    for name in ("steps", "code"):
        step = FORMATS.get(name).parse_step(toks)
        if step is not None:
            return name, step
    return "invalid", None


def vocabulary() -> list[str]:
    """Tokens the formats themselves use (names and numbers come from the world)."""
    code = FORMATS.get("code")
    return sorted({SEP, ANS, CONF, "=", ",", *OPS, *CONF_TOKENS, *code.header,
                   *code.markers, *CodeFormat.words.values()})
