"""Reading typed values (strings, ids, numbers, templates, conditions) out of positioned YAML
nodes: each reader returns the value, or None after noting what is wrong and where."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from reliant.engine.definition import IntValue
from reliant.engine.expressions import CLOSE, OPEN, Expression, ExpressionSyntaxError, Template
from reliant.engine.source import PLAIN, Fields, Source, kind_of, scalar, suggestion

ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Reserved in CEL: an id that is one of these could not be written as `nodes.<id>`.
CEL_RESERVED = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import"}
    | {"let", "loop", "package", "namespace", "return", "var", "void", "while"}
)

T = TypeVar("T")


class Reader:
    def __init__(self, src: Source) -> None:
        self.src = src

    # -- scalars ------------------------------------------------------------------------------------

    def fields(self, node: yaml.Node, what: str, known: tuple[str, ...]) -> Fields | None:
        if not isinstance(node, yaml.MappingNode):
            self.src.problem(node, f"{what}: expected a mapping, not {kind_of(node)}")
            return None
        return Fields(self.src, node, what, known)

    def mapping_entries(self, node: yaml.Node | None, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
        if node is None:
            return []
        if not isinstance(node, yaml.MappingNode):
            self.src.problem(node, f"{what}: expected a mapping, not {kind_of(node)}")
            return []
        seen: set[str] = set()
        entries: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in seen:
                self.src.problem(key, f"{what}: `{key.value}` is given twice")
                continue
            seen.add(key.value)
            entries.append((key, value))
        return entries

    def opt(self, node: yaml.Node | None, read: Callable[[yaml.Node, str], T | None], what: str) -> T | None:
        return None if node is None else read(node, what)

    def string(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and isinstance(value := scalar(node), str):
            return value
        self.src.problem(node, f"{what}: expected a string, not {kind_of(node)}" + _quote_hint(node))
        return None

    def string_list(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.src.problem(node, f"{what}: expected a list of strings, not {kind_of(node)}")
            return ()
        return tuple(s for item in node.value if (s := self.string(item, what)) is not None)

    def id(self, node: yaml.Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is None:
            return None
        if not ID.fullmatch(value):
            self.src.problem(node, f"{what} `{value}`: use letters, digits and `_`, not starting with a digit")
            return None
        if value in CEL_RESERVED:
            self.src.problem(node, f"{what} `{value}` is a reserved word in expressions; pick another")
            return None
        return value

    def ids(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                self.src.problem(node, f"{what}: the list is empty")
            ids = tuple(i for item in node.value if (i := self.id(item, what)) is not None)
            return ids if len(ids) == len(node.value) else None
        single = self.id(node, what)
        return None if single is None else (single,)

    def name(self, node: yaml.Node | None, what: str) -> str | None:
        if node is None:
            return None
        value = self.string(node, what)
        if value is not None and not NAME.fullmatch(value):
            self.src.problem(node, f"{what} `{value}`: use letters, digits, `-` and `_`")
            return None
        return value

    def enum(self, kind: type[Any]) -> Callable[[yaml.Node, str], Any]:
        def read(node: yaml.Node, what: str) -> Any:
            value = self.string(node, what)
            if value is None:
                return None
            try:
                return kind(value)
            except ValueError:
                choices = [str(m.value) for m in kind]
                self.src.problem(
                    node, f"{what}: `{value}` is not one of {', '.join(choices)}{suggestion(value, choices)}"
                )
                return None

        return read

    def bool(self, node: yaml.Node, what: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and isinstance(value := scalar(node), bool):
            return value
        self.src.problem(node, f"{what}: expected true or false, not {kind_of(node)}")
        return None

    def int(self, node: yaml.Node, what: str) -> int | None:
        if isinstance(node, yaml.ScalarNode) and type(value := scalar(node)) is int:
            if value < 1:
                self.src.problem(node, f"{what}: must be at least 1")
                return None
            return value
        self.src.problem(node, f"{what}: expected an integer, not {kind_of(node)}")
        return None

    def number(self, node: yaml.Node, what: str) -> float | None:
        if isinstance(node, yaml.ScalarNode) and type(value := scalar(node)) in (int, float):
            return float(value)
        self.src.problem(node, f"{what}: expected a number, not {kind_of(node)}")
        return None

    def opt_int(self, node: yaml.Node | None, what: str) -> IntValue | None:
        return None if node is None else self.int_value(node, what)

    def int_value(self, node: yaml.Node, what: str) -> IntValue | None:
        """A positive integer, or a template that is exactly `{{expr}}`."""
        if isinstance(node, yaml.ScalarNode) and isinstance(scalar(node), str):
            template = self.template(node, what)
            if template is not None and template.whole is None:
                self.src.problem(node, f"{what}: expected an integer or `{OPEN}expression{CLOSE}`")
                return None
            return template
        return self.int(node, what)

    def template(self, node: yaml.Node, what: str) -> Template | None:
        text = self.string(node, what)
        if text is None:
            return None
        assert isinstance(node, yaml.ScalarNode)
        try:
            return Template.parse(text, self.src.locate(node))
        except ExpressionSyntaxError as exc:
            self.src.problem(exc.at, f"{what}: {exc.message} (in `{exc.expression}`)")
            return None

    def expression(self, node: yaml.Node, what: str) -> Expression | None:
        """A bare CEL condition (a whole `{{…}}` is accepted too)."""
        text = self.string(node, what)
        if text is None:
            return None
        assert isinstance(node, yaml.ScalarNode)
        locate = self.src.locate(node)
        offset = 0
        stripped = text.strip()
        if stripped.startswith(OPEN) and stripped.endswith(CLOSE):
            offset = text.index(OPEN) + len(OPEN)
            text = stripped[len(OPEN) : -len(CLOSE)]
        lead = len(text) - len(text.lstrip())
        try:
            return Expression.compile(text.strip(), locate(offset + lead))
        except ExpressionSyntaxError as exc:
            self.src.problem(exc.at, f"{what}: {exc.message} (in `{exc.expression}`)")
            return None


def _quote_hint(node: yaml.Node) -> str:
    if (
        isinstance(node, yaml.ScalarNode)
        and node.style in PLAIN
        and node.tag.endswith((":bool", ":int", ":float", ":null"))
    ):
        return f' (quote it: "{node.value}")'
    return ""
