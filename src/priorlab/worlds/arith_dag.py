"""The default controlled world: modular arithmetic over a dependency graph of operations.

A problem lists leaf values and operations in dependency order, then asks for the values of
``n_query`` nodes (the sink and the nodes just before it). Difficulty (``depth``) is the number
of operations; each operation consumes the previous one (``branches=2``: the previous one of its
chain, and the last operation joins both chains), so every operation is needed.

Example (depth 3, context ``letters``)::

    prompt:   s 7 ; r 10 ; e = s 7 * r 10 ; l = e * 11 ; t = r 10 * l ; ? t l
    steps:    e = s 7 * r 10 = e 5 ; l = e 5 * 11 = l 3 ; t = r 10 * l 3 = t 4 ; <ans> t 4 l 3
    code:     def solve ( ) : ; e = mul ( s 7 , r 10 ) -> e 5 ; ... ; <ans> t 4 l 3
    answer:   <ans> t 4 l 3

The defaults are the "bind" design of shared/research/world-feasibility.md (values next to
names, dependency order, inline leaf values), which a 0.8M-parameter model learns in ~3M
tokens; ``shuffle_prompt`` and ``inline_values=False`` make look-up harder.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from priorlab.registry import did_you_mean
from priorlab.worlds.base import SPLIT_BUCKETS, Problem, Verdict, World, WORLDS, content_bucket
from priorlab.worlds.formats import (
    ANS, CONF, CONF_TOKENS, FORMATS, SEP, Step, as_int, drop_thoughts, is_name, parse_line, vocabulary,
)

CONTEXTS: dict[str, tuple[str, ...]] = {
    "letters": tuple("abcdefghijklmnopqrstuvwxyz"),
    "greek": ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
              "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau",
              "upsilon", "phi", "chi", "psi", "omega"),
    "animals": ("cat", "dog", "cow", "pig", "hen", "fox", "owl", "bee", "ant", "elk", "yak",
                "emu", "ram", "eel", "bat", "rat", "cod", "asp", "gnu", "ape", "kid", "pup",
                "cub", "doe"),
    "fruits": ("fig", "kiwi", "lime", "pear", "plum", "date", "apple", "mango", "peach",
               "grape", "lemon", "melon", "olive", "guava", "berry", "cherry", "prune",
               "quince", "papaya", "banana", "orange", "apricot", "lychee", "nectarine"),
}
MAX_COMPLETION_TOKENS = 4096  # verifier reads at most this many tokens
MAX_COMPLETION_CHARS = 64_000


class ArithDagConfig(BaseModel):
    """Knobs of the arithmetic world (validated; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    modulus: int = Field(23, ge=2, le=997, description="values live in Z_P")
    ops: list[Literal["+", "-", "*"]] = Field(default_factory=lambda: ["+", "-", "*"], min_length=1)
    min_leaves: int = Field(2, ge=1)
    max_leaves: int = Field(3, ge=1)
    const_prob: float = Field(0.3, ge=0.0, le=1.0, description="P(second operand is a constant)")
    inline_values: bool = Field(True, description="write leaf values inline in operation lines")
    shuffle_prompt: bool = Field(False, description="shuffle the prompt lines (harder look-up)")
    n_query: int = Field(2, ge=1, le=4, description="queried nodes (sink first)")
    branches: int = Field(1, ge=1, le=2, description="1: one chain, each operation consumes the previous (one valid "
                          "order of computation); 2: two chains from the leaves that the last operation joins, so "
                          "every interleaving of them is a valid order (depth >= 3; shallower problems stay chains)")
    max_depth: int = Field(12, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "ArithDagConfig":
        if self.min_leaves > self.max_leaves:
            raise ValueError("min_leaves must be <= max_leaves")
        room = min(len(v) for v in CONTEXTS.values()) - self.max_leaves
        if self.max_depth > room:
            raise ValueError(f"max_depth must be <= {room} (names per context minus max_leaves)")
        return self


@WORLDS.register("arith_dag")
class ArithDag(World):
    """Arithmetic dependency-graph world; see the module docstring."""

    name = "arith_dag"
    Config = ArithDagConfig

    def __init__(self, seed: int = 0, **knobs):
        self.seed = int(seed)
        self.cfg = ArithDagConfig(**knobs)

    # ------------------------------------------------------------------ generation
    @property
    def contexts(self) -> list[str]:
        return list(CONTEXTS)

    @property
    def formats(self) -> list[str]:
        return FORMATS.names()

    @property
    def depths(self) -> list[int]:
        return list(range(1, self.cfg.max_depth + 1))

    @property
    def eval_depths(self) -> list[int]:
        """2-7: the demo's pretraining depths 2-5 and two beyond (capped at ``max_depth``)."""
        return [d for d in range(2, 8) if d <= self.cfg.max_depth]

    def guess_prob(self, problem: Problem) -> float:
        """One uniform guess of every queried value: ``P ** -n_query``."""
        return float(self.cfg.modulus ** -len(problem.answer))

    def check_context(self, context: str | None) -> str:
        context = context or self.contexts[0]
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}.{did_you_mean(context, self.contexts)}")
        return context

    def problem(self, split: str, index: int, depth: int, context: str | None = None) -> Problem:
        if split not in SPLIT_BUCKETS:
            raise ValueError(f"unknown split {split!r}.{did_you_mean(split, list(SPLIT_BUCKETS))}")
        if not 1 <= depth <= self.cfg.max_depth:
            raise ValueError(f"depth {depth} out of range 1..{self.cfg.max_depth} (world.max_depth)")
        context = self.check_context(context)
        lo, hi = SPLIT_BUCKETS[split]
        for attempt in range(100_000):
            rng = random.Random(f"{self.name}/{self.seed}/{split}/{depth}/{context}/{index}/{attempt}")
            leaves, nodes, query = self._sample_graph(rng, depth, context)
            prompt = self._prompt(leaves, nodes, query, rng)
            if lo <= content_bucket(prompt) < hi:
                values = dict(leaves) | {n.target: n.result for n in nodes}
                answer = tuple((q, values[q]) for q in query)
                gold = {"leaves": leaves, "nodes": nodes}
                return Problem(self.name, split, index, depth, context, prompt, answer, gold)
        raise RuntimeError(f"no {split} item found for depth {depth}; the split is too small")

    def _sample_graph(self, rng: random.Random, depth: int, context: str):
        """Leaves, ``depth`` operations in prompt order, query names (the last operation and those
        just before it). One chain (each operation consumes the previous), or with ``branches=2``
        two chains drawn interleaved and joined by the last operation."""
        cfg, P = self.cfg, self.cfg.modulus
        n_leaves = rng.randint(cfg.min_leaves, cfg.max_leaves)
        names = rng.sample(CONTEXTS[context], n_leaves + depth)
        leaves = tuple((names[i], rng.randrange(P)) for i in range(n_leaves))
        values = dict(leaves)
        if cfg.branches > 1 and depth >= 3:
            left = rng.randint(1, depth - 2)
            chains = [0] * left + [1] * (depth - 1 - left)
            rng.shuffle(chains)
            chains.append(None)  # the sink joins the two chains' ends
        else:
            chains = [0] * depth
        ends: dict = {}  # chain -> its last operation
        member: dict = {}  # operation -> its chain; an operation reads leaves and its own chain
        nodes: list[Step] = []
        for i, chain in enumerate(chains):
            target = names[n_leaves + i]
            if chain is None:
                args = [(ends[c], values[ends[c]]) for c in (0, 1)]
            else:
                args = self._operands(rng, ends.get(chain) or rng.choice(names[:n_leaves]), values,
                                      [n for n in names[:n_leaves + i] if member.get(n, chain) == chain])
            if rng.random() < 0.5:
                args.reverse()
            op = rng.choice(cfg.ops)
            result = _apply(op, args[0][1], args[1][1], P)
            values[target] = result
            nodes.append(Step(target, op, (args[0], args[1]), result))
            ends[chain], member[target] = target, chain
        query = tuple(n.target for n in reversed(nodes[-cfg.n_query:]))
        return leaves, tuple(nodes), query

    def _operands(self, rng: random.Random, first: str, values: dict, pool: list[str]) -> list:
        """``first`` and a second operand: a constant (``const_prob``, or when ``pool`` holds no
        other name: a world with one leaf) or a name drawn from ``pool``."""
        pool = [n for n in pool if n != first]
        if rng.random() < self.cfg.const_prob or not pool:
            return [(first, values[first]), (None, rng.randrange(self.cfg.modulus))]
        pick = rng.choice(pool)
        return [(first, values[first]), (pick, values[pick])]

    def in_drawn_order(self, problem: Problem, rng: random.Random) -> Problem:
        """``problem`` with its gold operations in a drawn valid order: each next operation drawn
        uniformly from those whose operands are known. A chain has one order."""
        known = {n for n, _ in problem.gold["leaves"]}
        left, order = list(problem.gold["nodes"]), []
        while left:
            ready = [s for s in left if all(n is None or n in known for n, _ in s.args)]
            step = ready[rng.randrange(len(ready))]
            order.append(step)
            known.add(step.target)
            left.remove(step)
        return replace(problem, gold={**problem.gold, "nodes": tuple(order)})

    def _prompt(self, leaves, nodes, query, rng: random.Random) -> str:
        leaf_names = {name for name, _ in leaves}
        lines = [[name, str(value)] for name, value in leaves]
        for node in nodes:
            ops = []
            for name, value in node.args:
                if name is None:
                    ops.append([str(value)])
                elif name in leaf_names and self.cfg.inline_values:
                    ops.append([name, str(value)])
                else:
                    ops.append([name])
            lines.append([node.target, "=", *ops[0], node.op, *ops[1]])
        if self.cfg.shuffle_prompt:
            rng.shuffle(lines)
        toks = [t for line in lines for t in (*line, SEP)]
        return " ".join(toks + ["?", *query])

    # ------------------------------------------------------------------ rendering
    def render_solution(self, problem: Problem, fmt: str, confidence: float | None = None) -> str:
        steps = list(problem.gold["nodes"])
        return " ".join(FORMATS.get(fmt).render(steps, problem.answer, confidence))

    def gold_steps(self, problem: Problem) -> list[Step]:
        return list(problem.gold["nodes"])

    def fact(self, rng: random.Random) -> tuple[str, str]:
        """One operation fact as (prompt, solution): ``a op b`` and its value mod P (corpus.facts)."""
        P = self.cfg.modulus
        a, b, op = rng.randrange(P), rng.randrange(P), rng.choice(self.cfg.ops)
        return f"{a} {op} {b}", str(_apply(op, a, b, P))

    def with_errors(self, problem: Problem, op_acc: float, rng: random.Random) -> Problem:
        """``problem`` as an author whose every operation is right with probability ``op_acc`` solves it.

        A wrong operation gets a uniformly drawn wrong value; later steps use the values as
        written (so the trace stays consistent and the answer follows the slip). Operand values
        of leaves and constants are copied from the prompt. ``rng`` draws two uniforms per step
        whatever the outcome, so one slip does not shift the next document's draws.
        """
        P, shifts = self.cfg.modulus, []
        for _ in problem.gold["nodes"]:
            slip, shift = rng.random() >= op_acc, 1 + rng.randrange(P - 1)
            shifts.append(shift if slip else 0)
        return self._slipped(problem, shifts)

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """The gold steps with one step's result (drawn by ``rng``) off by a non-zero offset and
        every later step recomputed from the wrong values, in the steps format: what a solver
        that slips once and carries on writes."""
        n, P = len(problem.gold["nodes"]), self.cfg.modulus
        slip, off = rng.randrange(n), rng.randrange(1, P)
        return self.render_solution(self._slipped(problem, [off if i == slip else 0 for i in range(n)]), "steps")

    def _slipped(self, problem: Problem, shifts: list[int]) -> Problem:
        """``problem`` with operation i's result shifted by ``shifts[i]`` (mod P) and every later
        operation computed from the values as written, answer included."""
        P, values, nodes = self.cfg.modulus, {}, []
        for step, shift in zip(problem.gold["nodes"], shifts):
            args = tuple((n, values.get(n, x) if n else x) for n, x in step.args)
            result = (_apply(step.op, args[0][1], args[1][1], P) + shift) % P
            values[step.target] = result
            nodes.append(Step(step.target, step.op, args, result))
        answer = tuple((n, values[n]) for n, _ in problem.answer)
        return replace(problem, answer=answer, gold={**problem.gold, "nodes": tuple(nodes)})

    def vocabulary(self) -> list[str]:
        names = {n for ctx in CONTEXTS.values() for n in ctx}
        numbers = [str(i) for i in range(self.cfg.modulus)]
        return sorted(names) + numbers + vocabulary() + ["?"]

    # ------------------------------------------------------------------ verification
    def verify(self, problem: Problem, completion: str, truncated: bool = False) -> Verdict:
        """Strict verdict for ``completion`` (text after the prompt). Never raises.

        Reads at most 64k characters / 4096 tokens; text after ``<eos>`` and thoughts
        (``<think> … </think>``, :func:`~priorlab.worlds.formats.drop_thoughts`) are ignored; a
        malformed thought marker counts as an invalid line.
        ``truncated`` marks a completion that stopped at the token limit.
        """
        v = Verdict(n_gold=len(problem.gold["nodes"]))
        if not isinstance(completion, str):
            return v
        toks = completion[:MAX_COMPLETION_CHARS].split()
        if "<eos>" in toks:
            toks = toks[: toks.index("<eos>")]
        elif len(completion) > MAX_COMPLETION_CHARS or len(toks) > MAX_COMPLETION_TOKENS:
            truncated = True
        toks, malformed = drop_thoughts(toks[:MAX_COMPLETION_TOKENS])
        v.truncated = truncated
        body, tail = (toks[: toks.index(ANS)], toks[toks.index(ANS) + 1:]) if ANS in toks else (toks, None)
        kinds = self._check_steps(problem, body, v)
        v.n_invalid += malformed
        v.format = _detect_format(kinds, tail is not None)
        answer_ok = self._check_answer(problem, tail, v)
        v.well_formed = answer_ok and not truncated and v.n_invalid == 0
        v.verified = (v.well_formed and v.answer_correct and v.format in ("steps", "code")
                      and v.n_correct_steps == v.n_gold and v.n_extra == 0)
        return v

    def _check_steps(self, problem: Problem, body: list[str], v: Verdict) -> list[str]:
        gold = {n.target: n for n in problem.gold["nodes"]}
        seen: set[str] = set()
        kinds = []
        lines = _split_lines(body)
        for line in lines:
            kind, step = parse_line(line)
            kinds.append(kind)
            if kind == "invalid":
                v.n_invalid += 1
            if step is None:
                continue
            ref = gold.get(step.target)
            if ref is None or step.target in seen:
                v.n_extra += 1
                v.steps.append({"target": step.target, "status": "extra"})
                continue
            seen.add(step.target)
            deps_ok = step.op == ref.op and _same_parents(step, ref)
            values_ok = step.result == ref.result and _same_values(step, ref)
            v.n_dep_mismatch += not deps_ok
            v.n_value_mismatch += not values_ok
            v.n_correct_steps += deps_ok and values_ok
            status = "ok" if deps_ok and values_ok else ("wrong_parents" if not deps_ok else "wrong_value")
            v.steps.append({"target": step.target, "status": status})
        v.n_missing = len(set(gold) - seen)
        v.process_acc = v.n_correct_steps / max(1, v.n_gold)
        return kinds

    def _check_answer(self, problem: Problem, tail: list[str] | None, v: Verdict) -> bool:
        """Parse ``name value ... [<conf> q%]``; set answer fields; return well-formedness."""
        if tail is None:
            return False
        ok = True
        if CONF in tail:
            i = tail.index(CONF)
            rest = tail[i + 1:]
            tail = tail[:i]
            if len(rest) == 1 and rest[0] in CONF_TOKENS:
                v.confidence = int(rest[0][:-1]) / 100
            else:
                ok = False
        if len(tail) % 2 or not tail:
            return False
        pairs = tuple((tail[j], as_int(tail[j + 1])) for j in range(0, len(tail), 2))
        if any(not is_name(n) or x is None for n, x in pairs):
            return False
        v.parsed_answer = pairs  # type: ignore[assignment]
        gold = dict(problem.answer)
        ok = ok and len(pairs) == len(gold) and {n for n, _ in pairs} == set(gold)
        v.answer_correct = ok and all(gold[n] == x for n, x in pairs)
        return ok


def _apply(op: str, a: int, b: int, P: int) -> int:
    return (a + b) % P if op == "+" else (a - b) % P if op == "-" else (a * b) % P


def _split_lines(toks: list[str]) -> list[list[str]]:
    lines, cur = [], []
    for t in toks:
        if t == SEP:
            lines.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        lines.append(cur)
    return lines


def _same_parents(step: Step, ref: Step) -> bool:
    """Operand identities match: ordered for '-', as a multiset for '+' and '*'."""
    got = [(n, None if n else x) for n, x in step.args]
    want = [(n, None if n else x) for n, x in ref.args]
    return got == want if ref.op == "-" else Counter(got) == Counter(want)


def _same_values(step: Step, ref: Step) -> bool:
    """Every stated operand value equals the true value of that operand."""
    truth = {n: x for n, x in ref.args if n}
    return all(n is None or truth.get(n) == x for n, x in step.args)


def _detect_format(kinds: list[str], has_answer: bool) -> str:
    """Format from content: code lines/header -> code, step lines -> steps, bare answer."""
    found = {k for k in kinds if k in ("steps", "code", "header")}
    if "header" in found:
        found = (found - {"header"}) | {"code"}
    if len(found) > 1:
        return "mixed"
    if found:
        return found.pop()
    return "answer" if has_answer and not kinds else "none"
