"""Token roles of an arithmetic-world completion: planning vs computing (claims.md §10b).

A step line ``e = s 7 * r 10 = e 5`` (or its code form ``e = mul ( s 7 , r 10 ) -> e 5``)
mixes two decisions: *what* to compute next and *from what* (the target name ``e`` and the
operand names ``s``, ``r``) and the arithmetic (operand values ``7``, ``10``, constants, and the
result ``5``). Roles, one per whitespace token:

- ``plan``: the target name at the start of a step line, operand names;
- ``compute``: operand values (constants included) and the result value;
- ``answer``: the tokens after ``<ans>`` (queried names, values, ``<conf> q%``);
- ``other``: ``=``, ``;``, operators and code words, the repeated target name before the result,
  the ``def solve ( ) :`` header, ``<ans>`` itself, ``<eos>``;
- ``unparsed``: tokens of a line that parses as no step (the role of its tokens is unknown).
"""

from __future__ import annotations

from priorlab.worlds.formats import ANS, SEP, is_name, parse_line

ROLES = ("plan", "compute", "answer", "other", "unparsed")


def _operand_roles(toks: list[str], i: int) -> tuple[list[str], int]:
    """Roles of the operand at ``toks[i]``: ``name value`` -> plan, compute; ``const`` -> compute."""
    if is_name(toks[i]):
        return ["plan", "compute"], i + 2
    return ["compute"], i + 1


def line_roles(toks: list[str]) -> list[str]:
    """Roles of one ``;``-free line (module docstring); same length as ``toks``."""
    kind, step = parse_line(toks)
    if kind == "header":
        return ["other"] * len(toks)
    if step is None:
        return ["unparsed"] * len(toks)
    roles = ["plan", "other"]  # target, "="
    i = 2
    if kind == "code":
        roles += ["other", "other"]  # op word, "("
        i = 4
    a, i = _operand_roles(toks, i)
    roles += a + ["other"]  # op or ","
    b, i = _operand_roles(toks, i + 1)
    roles += b
    return roles + ["other"] * (len(toks) - i - 1) + ["compute"]  # "= e" or ") -> e", then the result


def token_roles(tokens: list[str]) -> list[str]:
    """One role per token of a completion (whitespace tokens, ``<eos>`` included if present)."""
    roles: list[str] = []
    line: list[str] = []
    for j, t in enumerate(tokens):
        if t == ANS:
            roles += (line_roles(line) if line else []) + ["other"]
            return roles + ["other" if u == "<eos>" else "answer" for u in tokens[j + 1:]]
        if t in (SEP, "<eos>"):
            roles += (line_roles(line) if line else []) + ["other"]
            line = []
        else:
            line.append(t)
    return roles + (line_roles(line) if line else [])
