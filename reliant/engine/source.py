"""YAML text as a tree of nodes that remember where they are (PyYAML's marks), and a reader for one
mapping at a time that notes every problem instead of stopping at the first."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from reliant.engine.problems import Position, Problem

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ~10x faster
PLAIN = (None, "")  # a plain scalar's style (the C loader says "", the Python one None)
ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")
MAX_REPEATS = 100_000  # values that aliases may repeat in one file (a "billion laughs" has 10^9)
YAML_TAGS = "tag:yaml.org,2002:"
NOT_JSON = {f"{YAML_TAGS}timestamp": "a date is", f"{YAML_TAGS}binary": "bytes are"}
KNOWN_TAGS = frozenset(tag for tag in yaml.constructor.SafeConstructor.yaml_constructors if tag is not None)


class Source:
    """One file's text; collects the problems found in it."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.problems: list[Problem] = []

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def compose(self) -> yaml.Node | None:
        """The document's node tree; None (with a problem) when the YAML is broken or empty."""
        try:
            nodes = list(yaml.compose_all(self.text, Loader=LOADER))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            self.problems.append(Problem(Position(self.name, line, column), f"YAML: {exc.problem or exc}"))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(Problem(Position(self.name, 1, 1), f"YAML: {exc}"))
            return None
        if not nodes:
            self.problems.append(Problem(Position(self.name, 1, 1), "the file is empty"))
            return None
        if len(nodes) > 1:
            self.problems.append(Problem(self.at(nodes[1]), "one YAML document per file"))
        if "*" in self.text and (problem := self._aliases(nodes[0])) is not None:  # no `*`: no alias
            self.problems.append(problem)
            return None
        if "!" in self.text and (unknown := self._tags(nodes[0])):  # no `!`: no tag
            self.problems.extend(unknown)
            return None
        return nodes[0]

    def _tags(self, root: yaml.Node) -> list[Problem]:
        """A tag the safe loader cannot construct (`!!python/object…`, `!custom`) stops whatever
        reads the value with an error: each is a problem instead (aliases checked first, so each
        value is walked once)."""
        problems: list[Problem] = []
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if node.tag not in KNOWN_TAGS:
                tag = node.tag.replace(YAML_TAGS, "!!", 1) if node.tag.startswith(YAML_TAGS) else node.tag
                problems.append(Problem(self.at(node), f"YAML: unknown tag `{tag}`; a workflow is plain YAML data"))
                continue
            stack.extend(reversed(_parts(node)))
        return problems

    def _aliases(self, root: yaml.Node) -> Problem | None:
        """What is wrong with the file's aliases: a value that holds an alias to itself (a graph
        nothing could walk to its end), or aliases that repeat more values than MAX_REPEATS (walking
        or sending them would freeze reliant). Each value is visited once; sizes are added up."""
        size: dict[int, int] = {}
        named: dict[int, int] = {}  # how often each value is reached
        found: dict[int, yaml.Node] = {}
        path: set[int] = set()  # the values being walked, from the root down
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                path.discard(key)
                size[key] = 1 + sum(size[id(part)] for part in _parts(node))
                continue
            if key in size:
                continue
            found[key] = node
            path.add(key)
            stack.append((node, True))
            for part in _parts(node):
                named[id(part)] = named.get(id(part), 0) + 1
                if id(part) in path:
                    return Problem(
                        self.at(part),
                        f"YAML: this value (anchor `&{_anchor(self.text, part)}`) holds an alias to itself; "
                        "the workflow would never end",
                    )
                if id(part) not in size:
                    stack.append((part, False))
        repeats = size[id(root)] - len(found)
        if repeats <= MAX_REPEATS:
            return None
        worst = max(found, key=lambda k: (named.get(k, 0) - 1) * size[k])
        return Problem(
            self.at(found[worst]),
            f"YAML: aliases repeat {repeats:,} values (this one, of {size[worst]:,} values, is used {named[worst]:,} "
            f"times); at most {MAX_REPEATS:,} may be repeats",
        )

    def at(self, node: yaml.Node) -> Position:
        return Position(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node | Position, message: str) -> None:
        at = node if isinstance(node, Position) else self.at(node)
        self.problems.append(Problem(at, message))

    def value(self, node: yaml.Node) -> Any:
        """The plain Python value of a subtree (for free-form data such as a JSON Schema)."""
        return yaml.constructor.SafeConstructor().construct_document(node)

    def data(self, node: yaml.Node, what: str) -> Any:
        """A subtree's value as JSON data, which is all a run can carry (Temporal payloads, the model's
        tools); a date or bytes in it is a problem (None)."""
        stack = [node]
        while stack:
            part = stack.pop()
            if part.tag in NOT_JSON:
                self.problem(part, f"{what}: {NOT_JSON[part.tag]} not JSON data; quote it to pass a string")
                return None
            stack.extend(_parts(part))
        return self.value(node)

    def locate(self, node: yaml.ScalarNode) -> Callable[[int], Position]:
        """Maps an offset in a scalar's value to its place in the file, exactly for one-line and
        literal-block (`|`) scalars; other styles point at the scalar's start."""
        start = node.start_mark
        one_line = start.line == node.end_mark.line and "\n" not in node.value
        if node.style in (*PLAIN, "'", '"') and one_line:
            lead = 0 if node.style in PLAIN else 1
            return lambda offset: Position(self.name, start.line + 1, start.column + 1 + lead + offset)
        if node.style == "|" and start.line + 1 < len(self.lines):
            first = self.lines[start.line + 1]
            indent = len(first) - len(first.lstrip(" "))

            def in_block(offset: int) -> Position:
                before = node.value[:offset]
                row = before.count("\n")
                column = offset - (before.rfind("\n") + 1)
                return Position(self.name, start.line + 2 + row, indent + column + 1)

            return in_block
        return lambda offset: self.at(node)


def _parts(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _anchor(text: str, node: yaml.Node) -> str:
    """The anchor's name (`&name`, where the value starts): the node tree does not keep it."""
    match = ANCHOR.match(text, node.start_mark.index)
    return match[1] if match else "…"


def kind_of(node: yaml.Node) -> str:
    """What a YAML node holds, as a message says it."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    return {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean", "null": "null"}.get(
        tag, tag
    )


def scalar(node: yaml.Node) -> Any:
    """The value of a scalar node with its resolved type (int, float, bool, None or str)."""
    assert isinstance(node, yaml.ScalarNode)
    return yaml.constructor.SafeConstructor().construct_object(node)


def scalar_null(node: yaml.Node) -> bool:
    """Whether the node is a null (whose value, None, is also what a reader gives for a problem)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == f"{YAML_TAGS}null"


class Fields:
    """The keys of one YAML mapping. `take` each known key; `finish` reports the rest as unknown."""

    def __init__(self, src: Source, node: yaml.MappingNode, what: str, known: tuple[str, ...]) -> None:
        self.src = src
        self.node = node
        self.what = what
        self.known = known
        self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or not isinstance(key.value, str):
                src.problem(key, f"{what}: keys must be names")
                continue
            if key.value in self.entries:
                src.problem(key, f"{what}: `{key.value}` is given twice")
                continue
            self.entries[key.value] = (key, value)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def take(self, key: str) -> yaml.Node | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def required(self, key: str) -> yaml.Node | None:
        found = self.take(key)
        if found is None:
            self.src.problem(self.node, f"{self.what}: `{key}` is required")
        return found

    def key_at(self, key: str) -> Position:
        entry = self.entries.get(key)
        return self.src.at(entry[0]) if entry else self.src.at(self.node)

    def finish(self) -> None:
        for key, (key_node, _) in self.entries.items():
            if key not in self.known:
                self.src.problem(key_node, f"{self.what}: unknown field `{key}`{suggestion(key, self.known)}")


def suggestion(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def items(node: yaml.SequenceNode) -> Iterator[yaml.Node]:
    yield from node.value
