"""Everything wrong with a definition, found at once, each at its file:line:col.

On top of what the parser finds (unknown types and fields, bad values, CEL syntax): edges to unknown
nodes, nodes nothing reaches, cycles that are not loops, unknown presets and workflows, a workflow
that calls itself, and every expression's references (`inputs.x`, `nodes.id.field`, `iter.*`)
checked against the definition. Expressions are then tried on sample values of the declared types,
which finds type errors such as `inputs.ratio * 2` (a double times an int) or a condition that is
not a boolean, wherever that sample evaluation reaches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reliant.engine.definition import (
    AgentNode,
    CallLlmNode,
    Definition,
    ExecuteToolsNode,
    LlmSettings,
    LoopNode,
    Node,
    Preset,
    WorkflowNode,
)
from reliant.engine.expressions import EvaluationFault, Expression, Template, describe
from reliant.engine.layout import Layout, Scope, Site
from reliant.engine.outputs import (
    CHAT_SHAPE,
    INPUT_SHAPES,
    INT,
    ListOf,
    Record,
    Scalar,
    Shape,
    Unknown,
    describe_shape,
    node_shape,
    sample,
)
from reliant.engine.parse import Parsed, parse_definition
from reliant.engine.problems import InvalidDefinition, Position, Problem
from reliant.engine.references import ITEM, Reference, dotted, scan
from reliant.engine.source import suggestion

NAMESPACES = ("inputs", "nodes", "iter", "chat")
INT_FIELDS = frozenset({"max_iterations", "max_turns", "threshold", "timeout_seconds", "count"})


@dataclass(frozen=True)
class Catalog:
    """What a definition may name besides its own parts: other workflows (built-in and the
    project's) and presets. `workflows=None` means "not known here": workflow names go unchecked."""

    workflows: Mapping[str, Definition] | None = None
    presets: Mapping[str, Preset] = field(default_factory=dict)


def check_definition(text: str, source: str, catalog: Catalog | None = None) -> tuple[Definition | None, list[Problem]]:
    """Parse and validate: the definition (when it parsed) and every problem, in file order."""
    parsed = parse_definition(text, source)
    problems = list(parsed.problems)
    if parsed.definition is not None:
        problems += validate(parsed, catalog or Catalog())
    return parsed.definition, sorted(problems, key=lambda p: (p.at.line, p.at.column))


def load_definition(text: str, source: str, catalog: Catalog | None = None) -> Definition:
    """A valid definition, with the catalog's presets it names pinned into it; InvalidDefinition
    (with every problem) otherwise."""
    catalog = catalog or Catalog()
    definition, problems = check_definition(text, source, catalog)
    if problems or definition is None:
        raise InvalidDefinition(source, problems)
    used = {n.llm.preset for _, n in definition.walk() if isinstance(n, CallLlmNode | AgentNode) and n.llm.preset}
    pinned = {name: catalog.presets[name] for name in sorted(used) if name not in definition.presets}
    return dataclasses.replace(definition, presets={**pinned, **definition.presets})


def validate(parsed: Parsed, catalog: Catalog) -> list[Problem]:
    assert parsed.definition is not None
    return _Validator(parsed.definition, parsed.broken, catalog).run()


@dataclass(frozen=True)
class _Site:
    """One expression and where it is evaluated."""

    expression: Expression
    node: str  # the node (path) it belongs to, "" for the workflow's outputs
    field: str
    scope: str  # the scope whose nodes it sees
    hidden: frozenset[str]  # paths it may not read although in scope (itself, the containers it is in)
    loop: str | None  # the loop `iter` means
    kind: str = "value"  # value | condition | int


class _Validator:
    def __init__(self, definition: Definition, broken: set[str], catalog: Catalog) -> None:
        self.d = definition
        self.broken = broken
        self.catalog = catalog
        self.layout = Layout(definition)
        self.problems: list[Problem] = []
        self._shapes: dict[str, Record] = {}

    def run(self) -> list[Problem]:
        self._unique_ids()
        for scope in self.layout.scopes.values():
            self._graph(scope)
        for site in self.layout.sites.values():
            self._node(site)
        for site_ in self._expression_sites():
            self._expression(site_)
        self._recursion()
        return self.problems

    def _problem(self, at: Position, message: str) -> None:
        self.problems.append(Problem(at, message))

    # -- structure ----------------------------------------------------------------------------------

    def _unique_ids(self) -> None:
        seen: dict[str, Position] = {}
        for _, node in self.d.walk():
            if node.id in seen:
                first = seen[node.id]
                self._problem(
                    node.at, f"node id `{node.id}` is used twice (first at line {first.line}); ids are unique"
                )
            else:
                seen[node.id] = node.at

    def _graph(self, scope: Scope) -> None:
        graph = scope.graph
        ids = {n.id for n in graph.nodes}
        where = self._where(scope.path)
        for entry in graph.entry:
            if entry not in ids and entry not in self.broken:
                self._problem(graph.at, f"entry `{entry}` is not a node {where}{self._elsewhere(entry)}")
        targets: dict[str, list[str]] = {n.id: [] for n in graph.nodes}  # in file order: stable messages
        sources: set[str] = set()
        for edge in graph.edges:
            if edge.source not in ids:
                if edge.source not in self.broken:
                    self._problem(
                        edge.at, f"edge from `{edge.source}`: no such node {where}{self._elsewhere(edge.source)}"
                    )
                continue
            if edge.source in sources:
                self._problem(edge.at, f"node `{edge.source}` has a second edge entry; put all its cases in one")
                continue
            sources.add(edge.source)
            for target in edge.targets():
                if target in ids:
                    targets[edge.source].append(target)
                elif target not in self.broken:
                    self._problem(
                        edge.at,
                        f"edge from `{edge.source}` goes to `{target}`, which is not a node {where}"
                        f"{self._elsewhere(target)}",
                    )
        reached = _reachable([e for e in graph.entry if e in ids], targets)
        for node in graph.nodes:
            if node.id not in reached and graph.entry:
                self._problem(node.at, f"node `{node.id}` is never reached: it is not an entry and no edge leads to it")
        for cycle in _cycles(graph.entry, targets):
            closing = graph.edge_from(cycle[-2])
            at = closing.at if closing is not None else graph.at
            self._problem(
                at,
                f"edges make a cycle {_cycle_text(cycle)}; to repeat steps, put them in a `loop` node "
                "(which has a bound)",
            )

    def _where(self, scope: str) -> str:
        owner = self.layout.scopes[scope].owner
        if owner is None:
            return "of the workflow"
        branch = self.layout.scopes[scope].branch
        if branch:
            return f"in branch `{branch}` of `{owner.rsplit('/', 1)[-1]}`"
        return f"in the body of loop `{owner.rsplit('/', 1)[-1]}`"

    def _elsewhere(self, node_id: str) -> str:
        site = self.layout.by_id.get(node_id)
        if site is None:
            return suggestion(node_id, list(self.layout.by_id))
        return f" (`{node_id}` is {self._where(site.scope)}; edges stay within one graph)"

    def _node(self, site: Site) -> None:
        node = site.node
        if isinstance(node, CallLlmNode | AgentNode) and node.llm.preset:
            name = node.llm.preset
            if name not in self.d.presets and name not in self.catalog.presets:
                known = sorted({*self.d.presets, *self.catalog.presets})
                self._problem(
                    node.at,
                    f"node `{node.id}`: unknown preset `{name}`{suggestion(name, known)}"
                    + (f"; the presets are {', '.join(known)}" if known else ""),
                )
        if isinstance(node, ExecuteToolsNode):
            self._source(site, node)
        if isinstance(node, WorkflowNode):
            self._child(node)

    def _source(self, site: Site, node: ExecuteToolsNode) -> None:
        target = self.layout.by_id.get(node.source)
        if target is None:
            if node.source not in self.broken:
                self._problem(node.at, f"node `{node.id}`: source `{node.source}` is not a node")
        elif not isinstance(target.node, CallLlmNode):
            self._problem(
                node.at, f"node `{node.id}`: source `{node.source}` is a {target.node.kind} node, not call_llm"
            )
        elif target.scope not in self.layout.chain(site.scope):
            self._problem(
                node.at, f"node `{node.id}`: source `{node.source}` is {self._where(target.scope)}, out of reach"
            )

    def _callee(self, name: str) -> Definition | None:
        if name == self.d.name:
            return self.d
        return None if self.catalog.workflows is None else self.catalog.workflows.get(name)

    def _child(self, node: WorkflowNode) -> None:
        child = self._callee(node.workflow)
        if child is None:
            if self.catalog.workflows is not None:
                known = sorted(self.catalog.workflows)
                self._problem(
                    node.at, f"node `{node.id}`: unknown workflow `{node.workflow}`{suggestion(node.workflow, known)}"
                )
            return
        for name in node.inputs:
            if child.input(name) is None:
                names = [i.name for i in child.inputs]
                self._problem(
                    node.at, f"node `{node.id}`: workflow `{child.name}` has no input `{name}`{suggestion(name, names)}"
                )
        for spec in child.inputs:
            if spec.required and spec.name not in node.inputs:
                self._problem(node.at, f"node `{node.id}`: workflow `{child.name}` needs input `{spec.name}`")

    def _recursion(self) -> None:
        if not self.d.name:
            return
        for _, node in self.d.walk():
            if isinstance(node, WorkflowNode):
                path = self._call_path(node.workflow, [self.d.name])
                if path is not None:
                    self._problem(
                        node.at,
                        f"node `{node.id}`: workflow `{self.d.name}` calls itself ({' → '.join(path)}) "
                        "with nothing to stop it",
                    )

    def _call_path(self, name: str, path: list[str]) -> list[str] | None:
        if name == self.d.name:
            return [*path, name]
        if name in path:
            return None  # a cycle that does not pass through this workflow: its own file reports it
        child = self._callee(name)
        if child is None:
            return None
        for callee in sorted(child.calls()):
            found = self._call_path(callee, [*path, name])
            if found is not None:
                return found
        return None

    # -- expressions --------------------------------------------------------------------------------

    def _expression_sites(self) -> Iterator[_Site]:
        for site in self.layout.sites.values():
            node = site.node
            owners = frozenset(self.layout.owners(site.scope))
            here = self.layout.loop_of(site.scope)
            for name, template in _templates(node):
                kind = "int" if name in INT_FIELDS else "value"
                for expr in template.expressions():
                    yield _Site(expr, site.path, name, site.scope, owners | {site.path}, here, kind)
            if isinstance(node, LoopNode) and node.condition is not None:
                yield _Site(
                    node.condition, site.path, "while", site.scope, owners | {site.path}, site.path, "condition"
                )
            edge = self.layout.edge_from(site.path)
            if edge is not None:
                for case in edge.cases:
                    yield _Site(case.condition, site.path, "condition", site.scope, owners, here, "condition")
        for output in self.d.outputs:
            for expr in output.value.expressions():
                yield _Site(expr, "", f"outputs.{output.name}", "", frozenset(), None)

    def _context(self, site: _Site) -> Record:
        fields: dict[str, Shape] = {
            "inputs": Record({i.name: INPUT_SHAPES[i.type] for i in self.d.inputs}),
            "nodes": Record(_Visible(self, self.layout.chain(site.scope), site.hidden)),
            "chat": CHAT_SHAPE,
        }
        if site.loop is not None:
            loop = self.layout.sites[site.loop].node
            assert isinstance(loop, LoopNode)
            previous = Record({n.id: node_shape(n, self._callee) for n in loop.body.nodes})
            fields["iter"] = Record({"iteration": INT, "previous": previous})
        return Record(fields)

    def shape(self, site: Site) -> Record:
        """A node's outputs (worked out once per node)."""
        found = self._shapes.get(site.path)
        if found is None:
            found = self._shapes[site.path] = node_shape(site.node, self._callee)
        return found

    def _expression(self, site: _Site) -> None:
        expr = site.expression
        context = self._context(site)
        refs, bound = scan(expr.source)
        label = f"node `{site.node.rsplit('/', 1)[-1]}`: {site.field}" if site.node else site.field
        clean = True
        for name in expr.names():
            if name in bound or name in context.fields:
                continue
            clean = False
            if name == "iter":
                self._problem(expr.at, f"{label}: `iter` is only set inside a loop (in `{expr.source}`)")
            else:
                hint = suggestion(name, list(NAMESPACES))
                self._problem(
                    expr.at,
                    f"{label}: unknown name `{name}`{hint} (in `{expr.source}`); expressions read "
                    "inputs.*, nodes.<id>.*, iter.* (in loops) and chat.*",
                )
        for ref in refs:
            if ref.path[0] not in context.fields:
                continue
            message, certain = self._follow(ref, context, site)
            if message:
                self._problem(_at(expr, ref), f"{label}: {message} (in `{expr.source}`)")
            clean = clean and certain and not message
        if clean:
            self._try(site, context, label)
            if site.loop is not None and any(ref.path[:2] == ("iter", "previous") for ref in refs):
                self._first_iteration(site, context, label)

    def _follow(self, ref: Reference, context: Record, site: _Site) -> tuple[str, bool]:
        """Walk the reference through the shapes: (what is wrong or "", whether the shape was fully
        known along the way, so a sample evaluation means something)."""
        shape: Shape = context
        for depth, key in enumerate(ref.path):
            prefix = ref.path[:depth]
            if isinstance(shape, Unknown):
                return "", False
            if key == ITEM:
                if not isinstance(shape, ListOf):
                    return f"`{dotted(prefix)}` is {describe_shape(shape)}, not a list to index", True
                shape = shape.item
                continue
            if isinstance(shape, Scalar | ListOf):
                return f"`{dotted(prefix)}` is {describe_shape(shape)}, which has no field `{key}`", True
            if key not in shape.fields:
                if shape.open:
                    return "", False
                return self._missing(prefix, key, shape, site), True
            shape = shape.fields[key]
        return "", True

    def _missing(self, prefix: tuple[str, ...], key: str, shape: Record, site: _Site) -> str:
        names = list(shape.fields)
        hint = suggestion(key, names)
        if prefix == ("inputs",):
            return f"unknown input `{key}`{hint}" if names else f"unknown input `{key}` (the workflow has no inputs)"
        if prefix == ("nodes",):
            return self._unseen(key, site) or f"unknown node `{key}`{hint}"
        if prefix == ("iter", "previous") and site.loop is not None:
            return f"`{key}` is not a node in the body of loop `{site.loop.rsplit('/', 1)[-1]}`{hint}"
        if len(prefix) == 2 and prefix[0] == "nodes":
            node = self.layout.by_id[prefix[1]].node
            return f"node `{prefix[1]}` ({node.kind}) has no output `{key}`{hint}; it has {', '.join(names)}"
        return f"`{dotted(prefix)}` has no field `{key}`{hint}; it has {', '.join(names) or 'none'}"

    def _unseen(self, node_id: str, site: _Site) -> str:
        """Why an existing node cannot be read from here ("" when it does not exist)."""
        target = self.layout.by_id.get(node_id)
        if target is None:
            return ""
        if target.path == site.node:
            return f"`{node_id}` cannot read its own outputs: they exist once it is done"
        if target.path in site.hidden:
            return f"`{node_id}` is still running here: its outputs exist once it ends"
        scope = self.layout.scopes[target.scope]
        if scope.owner is not None:
            owner = scope.owner.rsplit("/", 1)[-1]
            if scope.branch:
                return (
                    f"`{node_id}` is in branch `{scope.branch}` of `{owner}`; after it, read "
                    f"nodes.{owner}.branches.{scope.branch}.{node_id}"
                )
            return (
                f"`{node_id}` is in the body of loop `{owner}`; read nodes.{owner}.last.{node_id} after the loop, "
                f"or iter.previous.{node_id} inside it"
            )
        return ""

    def _try(self, site: _Site, context: Record, label: str) -> None:
        """Evaluate on sample values: a type error there is a type error for every run."""
        expr = site.expression
        try:
            value = expr.evaluate(_sample(context, expr.reads))
        except EvaluationFault as fault:
            if isinstance(fault.__cause__, TypeError):
                self._problem(expr.at, f"{label}: type error: {fault.message} (in `{expr.source}`)")
            return
        if site.kind == "condition" and not isinstance(value, bool):
            self._problem(
                expr.at, f"{label}: a condition must be true or false, not {describe(value)} (in `{expr.source}`)"
            )
        if site.kind == "int" and (type(value) is not int):
            self._problem(expr.at, f"{label}: must be an integer, not {describe(value)} (in `{expr.source}`)")

    def _first_iteration(self, site: _Site, context: Record, label: str) -> None:
        """In a loop's first iteration `iter.previous` is empty, for certain: an expression that reads
        it there without a guard fails every run."""
        expr = site.expression
        values = _sample(context, expr.reads)
        values["iter"] = {"iteration": 0, "previous": {}}
        try:
            expr.evaluate(values)
        except EvaluationFault as fault:
            if isinstance(fault.__cause__, KeyError):
                self._problem(
                    expr.at,
                    f"{label}: `iter.previous` is empty in the first iteration, so this fails there; guard "
                    f"it, e.g. `iter.iteration == 0 ? … : iter.previous…` (in `{expr.source}`)",
                )


class _Visible(Mapping[str, Shape]):
    """The nodes an expression sees (those of its scope and the scopes around it, itself and the
    containers it is in aside), their shapes worked out as they are read: a definition of n nodes
    has n expressions, and each seeing all n shapes made validation quadratic."""

    def __init__(self, validator: _Validator, chain: list[str] | tuple[str, ...], hidden: frozenset[str]) -> None:
        self.validator = validator
        self.chain = chain
        self.hidden = hidden

    def _site(self, node_id: str) -> Site | None:
        site = self.validator.layout.by_id.get(node_id)
        if site is None or site.scope not in self.chain or site.path in self.hidden:
            return None
        return site

    def __getitem__(self, node_id: str) -> Shape:
        site = self._site(node_id)
        if site is None:
            raise KeyError(node_id)
        return self.validator.shape(site)

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, str) and self._site(node_id) is not None

    def __iter__(self) -> Iterator[str]:
        return (s.node.id for s in self.validator.layout.sites.values() if self._site(s.node.id) is s)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _sample(context: Record, reads: tuple[tuple[str, ...], ...] | None) -> dict[str, Any]:
    """Sample values of what an expression reads (all of the context when that is not known), as
    Expression.evaluate would hand them over."""
    if reads is None:
        values = sample(context)
        assert isinstance(values, dict)
        return values
    out: dict[str, Any] = {}
    for path in reads:
        shape: Shape = context
        target = out
        for i, key in enumerate(path):
            if not isinstance(shape, Record) or key not in shape.fields:
                break
            shape = shape.fields[key]
            if i == len(path) - 1 or not isinstance(shape, Record):
                target[key] = sample(shape)
                break
            target = target.setdefault(key, {})
    return out


def _templates(node: Node) -> Iterator[tuple[str, Template]]:
    """The templated fields of a node (conditions and nested graphs aside)."""
    for f in dataclasses.fields(node):
        value: Any = getattr(node, f.name)
        if isinstance(value, Template):
            yield f.name, value
        elif isinstance(value, LlmSettings):
            for name in ("model", "system"):
                if isinstance(part := getattr(value, name), Template):
                    yield name, part
        elif isinstance(node, WorkflowNode) and f.name == "inputs":
            for key, item in value.items():
                if isinstance(item, Template):
                    yield f"inputs.{key}", item
        elif isinstance(node, WorkflowNode) and f.name == "models":
            for i, item in enumerate(value):
                yield f"models[{i}]", item


def _at(expr: Expression, ref: Reference) -> Position:
    if "\n" in expr.source[: ref.offset]:
        return expr.at
    return Position(expr.at.source, expr.at.line, expr.at.column + ref.offset)


def _cycle_text(cycle: list[str]) -> str:
    shown = cycle if len(cycle) <= 8 else [*cycle[:4], f"…({len(cycle) - 7} more)…", *cycle[-3:]]
    return " → ".join(shown)


def _reachable(entry: list[str], targets: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(entry)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(targets.get(node, ()))
    return seen


def _cycles(entry: tuple[str, ...], targets: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per back edge of a depth-first walk (without recursion: a
    workflow may be a chain of thousands of nodes)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in [*entry, *targets]:
        if start in state or start not in targets:
            continue
        state[start] = 1
        path = [start]
        stack = [iter(targets[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(targets.get(nxt, ())))
    return found
