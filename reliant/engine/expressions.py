"""CEL expressions and the `{{…}}` templates that hold them.

A condition (`while`, an edge's `condition`) is a bare CEL expression. Any other string field is a
template: a value that is exactly `{{expr}}` keeps the expression's type (a number stays a number);
`{{…}}` inside a longer string interpolates (strings as they are, anything else as JSON). Every
expression is compiled once, when the definition is parsed; evaluation is pure and cheap.

Names an expression can reach (the evaluator passes them in): `inputs.*`, `nodes.<id>.*` (outputs
of finished nodes), `iter.*` inside loops and `chat.*`.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from reliant.engine import cost
from reliant.engine.problems import Position
from reliant.engine.references import scan, token_count
from reliant.errors import ReliantError

OPEN, CLOSE = "{{", "}}"
# The CEL library parses and evaluates by recursion, a level per operator of a chain (`1 + 1 + …`):
# some 10,000 of them overflow an 8 MiB thread stack and the process dies (SIGSEGV). Ten times under.
MAX_TOKENS = 1_000
_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")


class ExpressionSyntaxError(ReliantError):
    """An expression does not parse (or a `{{` is never closed)."""

    def __init__(self, at: Position, expression: str, message: str) -> None:
        self.at = at
        self.expression = expression
        self.message = message
        super().__init__(f"{at}: {message} (in `{expression}`)")


class ExpressionError(ReliantError):
    """An expression failed while a run evaluated it: names the file, the node, the field and the
    expression, so a paused run says exactly what to fix."""

    def __init__(self, at: Position, expression: str, message: str, *, node: str = "", field: str = "") -> None:
        self.at = at
        self.expression = expression
        self.message = message
        self.node = node
        self.field = field
        where = f"node {node}: " if node else ""
        what = f"{field}: " if field else ""
        super().__init__(f"{at}: {where}{what}{message} (in `{expression}`)")


class EvaluationFault(Exception):
    """What went wrong inside one evaluation; the caller names the node and field (ExpressionError)."""

    def __init__(self, expression: Expression, message: str, *, missing: str = "") -> None:
        self.expression = expression
        self.message = message
        self.missing = missing  # the name that had no value, when that was the fault
        super().__init__(message)

    def named(self, *, node: str = "", field: str = "") -> ExpressionError:
        return ExpressionError(self.expression.at, self.expression.source, self.message, node=node, field=field)


@dataclass(frozen=True, slots=True)
class Expression:
    """One CEL expression, compiled once.

    The library converts every value it is handed into CEL values (a few µs each), so an evaluation
    hands over only the paths the expression reads (`reads`, found once at compile time): a
    condition on `nodes.check.exit_code` costs the same with 3 finished nodes or 300."""

    source: str
    at: Position
    program: cel.Program = field(compare=False, repr=False)
    reads: tuple[tuple[str, ...], ...] | None = field(default=None, compare=False, repr=False)  # None: all
    tree: cost.Tree = field(default=(), compare=False, repr=False)  # what its cost is worked out from

    def __post_init__(self) -> None:
        if not self.tree:  # made by hand, not compiled: evaluations are still bounded
            object.__setattr__(self, "tree", cost.parse(self.source))

    @classmethod
    def compile(cls, source: str, at: Position) -> Expression:
        if not source.strip():
            raise ExpressionSyntaxError(at, source, "empty expression")
        if (count := token_count(source)) > MAX_TOKENS:
            raise ExpressionSyntaxError(
                at,
                _shortened(source),
                f"an expression may have at most {MAX_TOKENS:,} tokens (names, numbers, operators); "
                f"this one has {count:,}",
            )
        try:
            program = cel.compile(source)
        except ValueError as exc:
            raise _syntax_error(source, at, str(exc)) from exc
        tree = _bounded(source, at)
        refs, bound = scan(source)
        paths = {ref.path for ref in refs}
        roots = set(program.variables()) - bound
        complete = roots <= {path[0] for path in paths}
        return cls(source, at, program, _shortest(paths) if complete else None, tree)

    def names(self) -> list[str]:
        """The top-level names the expression reads (including names a macro binds, like `x` in
        `list.all(x, x > 0)`)."""
        return self.program.variables()

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        given = dict(variables) if self.reads is None else project(variables, self.reads)
        data = cost.DataSize.of(given)
        if (steps := cost.steps(self.tree, data)) > cost.MAX_STEPS:
            raise EvaluationFault(
                self,
                f"not evaluated: over this data ({data.describe()}) it could take up to {cost.describe(steps)} "
                f"steps; the limit is {cost.MAX_STEPS:,}",
            )
        try:
            return self.program.execute(given)
        except KeyError as exc:
            missing = str(exc.args[0]) if exc.args else ""
            raise EvaluationFault(
                self, f"no value named {missing!r} (not there yet, or misspelled)", missing=missing
            ) from exc
        except IndexError as exc:  # `runs[3]` of a shorter list
            raise EvaluationFault(self, f"a list is shorter than that: {_first_sentence(str(exc))}") from exc
        except (TypeError, ValueError, RuntimeError, ArithmeticError) as exc:
            raise EvaluationFault(self, _first_sentence(str(exc))) from exc

    def condition(self, variables: Mapping[str, Any]) -> bool:
        value = self.evaluate(variables)
        if not isinstance(value, bool):
            raise EvaluationFault(self, f"a condition must be true or false, not {describe(value)}")
        return value


@dataclass(frozen=True, slots=True)
class Template:
    """A string field: literal text and `{{expr}}` parts."""

    text: str
    parts: tuple[str | Expression, ...]

    @classmethod
    def parse(cls, text: str, locate: Callable[[int], Position]) -> Template:
        """`locate(offset)` gives the position of a character of `text` in its file."""
        parts: list[str | Expression] = []
        start = 0
        while (opening := text.find(OPEN, start)) >= 0:
            closing = _closing(text, opening + len(OPEN))
            if closing < 0:
                raise ExpressionSyntaxError(locate(opening), text[opening:], "`{{` without a matching `}}`")
            if opening > start:
                parts.append(text[start:opening])
            body = opening + len(OPEN)
            source = text[body:closing]
            lead = len(source) - len(source.lstrip())
            parts.append(Expression.compile(source.strip(), locate(body + lead)))
            start = closing + len(CLOSE)
        if start < len(text):
            parts.append(text[start:])
        return cls(text, tuple(parts))

    @classmethod
    def literal(cls, text: str) -> Template:
        return cls(text, (text,) if text else ())

    @property
    def whole(self) -> Expression | None:
        """The expression when the value is exactly `{{expr}}` (surrounding blanks aside)."""
        exprs = [p for p in self.parts if isinstance(p, Expression)]
        if len(exprs) == 1 and all(isinstance(p, Expression) or not p.strip() for p in self.parts):
            return exprs[0]
        return None

    def expressions(self) -> list[Expression]:
        return [p for p in self.parts if isinstance(p, Expression)]

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """The value: typed for a whole `{{expr}}`, else the interpolated string."""
        whole = self.whole
        if whole is not None:
            return plain(whole.evaluate(variables))
        return "".join(p if isinstance(p, str) else interpolated(p.evaluate(variables)) for p in self.parts)


def project(variables: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """The part of `variables` the paths reach, in new dicts (the originals are never changed). A path
    that runs into a missing key or a non-map stops there, so evaluation fails as it would have."""
    out: dict[str, Any] = {}
    for path in paths:
        source: Any = variables
        target = out
        for i, key in enumerate(path):
            if not isinstance(source, Mapping) or key not in source:
                break
            value = source[key]
            if i == len(path) - 1 or not isinstance(value, Mapping):
                target[key] = value
                break
            source = value
            target = target.setdefault(key, {})
    return out


def _shortest(paths: set[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """The paths that no shorter one already covers (`nodes.a` covers `nodes.a.text`)."""
    kept: list[tuple[str, ...]] = []
    for path in sorted(paths, key=lambda p: (len(p), p)):
        if not any(path[: len(k)] == k for k in kept):
            kept.append(path)
    return tuple(kept)


def plain(value: Any) -> Any:
    """A CEL result as JSON-compatible data (run state crosses Temporal's data converter)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def interpolated(value: Any) -> str:
    """How a value reads inside a string: strings as they are, everything else as JSON."""
    value = plain(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def describe(value: Any) -> str:
    """`int 3`, `string 'x'`: for messages about a value of the wrong type."""
    kind = {bool: "bool", int: "int", float: "double", str: "string", list: "list", dict: "map"}.get(
        type(value), type(value).__name__
    )
    if value is None:
        return "null"
    text = repr(value)
    return f"{kind} {text[:40] + '…' if len(text) > 40 else text}"


def _closing(text: str, start: int) -> int:
    """Offset of the `}}` that closes an expression starting at `start`, skipping string literals and
    nested braces (a map literal may end in `}}`); -1 when there is none."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            i = _skip_string(text, i)
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0 and text.startswith(CLOSE, i):
                return i
            depth -= 1
        i += 1
    return -1


def _skip_string(text: str, i: int) -> int:
    """Offset just past the CEL string literal that opens at `i`."""
    raw = i > 0 and text[i - 1] in "rR"
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\" and not raw:
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        j += 1
    return len(text)


def _syntax_error(source: str, at: Position, raw: str) -> ExpressionSyntaxError:
    """The library's first error, placed in the file and said briefly."""
    match = _CEL_ERROR.search(raw)
    if match is None:
        return ExpressionSyntaxError(at, source, f"syntax error: {_first_sentence(raw)}")
    line, column, message = int(match[1]), int(match[2]), match[3]
    place = (
        Position(at.source, at.line, at.column + column - 1)
        if line == 1
        else Position(at.source, at.line + line - 1, column)
    )
    message = message.removeprefix("Syntax error: ")
    ended = "'<EOF>'" in message
    message = "the expression ends too early" if ended else message.split(" expecting {", 1)[0]
    return ExpressionSyntaxError(place, source, f"syntax error: {message}")


def _bounded(source: str, at: Position) -> cost.Tree:
    """The expression's tree, once its cost over the data validation assumes is within the limit."""
    try:
        tree = cost.parse(source)
        steps = cost.steps(tree, cost.ASSUMED)
    except (cost.Unbounded, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ExpressionSyntaxError(
            at, _shortened(source), f"cannot work out what this expression costs: {reason}"
        ) from exc
    if steps > cost.MAX_STEPS:
        raise ExpressionSyntaxError(
            at,
            _shortened(source),
            f"this expression could take up to {cost.describe(steps)} steps with {cost.ASSUMED.describe()}; the "
            f"limit is {cost.MAX_STEPS:,} (comprehensions nested or chained multiply, and map and filter take the "
            "square of their list's length)",
        )
    return tree


def _shortened(source: str, limit: int = 60) -> str:
    return source if len(source) <= limit else source[:limit] + "…"


def _first_sentence(text: str) -> str:
    first = text.strip().split("\n", 1)[0]
    cut = first.find(". ")
    return first[:cut] if cut > 0 else first.rstrip(".")
