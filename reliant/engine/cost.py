"""What evaluating an expression can cost, bounded before it runs.

Expressions are evaluated inside workflow code, in the process every role shares, and the CEL
library holding the GIL cannot be interrupted: an evaluation that runs away freezes reliant. Its
`map` and `filter` copy their result so far at every step (a `map` over 10,000 items takes ~5 s),
comprehensions nested in one another multiply, and one chained after another can double a value
each time (`[s].map(a, a + a).map(b, b + b)…`). So every expression is parsed here into a small tree
and its cost worked out from the sizes of the values it can meet:

- once when it is compiled, with the data it reads assumed to hold lists of up to `ASSUMED.items`
  items and strings of up to `ASSUMED.chars` characters: over `MAX_STEPS`, it is a problem in the
  definition, at its line and column;
- again before each evaluation, with the sizes of the data it is handed: over `MAX_STEPS`, it is
  not evaluated (an EvaluationFault, which pauses the run and says why).

A step is about a microsecond of the library's time (an iteration of a comprehension, an item of a
list read or copied, 8 items of a map or filter result copied again, 256 characters copied or
compared), so `MAX_STEPS` keeps an evaluation to about a second at worst; the bound is an upper
one, far above what ordinary expressions cost.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reliant.engine.references import Token, lex

MAX_STEPS = 1_000_000
CHARS_PER_STEP = 256  # copied or compared: ~2.5 ns each
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
ACCUMULATING = frozenset({"map", "filter"})  # the library copies their result so far at every step
COPIES_PER_STEP = 8  # an item copied costs ~120 ns
TO_STRING = frozenset({"string", "bytes"})
SCALARS = frozenset({int, float, bool, type(None)})
CONSTANT_TIME = frozenset({"size", "type", "has"})
LITERALS = frozenset({"true", "false", "null"})
PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "in": 3}
PRECEDENCE |= {"+": 4, "-": 4, "*": 5, "/": 5, "%": 5}
OPERATORS = ("||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%")

Tree = tuple[Any, ...]


class Unbounded(Exception):
    """The tree cannot be built (an expression the parser does not follow)."""


@dataclass(frozen=True, slots=True)
class DataSize:
    """The sizes of the data an expression reads, by depth (1: `nodes`, `inputs`…; 2: `nodes.a`;
    3: `nodes.a.runs`…): the most items of a list or map, the most characters of a string, and the
    greatest weight (everything in a value, nested, in steps), at that depth or deeper. A value
    deep in the data is part of one above it, so what an expression picks out weighs what its
    depth allows, not what all of the data does."""

    items: tuple[int, ...]
    chars: tuple[int, ...]
    weight: tuple[int, ...]

    @classmethod
    def of(cls, variables: Mapping[str, Any]) -> DataSize:
        items: list[int] = []
        chars: list[int] = []
        # every value, parents before their parts: its depth (0 for `nodes`), its parent, its weight
        depths: list[int] = []
        parents: list[int] = []
        weights: list[int] = []
        stack: list[tuple[Any, int, int]] = [(v, 0, -1) for v in variables.values()]
        while stack:
            value, depth, parent = stack.pop()
            if depth == len(items):
                items.append(0)
                chars.append(0)
            me = len(weights)
            own = 1
            kind = type(value)
            if kind is str or kind is bytes:
                chars[depth] = max(chars[depth], len(value))
                own += len(value) // CHARS_PER_STEP
            elif kind is list or kind is tuple:
                items[depth] = max(items[depth], len(value))
                stack.extend([(part, depth + 1, me) for part in value])
            elif kind is dict or (kind not in SCALARS and isinstance(value, Mapping)):
                items[depth] = max(items[depth], len(value))
                stack.extend([(part, depth + 1, me) for pair in value.items() for part in pair])
            depths.append(depth)
            parents.append(parent)
            weights.append(own)
        weight = [0] * len(items)
        for me in range(len(weights) - 1, -1, -1):  # parts before the values they are in
            weight[depths[me]] = max(weight[depths[me]], weights[me])
            if parents[me] >= 0:
                weights[parents[me]] += weights[me]
        return cls(_deeper(items), _deeper(chars), _deeper(weight))

    def at(self, depth: int) -> tuple[int, int, int]:
        """(items, chars, weight) of values at `depth` or deeper."""
        if depth > len(self.items):
            return 0, 0, 1
        return self.items[depth - 1], self.chars[depth - 1], self.weight[depth - 1]

    def describe(self) -> str:
        items = max(self.items, default=0)
        chars = max(self.chars, default=0)
        return f"lists of up to {items:,} items and strings of up to {chars:,} characters"


def _deeper(values: list[int]) -> tuple[int, ...]:
    """Each entry the greatest of it and those after it."""
    out = list(values)
    for i in range(len(out) - 2, -1, -1):
        out[i] = max(out[i], out[i + 1])
    return tuple(out)


# What validation assumes an expression may meet: lists of 100 items, strings of 8,000 characters
# (a node's longest text output), an input or a node's outputs weighing up to 1,000 steps, a field
# of them 100 and the values in those 10. Larger data is checked when it is there, before each
# evaluation.
ASSUMED = DataSize(items=(100,) * 8, chars=(8_000,) * 8, weight=(100_000, 1_000, 100) + (10,) * 5)


class _Size:
    """An upper bound on a value: its items (a list's or a map's), its characters (a string's), its
    weight (everything in it, nested, in steps) and the bound of each of its items (keys and values
    of a map)."""

    __slots__ = ("chars", "item", "items", "weight")

    def __init__(self, items: int = 0, chars: int = 0, weight: int = 1, item: _Size | None = None) -> None:
        self.items = items
        self.chars = chars
        self.weight = weight
        self.item = item

    def of_item(self) -> _Size:
        return self.item if self.item is not None else SCALAR


class _Data(_Size):
    """A value of the data the expression reads, at a depth: its parts are one level deeper."""

    __slots__ = ("data", "depth")

    def __init__(self, data: DataSize, depth: int) -> None:
        super().__init__(*data.at(depth))
        self.data = data
        self.depth = depth

    def of_item(self) -> _Size:
        return _Data(self.data, self.depth + 1) if self.depth < len(self.data.items) else SCALAR


SCALAR = _Size()


def _join(a: _Size, b: _Size) -> _Size:
    """A bound on values bounded by `a` or by `b`."""
    if a is b:
        return a
    if isinstance(b, _Data):
        a, b = b, a
    if isinstance(a, _Data) and _within(b, a):
        return a
    return _merge(a, b)


def _within(size: _Size, data: _Size) -> bool:
    while True:
        if isinstance(size, _Data) and isinstance(data, _Data) and size.depth >= data.depth:
            return True
        if size.items > data.items or size.chars > data.chars or size.weight > data.weight:
            return False
        if size.item is None:
            return True
        size, data = size.item, data.of_item()


def _merge(a: _Size, b: _Size) -> _Size:
    item = None if a.item is None and b.item is None else _join(a.of_item(), b.of_item())
    return _Size(max(a.items, b.items), max(a.chars, b.chars), max(a.weight, b.weight), item)


def _steps(chars: int) -> int:
    return -(-chars // CHARS_PER_STEP)


# -- the tree ---------------------------------------------------------------------------------------


def parse(source: str) -> Tree:
    """The expression as a tree of tuples (hashable, so costs can be cached). Chains (`a + b + c`,
    `a.b.c`, `!!x`) are one node each, so the tree is as deep as the brackets nest (the library
    refuses more than 96 levels), never as long as the expression."""
    parser = _Parser(lex(source))
    tree = parser.expression()
    if parser.i != len(parser.tokens):
        raise Unbounded(f"unexpected {parser.tokens[parser.i].text!r}")
    return tree


class _Parser:
    def __init__(self, toks: list[Token]) -> None:
        self.tokens = toks
        self.i = 0

    def _text(self, k: int = 0) -> str:
        j = self.i + k
        return self.tokens[j].text if j < len(self.tokens) else ""

    def _punct(self, text: str) -> bool:
        """Whether the next tokens spell the operator `text` (one token per character)."""
        for k, ch in enumerate(text):
            j = self.i + k
            if j >= len(self.tokens) or self.tokens[j].kind != "punct" or self.tokens[j].text != ch:
                return False
        return True

    def _take(self, text: str) -> bool:
        if self._punct(text):
            self.i += len(text)
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._take(text):
            raise Unbounded(f"expected {text!r}, not {self._text()!r}")

    def _operator(self) -> str | None:
        if self.i < len(self.tokens) and self.tokens[self.i].kind == "ident" and self._text() == "in":
            return "in"
        for op in OPERATORS:
            if self._punct(op):
                return op
        return None

    def expression(self) -> Tree:
        condition = self._binary()
        if not self._take("?"):
            return condition
        then = self.expression()
        self._expect(":")
        return ("cond", condition, then, self.expression())

    def _binary(self) -> Tree:
        """Operands and the binary operators between them, grouped by precedence without recursion:
        a run of operators of one level is one node."""
        operands = [self._unary()]
        ops: list[str] = []
        while (op := self._operator()) is not None:
            self.i += len(op) if op != "in" else 1
            ops.append(op)
            operands.append(self._unary())
        for level in range(max(PRECEDENCE.values()), 0, -1):
            grouped, between = [operands[0]], []
            run, run_ops = [operands[0]], []
            for op, right in zip(ops, operands[1:], strict=True):
                if PRECEDENCE[op] == level:
                    run.append(right)
                    run_ops.append(op)
                    continue
                grouped[-1] = ("ops", tuple(run_ops), tuple(run)) if run_ops else run[0]
                grouped.append(right)
                between.append(op)
                run, run_ops = [right], []
            grouped[-1] = ("ops", tuple(run_ops), tuple(run)) if run_ops else run[0]
            operands, ops = grouped, between
        return operands[0]

    def _unary(self) -> Tree:
        count = 0
        while (self._punct("!") and not self._punct("!=")) or self._punct("-"):
            self.i += 1
            count += 1
        operand = self._member()
        return operand if not count else ("unary", operand)

    def _member(self) -> Tree:
        target = self._primary()
        steps: list[Tree] = []
        while True:
            if self._take("."):
                name = self._ident()
                if self._take("("):
                    steps.append(self._call(name, method=True))
                else:
                    steps.append(("select",))
            elif self._take("["):
                steps.append(("index", self.expression()))
                self._expect("]")
            elif self._punct("{") and target[0] == "name" and not steps:
                self.i += 1
                target = ("map", self._entries("}"))  # `Type{field: value}`
            else:
                break
        return target if not steps else ("chain", target, tuple(steps))

    def _call(self, name: str, *, method: bool) -> Tree:
        if method and name in MACROS and self.i + 1 < len(self.tokens) and self._text(1) == ",":
            var = self._ident()
            self._expect(",")
            args = self._arguments()
            return ("macro", name, var, args)
        return ("call", name, self._arguments())

    def _arguments(self) -> tuple[Tree, ...]:
        args: list[Tree] = []
        while not self._take(")"):
            args.append(self.expression())
            if not self._take(","):
                self._expect(")")
                break
        return tuple(args)

    def _ident(self) -> str:
        if self.i >= len(self.tokens) or self.tokens[self.i].kind != "ident":
            raise Unbounded(f"expected a name, not {self._text()!r}")
        self.i += 1
        return self.tokens[self.i - 1].text

    def _entries(self, close: str) -> tuple[Tree, ...]:
        entries: list[Tree] = []
        while not self._take(close):
            entries.append(self.expression())
            if close == "}":
                self._expect(":")
                entries.append(self.expression())
            if not self._take(","):
                self._expect(close)
                break
        return tuple(entries)

    def _primary(self) -> Tree:
        if self.i >= len(self.tokens):
            raise Unbounded("the expression ends too early")
        tok = self.tokens[self.i]
        if tok.kind in ("number", "string"):
            self.i += 1
            return ("lit", len(tok.text) if tok.kind == "string" else 0)
        if tok.kind == "ident":
            self.i += 1
            if tok.text in LITERALS:
                return ("lit", 0)
            if self._take("("):
                return self._call(tok.text, method=False)
            return ("name", tok.text)
        if self._take("("):
            inner = self.expression()
            self._expect(")")
            return inner
        if self._take("["):
            return ("list", self._entries("]"))
        if self._take("{"):
            return ("map", self._entries("}"))
        if self._take("."):  # `.name`: a name from the root
            return self._primary()
        raise Unbounded(f"unexpected {tok.text!r}")


# -- the cost ---------------------------------------------------------------------------------------


def steps(tree: Tree, data: DataSize) -> int:
    """An upper bound on the steps evaluating `tree` takes over data of sizes `data`."""
    return _steps_cached(tree, data)


@functools.lru_cache(maxsize=4096)
def _steps_cached(tree: Tree, data: DataSize) -> int:
    return _Walk(_Data(data, 1)).cost(tree, {})[1]


class _Walk:
    def __init__(self, data: _Data) -> None:
        self.data = data

    def cost(self, tree: Tree, env: dict[str, _Size]) -> tuple[_Size, int]:
        """(a bound on the value, a bound on the steps) of `tree`, where `env` binds macro variables."""
        kind = tree[0]
        if kind == "lit":
            return (_Size(chars=tree[1], weight=1 + _steps(tree[1])) if tree[1] else SCALAR), 1
        if kind == "name":
            return env.get(tree[1], self.data), 1
        if kind in ("list", "map"):
            parts = [self.cost(t, env) for t in tree[1]]
            item = functools.reduce(_join, (s for s, _ in parts), SCALAR) if parts else None
            count = len(parts) // 2 if kind == "map" else len(parts)
            size = _Size(items=count, weight=1 + sum(s.weight for s, _ in parts), item=item)
            return size, 1 + len(parts) + sum(c for _, c in parts)
        if kind == "unary":
            _, cost = self.cost(tree[1], env)
            return SCALAR, cost + 1
        if kind == "cond":
            parts = [self.cost(t, env) for t in tree[1:]]
            return _join(parts[1][0], parts[2][0]), 1 + sum(c for _, c in parts)
        if kind == "ops":
            return self._operators(tree[1], tree[2], env)
        if kind == "call":
            return self._function(tree[1], [self.cost(t, env) for t in tree[2]])
        assert kind == "chain"
        size, cost = self.cost(tree[1], env)
        for step in tree[2]:
            size, more = self._step(size, step, env)
            cost += more
        return size, cost

    def _step(self, target: _Size, step: Tree, env: dict[str, _Size]) -> tuple[_Size, int]:
        kind = step[0]
        if kind == "select":
            return target.of_item(), 1
        if kind == "index":
            _, cost = self.cost(step[1], env)
            return target.of_item(), cost + 1
        if kind == "call":
            return self._function(step[1], [(target, 0), *(self.cost(t, env) for t in step[2])])
        name, var, args = step[1], step[2], step[3]
        n = target.items
        inner = {**env, var: target.of_item()}
        bodies = [self.cost(t, inner) for t in args]
        cost = n * (1 + sum(c for _, c in bodies))
        if name not in ACCUMULATING:
            return SCALAR, cost
        cost += n * (n + 1) // (2 * COPIES_PER_STEP)
        item = bodies[-1][0] if name == "map" else target.of_item()
        return _Size(items=n, weight=1 + n * item.weight, item=item), cost

    def _operators(self, ops: tuple[str, ...], operands: tuple[Tree, ...], env: dict[str, _Size]) -> tuple[_Size, int]:
        parts = [self.cost(t, env) for t in operands]
        cost = sum(c for _, c in parts)
        size = parts[0][0]
        for op, (right, _) in zip(ops, parts[1:], strict=True):
            if op == "+":  # a string or list made anew from both sides
                size = _Size(
                    items=size.items + right.items,
                    chars=size.chars + right.chars,
                    weight=size.weight + right.weight,
                    item=None if size.item is None and right.item is None else _join(size.of_item(), right.of_item()),
                )
                cost += size.weight
            elif op == "in":  # compares with each item, as far as the smaller of the two goes
                cost += 1 + right.items * min(size.weight, right.of_item().weight)
                size = SCALAR
            elif op in ("==", "!=", "<", "<=", ">", ">="):  # as far as the smaller side goes
                cost += 1 + min(size.weight, right.weight)
                size = SCALAR
            else:
                cost += 1
                size = SCALAR
        return size, cost

    def _function(self, name: str, args: list[tuple[_Size, int]]) -> tuple[_Size, int]:
        """A function reads its arguments once (contains, matches, size, int…); `string` and `bytes`
        make a text of them, and any other (`dyn`, one the library does not know) may return them."""
        if not args or name in CONSTANT_TIME:
            return SCALAR, 1 + sum(c for _, c in args)
        cost = 1 + sum(c + s.weight for s, c in args)
        if name in TO_STRING:
            chars = 32 * sum(s.weight for s, _ in args)
            return _Size(chars=chars, weight=1 + _steps(chars)), cost + _steps(chars)
        if name in ("int", "uint", "double", "bool", "contains", "startsWith", "endsWith", "matches"):
            return SCALAR, cost
        return functools.reduce(_join, (s for s, _ in args)), cost


def describe(count: int) -> str:
    """A step count as a message says it: exactly when small, else rounded (`about 5.1e+08`)."""
    return f"{count:,}" if count < 1_000_000_000 else f"about {count:.1e}"
