"""YAML text -> the definition model, noting every problem with its file, line and column.

Callers read files; this module only sees text and a source name. `parse_definition` returns the
model it could build (parts with problems left out) together with the problems, so the validator can
go on to report graph and expression problems in the same pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from reliant.engine.definition import (
    MODES,
    NO_DEFAULT,
    ROLES,
    WORKTREE_ACTIONS,
    AgentNode,
    ApprovalNode,
    Branch,
    CallLlmNode,
    Case,
    CompactNode,
    Definition,
    Edge,
    ExecuteToolsNode,
    Graph,
    InputSpec,
    InputType,
    Join,
    LlmSettings,
    LoopNode,
    Node,
    OutputSpec,
    ParallelNode,
    Preset,
    RunNode,
    SaveMessageNode,
    ThreadMode,
    ToolFilter,
    WorkflowNode,
    WorktreeNode,
)
from reliant.engine.expressions import Template
from reliant.engine.inputs import input_type_error
from reliant.engine.problems import Position, Problem
from reliant.engine.source import Fields, Source, kind_of, scalar, scalar_null, suggestion
from reliant.engine.values import Reader

COMMON_FIELDS = ("id", "type", "description")
LLM_FIELDS = ("preset", "model", "system", "temperature", "tools")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "call_llm": (*LLM_FIELDS, "prompt", "ephemeral", "response", "thread"),
    "execute_tools": ("source", "mode", "thread"),
    "agent": (*LLM_FIELDS, "agents", "prompt", "mode", "max_turns", "thread"),
    "run": ("command", "timeout_seconds"),
    "approval": ("question", "choices"),
    "loop": ("body", "while", "max_iterations"),
    "parallel": ("branches", "join", "n"),
    "workflow": ("workflow", "inputs", "thread", "count", "worktree", "models"),
    "worktree": ("action", "of", "message", "force"),
    "compact": ("threshold", "model", "thread"),
    "save_message": ("role", "content", "thread"),
}
TOP_FIELDS = ("$schema", "name", "description", "inputs", "outputs", "entry", "nodes", "edges", "thread", "presets")
GRAPH_FIELDS = ("entry", "nodes", "edges")
PRESET_FIELDS = ("description", *LLM_FIELDS[1:], "agents")


@dataclass
class Parsed:
    """What `parse_definition` built, and what it found wrong."""

    definition: Definition | None
    problems: list[Problem]
    broken: set[str] = field(default_factory=set)  # ids of nodes left out for their problems


def parse_definition(text: str, source: str) -> Parsed:
    parsed = _parse_definition(text, source)
    return Parsed(parsed.definition, list(parsed.problems), set(parsed.broken))


def parse_preset(text: str, source: str, name: str) -> tuple[Preset | None, list[Problem]]:
    """A preset file (`.reliant/presets/<name>.yaml`): description, model, system, temperature, tools."""
    preset, problems = _parse_preset(text, source, name)
    return preset, list(problems)


# Every run parses the texts it pins (and a catalog of every workflow it may call) where it opens and
# again in workflow code: milliseconds each, for texts that rarely change. Definitions and presets
# are frozen, so one parse of a text serves every caller (each gets its own lists of problems).
@functools.lru_cache(maxsize=256)
def _parse_definition(text: str, source: str) -> Parsed:
    src = Source(text, source)
    root = src.compose()
    if root is None:
        return Parsed(None, src.problems)
    parser = _Parser(src)
    definition = parser.definition(root)
    return Parsed(definition, src.problems, parser.broken)


@functools.lru_cache(maxsize=256)
def _parse_preset(text: str, source: str, name: str) -> tuple[Preset | None, list[Problem]]:
    src = Source(text, source)
    root = src.compose()
    if root is None:
        return None, src.problems
    preset = _Parser(src).preset(name, root, Position(source, 1, 1))
    return preset, src.problems


class _Parser(Reader):
    def __init__(self, src: Source) -> None:
        super().__init__(src)
        self.broken: set[str] = set()

    # -- the file -----------------------------------------------------------------------------------

    def definition(self, root: yaml.Node) -> Definition | None:
        fields = self.fields(root, "workflow", TOP_FIELDS)
        if fields is None:
            return None
        name = self.name(fields.required("name"), "name")
        description = self.opt(fields.take("description"), self.string, "description") or ""
        graph = self._graph_fields(fields, "workflow", self.src.at(root))
        definition = Definition(
            name=name or "",
            graph=graph,
            at=Position(self.src.name, 1, 1),
            description=description,
            inputs=self._inputs(fields.take("inputs")),
            outputs=self._outputs(fields.take("outputs")),
            thread=self.opt(fields.take("thread"), self.enum(ThreadMode), "thread"),
            presets=self._presets(fields.take("presets")),
        )
        if (schema := fields.take("$schema")) is not None:
            self.string(schema, "$schema")
        fields.finish()
        return definition

    def _inputs(self, node: yaml.Node | None) -> tuple[InputSpec, ...]:
        specs: list[InputSpec] = []
        for key, value in self.mapping_entries(node, "inputs"):
            name = self.id(key, "input")
            spec = self._input(name, value) if name else None
            if spec is not None:
                specs.append(spec)
        return tuple(specs)

    def _input(self, name: str, node: yaml.Node) -> InputSpec | None:
        what = f"input `{name}`"
        fields = self.fields(node, what, ("type", "description", "default", "values"))
        if fields is None:
            return None
        kind = self.opt(fields.required("type"), self.enum(InputType), f"{what}: type")
        description = self.opt(fields.take("description"), self.string, f"{what}: description") or ""
        values: tuple[str, ...] = ()
        if (values_node := fields.take("values")) is not None:
            values = self.string_list(values_node, f"{what}: values")
            if kind is not None and kind is not InputType.ENUM:
                self.src.problem(values_node, f"{what}: `values` is only for enum inputs")
        elif kind is InputType.ENUM:
            self.src.problem(node, f"{what}: an enum input needs `values`")
        default = NO_DEFAULT
        if (default_node := fields.take("default")) is not None:
            default = self.src.value(default_node)
            if kind is not None and (error := input_type_error(kind, default, values)):
                self.src.problem(default_node, f"{what}: default {error}")
        fields.finish()
        if kind is None:
            return None
        return InputSpec(name, kind, self.src.at(node), description, default, values)

    def _outputs(self, node: yaml.Node | None) -> tuple[OutputSpec, ...]:
        specs: list[OutputSpec] = []
        for key, value in self.mapping_entries(node, "outputs"):
            name = self.id(key, "output")
            template = self.template(value, f"output `{name}`")
            if name and template is not None:
                specs.append(OutputSpec(name, template, self.src.at(value)))
        return tuple(specs)

    def _presets(self, node: yaml.Node | None) -> dict[str, Preset]:
        presets: dict[str, Preset] = {}
        for key, value in self.mapping_entries(node, "presets"):
            name = self.name(key, "preset name")
            preset = self.preset(name, value, self.src.at(key)) if name else None
            if preset is not None:
                presets[preset.name] = preset
        return presets

    def preset(self, name: str, node: yaml.Node, at: Position) -> Preset | None:
        what = f"preset `{name}`"
        fields = self.fields(node, what, PRESET_FIELDS)
        if fields is None:
            return None
        description = self.opt(fields.take("description"), self.string, f"{what}: description") or ""
        settings = self._llm(fields, what, with_preset=False)
        fields.finish()
        return Preset(name, settings, at, description)

    # -- graphs, edges ------------------------------------------------------------------------------

    def _graph(self, node: yaml.Node, what: str) -> Graph:
        fields = self.fields(node, what, GRAPH_FIELDS)
        if fields is None:
            return Graph((), (), (), self.src.at(node))
        graph = self._graph_fields(fields, what, self.src.at(node))
        fields.finish()
        return graph

    def _graph_fields(self, fields: Fields, what: str, at: Position) -> Graph:
        entry_node = fields.required("entry")
        entry = self.opt(entry_node, self.ids, f"{what}: entry") or ()
        if entry_node is not None:
            at = self.src.at(entry_node)
        nodes: list[Node] = []
        if (nodes_node := fields.required("nodes")) is not None:
            if not isinstance(nodes_node, yaml.SequenceNode) or not nodes_node.value:
                self.src.problem(nodes_node, f"{what}: `nodes` must be a list of at least one node")
            else:
                nodes = [n for item in nodes_node.value if (n := self._node(item)) is not None]
        edges: list[Edge] = []
        if (edges_node := fields.take("edges")) is not None:
            if not isinstance(edges_node, yaml.SequenceNode):
                self.src.problem(edges_node, f"{what}: `edges` must be a list")
            else:
                edges = [e for item in edges_node.value if (e := self._edge(item)) is not None]
        return Graph(tuple(entry), tuple(nodes), tuple(edges), at)

    def _edge(self, node: yaml.Node) -> Edge | None:
        fields = self.fields(node, "edge", ("from", "cases", "default"))
        if fields is None:
            return None
        source = self.opt(fields.required("from"), self.string, "edge: from")
        what = f"edge from `{source}`"
        cases: list[Case] = []
        if (cases_node := fields.take("cases")) is not None:
            if not isinstance(cases_node, yaml.SequenceNode):
                self.src.problem(cases_node, f"{what}: `cases` must be a list")
            else:
                cases = [c for item in cases_node.value if (c := self._case(item, what)) is not None]
        default = self.opt(fields.take("default"), self.ids, f"{what}: default") or ()
        if "cases" not in fields and "default" not in fields:
            self.src.problem(node, f"{what}: give `cases`, a `default`, or both")
        fields.finish()
        if source is None:
            return None
        return Edge(source, tuple(cases), tuple(default), self.src.at(node))

    def _case(self, node: yaml.Node, what: str) -> Case | None:
        fields = self.fields(node, f"{what}: case", ("to", "condition"))
        if fields is None:
            return None
        to = self.opt(fields.required("to"), self.ids, f"{what}: to")
        condition = self.opt(fields.required("condition"), self.expression, f"{what}: condition")
        fields.finish()
        if to is None or condition is None:
            return None
        return Case(tuple(to), condition, self.src.at(node))

    # -- nodes --------------------------------------------------------------------------------------

    def _node(self, node: yaml.Node) -> Node | None:
        if not isinstance(node, yaml.MappingNode):
            self.src.problem(node, f"a node must be a mapping with `id` and `type`, not {kind_of(node)}")
            return None
        peek = Fields(Source(self.src.text, self.src.name), node, "", ())  # read id/type quietly first
        node_id = self.opt(peek.take("id"), self.id, "node id")
        what = f"node `{node_id}`" if node_id else "node"
        kind_node = peek.take("type")
        kind = self.opt(kind_node, self.string, f"{what}: type")
        if kind is not None and kind not in KIND_FIELDS:
            assert kind_node is not None
            self.src.problem(
                kind_node,
                f"{what}: unknown node type `{kind}`{suggestion(kind, list(KIND_FIELDS))}"
                f"; the types are {', '.join(KIND_FIELDS)}",
            )
            kind = None
        fields = Fields(
            self.src, node, f"{what} ({kind})" if kind else what, (*COMMON_FIELDS, *KIND_FIELDS.get(kind or "", ()))
        )
        if "id" not in fields:
            self.src.problem(node, f"{what}: `id` is required")
        if "type" not in fields:
            self.src.problem(node, f"{what}: `type` is required")
        if kind is None or not node_id:
            if node_id:
                self.broken.add(node_id)
            return None
        what = f"node `{node_id}`"
        base: dict[str, Any] = {
            "id": node_id,
            "at": self.src.at(node),
            "description": self.opt(fields.take("description"), self.string, f"{what}: description") or "",
        }
        built = self._KINDS[kind](self, fields, what, base)
        fields.finish()
        if built is None:
            self.broken.add(node_id)
        return built

    def _call_llm(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        response = None
        if (response_node := f.take("response")) is not None:
            response = self._response_schema(response_node, what)
        return CallLlmNode(
            **base,
            llm=self._llm(f, what),
            prompt=self.opt(f.take("prompt"), self.template, f"{what}: prompt"),
            ephemeral=self.opt(f.take("ephemeral"), self.bool, f"{what}: ephemeral") or False,
            response=response,
            thread=self._thread(f, what),
        )

    def _execute_tools(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        source = self.opt(f.required("source"), self.id, f"{what}: source")
        if source is None:
            return None
        return ExecuteToolsNode(**base, source=source, mode=self._mode(f, what), thread=self._thread(f, what))

    def _agent(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        return AgentNode(
            **base,
            llm=self._llm(f, what),
            prompt=self.opt(f.take("prompt"), self.template, f"{what}: prompt"),
            mode=self._mode(f, what),
            max_turns=self.opt_int(f.take("max_turns"), f"{what}: max_turns") or 200,
            thread=self._thread(f, what),
        )

    def _run(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        command = self.opt(f.required("command"), self.template, f"{what}: command")
        if command is None:
            return None
        timeout = self.opt_int(f.take("timeout_seconds"), f"{what}: timeout_seconds")
        return RunNode(**base, command=command, timeout_seconds=timeout)

    def _approval(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        question = self.opt(f.required("question"), self.template, f"{what}: question")
        choices: tuple[str, ...] = ("approve", "reject")
        if (choices_node := f.take("choices")) is not None:
            choices = self.string_list(choices_node, f"{what}: choices")
            complete = isinstance(choices_node, yaml.SequenceNode) and len(choices) == len(choices_node.value)
            if complete and (not choices or len(set(choices)) != len(choices) or not all(c.strip() for c in choices)):
                self.src.problem(choices_node, f"{what}: `choices` must be a list of different, non-empty names")
        if question is None:
            return None
        return ApprovalNode(**base, question=question, choices=choices)

    def _loop(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        body_node = f.required("body")
        max_node = f.take("max_iterations")
        if max_node is None:
            self.src.problem(f.node, f"{what} (loop): `max_iterations` is required, so a loop always ends")
        max_iterations = self.opt_int(max_node, f"{what}: max_iterations")
        condition = self.opt(f.take("while"), self.expression, f"{what}: while")
        body = self.opt(body_node, self._graph, f"{what}: body")
        if body is None or max_iterations is None:
            return None
        return LoopNode(**base, body=body, max_iterations=max_iterations, condition=condition)

    def _parallel(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        branches: list[Branch] = []
        branches_node = f.required("branches")
        for key, value in self.mapping_entries(branches_node, f"{what}: branches"):
            branch_id = self.id(key, "branch")
            if branch_id:
                branches.append(
                    Branch(branch_id, self._graph(value, f"{what}: branch `{branch_id}`"), self.src.at(key))
                )
        if branches_node is not None and not branches:
            self.src.problem(branches_node, f"{what}: `branches` needs at least one branch")
        join = self.opt(f.take("join"), self.enum(Join), f"{what}: join") or Join.ALL
        n = 0
        if (n_node := f.take("n")) is not None:
            n = self.opt(n_node, self.int, f"{what}: n") or 0
            if join is not Join.N:
                self.src.problem(n_node, f"{what}: `n` goes with `join: n`")
            elif branches and not 1 <= n <= len(branches):
                self.src.problem(n_node, f"{what}: `n` must be between 1 and the number of branches ({len(branches)})")
        elif join is Join.N:
            self.src.problem(f.key_at("join"), f"{what}: `join: n` needs `n`, the number of branches to wait for")
        if not branches:
            return None
        return ParallelNode(**base, branches=tuple(branches), join=join, n=n)

    def _workflow(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        name = self.opt(f.required("workflow"), self.name, f"{what}: workflow")
        inputs: dict[str, Any] = {}
        for key, value in self.mapping_entries(f.take("inputs"), f"{what}: inputs"):
            input_name = self.id(key, "input")
            if not input_name:
                continue
            if isinstance(value, yaml.ScalarNode) and isinstance(scalar(value), str):
                template = self.template(value, f"{what}: inputs.{input_name}")
                if template is not None:
                    inputs[input_name] = template
            elif (data := self.src.data(value, f"{what}: inputs.{input_name}")) is not None or scalar_null(value):
                inputs[input_name] = data
        thread_node = f.take("thread")
        thread = self.opt(thread_node, self.enum(ThreadMode), f"{what}: thread")
        count = self.opt_int(f.take("count"), f"{what}: count")
        worktree = self.opt(f.take("worktree"), self.bool, f"{what}: worktree") or False
        models_node = f.take("models")
        models = self.opt(models_node, self._models, f"{what}: models") or ()
        if count is not None or worktree:
            if thread is ThreadMode.INHERIT:
                assert thread_node is not None
                self.src.problem(
                    thread_node,
                    f"{what}: runs side by side (`count`/`worktree`) cannot share the caller's thread; "
                    "use `thread: new` or `fork`",
                )
        elif models_node is not None:
            self.src.problem(models_node, f"{what}: `models` goes with `count` (or `worktree`): one model per run")
        if name is None:
            return None
        return WorkflowNode(
            **base, workflow=name, inputs=inputs, thread=thread, count=count, worktree=worktree, models=models
        )

    def _models(self, node: yaml.Node, what: str) -> tuple[Template, ...] | None:
        """A list of model specs (templates), or one template that gives a list or `a,b,c`."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if isinstance(node, yaml.SequenceNode) and not items:
            self.src.problem(node, f"{what}: the list is empty")
            return None
        found = [t for item in items if (t := self.template(item, what)) is not None]
        return tuple(found) if len(found) == len(items) else None

    def _worktree(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        action_node = f.required("action")
        action = self.opt(action_node, self.template, f"{what}: action")
        if action is not None and not action.expressions() and action.text not in WORKTREE_ACTIONS:
            assert action_node is not None
            self.src.problem(
                action_node, f"{what}: action must be one of {', '.join(WORKTREE_ACTIONS)} (or an expression)"
            )
            action = None
        of = self.opt(f.required("of"), self.template, f"{what}: of")
        message = self.opt(f.take("message"), self.template, f"{what}: message")
        force = self.opt(f.take("force"), self.bool, f"{what}: force") or False
        if action is None or of is None:
            return None
        return WorktreeNode(**base, action=action, of=of, message=message, force=force)

    def _compact(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        threshold = self.opt_int(f.take("threshold"), f"{what}: threshold")
        return CompactNode(
            **base,
            threshold=100_000 if threshold is None else threshold,
            model=self.opt(f.take("model"), self.template, f"{what}: model"),
            thread=self._thread(f, what),
        )

    def _save_message(self, f: Fields, what: str, base: dict[str, Any]) -> Node | None:
        content = self.opt(f.required("content"), self.template, f"{what}: content")
        role = "user"
        if (role_node := f.take("role")) is not None:
            role = self.opt(role_node, self.string, f"{what}: role") or "user"
            if role not in ROLES:
                self.src.problem(role_node, f"{what}: role must be one of {', '.join(ROLES)}")
        if content is None:
            return None
        return SaveMessageNode(**base, content=content, role=role, thread=self._thread(f, what))

    _KINDS: dict[str, Callable[[_Parser, Fields, str, dict[str, Any]], Node | None]] = {
        "call_llm": _call_llm,
        "execute_tools": _execute_tools,
        "agent": _agent,
        "run": _run,
        "approval": _approval,
        "loop": _loop,
        "parallel": _parallel,
        "workflow": _workflow,
        "worktree": _worktree,
        "compact": _compact,
        "save_message": _save_message,
    }

    # -- shared fields ------------------------------------------------------------------------------

    def _llm(self, f: Fields, what: str, *, with_preset: bool = True) -> LlmSettings:
        temperature = None
        if (temp_node := f.take("temperature")) is not None:
            temperature = self.number(temp_node, f"{what}: temperature")
            if temperature is not None and not 0 <= temperature <= 2:
                self.src.problem(temp_node, f"{what}: temperature must be between 0 and 2")
        return LlmSettings(
            preset=(self.opt(f.take("preset"), self.name, f"{what}: preset") or "") if with_preset else "",
            model=self.opt(f.take("model"), self.template, f"{what}: model"),
            system=self.opt(f.take("system"), self.template, f"{what}: system"),
            temperature=temperature,
            tools=self.opt(f.take("tools"), self._tools, f"{what}: tools"),
            agents=self.opt(f.take("agents"), self.bool, f"{what}: agents"),
        )

    def _tools(self, node: yaml.Node, what: str) -> ToolFilter | None:
        if isinstance(node, yaml.ScalarNode) and scalar(node) in ("all", "none"):
            return ToolFilter() if node.value == "all" else ToolFilter.NONE
        if not isinstance(node, yaml.MappingNode):
            self.src.problem(node, f"{what}: `all`, `none`, or a mapping with `names` and/or `tags`")
            return None
        fields = Fields(self.src, node, what, ("names", "tags"))
        names = self.opt(fields.take("names"), self.string_list, f"{what}: names") or ()
        tags = self.opt(fields.take("tags"), self.string_list, f"{what}: tags") or ()
        fields.finish()
        if not names and not tags:
            self.src.problem(node, f"{what}: give `names` or `tags` (or use `none`)")
        return ToolFilter(all=False, names=names, tags=tags)

    def _mode(self, f: Fields, what: str) -> Template | None:
        node = f.take("mode")
        template = self.opt(node, self.template, f"{what}: mode")
        if node is not None and template is not None and not template.expressions() and template.text not in MODES:
            self.src.problem(node, f"{what}: mode must be one of {', '.join(MODES)} (or an expression)")
        return template

    def _thread(self, f: Fields, what: str) -> str:
        return self.opt(f.take("thread"), self.id, f"{what}: thread") or "main"

    def _response_schema(self, node: yaml.Node, what: str) -> dict[str, Any] | None:
        value = self.src.data(node, f"{what}: response")
        if value is None:
            return None
        props = value.get("properties") if isinstance(value, dict) else None
        if not isinstance(value, dict) or value.get("type") != "object" or not isinstance(props, dict) or not props:
            self.src.problem(node, f"{what}: response must be a JSON Schema of `type: object` with `properties`")
            return None
        return value
