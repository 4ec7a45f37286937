"""The run-state machine: which nodes are ready, running, done, failed or skipped; their outputs;
loop iterations; parallel joins; edges; the run's outputs. Pure and deterministic — the interpreter
executes the tasks it hands out and reports back:

    run = Run.start(definition, inputs, chat)
    while not run.done:
        for task in run.take_ready():            # these are now running
            start executing task (key: task.key(call))
        task, outputs = await the next result
        for stale in run.finish(task, outputs):  # or run.fail(task, error)
            cancel stale                          # a join was met, or a failure ended their graph

`loop` and `parallel` nodes are never tasks: the machine drives them. Every change is all-or-nothing:
when an expression fails (ExpressionError, naming the node, field and expression) the state is as
it was before the call. `run.state` is what continue-as-new carries; `Run.resume` picks it up
(tasks still running then are in `run.running()`, to be started again with the same keys).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reliant.engine.definition import (
    CONTAINERS,
    MAIN_THREAD,
    AgentNode,
    ApprovalNode,
    CallLlmNode,
    CompactNode,
    Definition,
    LlmSettings,
    LoopNode,
    Node,
    ParallelNode,
    ToolFilter,
    WorkflowNode,
)
from reliant.engine.expressions import EvaluationFault, ExpressionError, Template, describe, interpolated, plain
from reliant.engine.inputs import resolve_inputs
from reliant.engine.layout import Layout, join_path
from reliant.engine.outputs import TASK_OUTPUTS, conforms, schema_shape
from reliant.engine.references import dotted, scan
from reliant.engine.state import ACTIVE, ChatInfo, NodeState, NodeStatus, RunState, RunStatus
from reliant.errors import ReliantError


class TaskStateError(ReliantError):
    """A task was reported that is not running (finished twice, cancelled, or from an old iteration)."""

    def __init__(self, instance: str, status: str) -> None:
        self.instance = instance
        self.status = status
        super().__init__(f"task {instance} is not running (it is {status})")


class OutputsMismatch(ReliantError):
    """A task finished with outputs that are not its kind's (see outputs.py)."""

    def __init__(self, instance: str, kind: str, message: str) -> None:
        self.instance = instance
        self.kind = kind
        super().__init__(f"task {instance} ({kind}): {message}")


@dataclass(frozen=True, slots=True)
class Task:
    """One execution of one node, handed to the interpreter."""

    path: str  # structural: `fix/check`
    instance: str  # with the iteration of every loop around it: `fix[2]/check`
    node: Node
    thread: str  # the thread it works on ("main" unless the node names another)

    def key(self, call: int = 0) -> str:
        """The idempotency key of the task's `call`-th side effect (a model call, a tool, a command):
        (thread, node path, iterations, call). The interpreter puts the chat (and run) in front."""
        return f"{self.thread}:{self.instance}#{call}"


@dataclass(frozen=True, slots=True)
class LlmCall:
    """A call_llm or agent node's model settings: preset applied, templates evaluated. None: the
    chat's (model) or the provider's default."""

    model: str | None
    system: str | None
    temperature: float | None
    tools: ToolFilter
    agents: bool = True  # an `agent` node offers the agent tools


class Run:
    def __init__(self, definition: Definition, state: RunState) -> None:
        self.definition = definition
        self.state = state
        self.layout = Layout(definition)
        self._cancelled: list[Task] = []
        self._dirty: list[str] = []
        self._undo: dict[str, NodeState | None] | None = None  # during a change: states before it

    @classmethod
    def start(cls, definition: Definition, inputs: Mapping[str, Any], chat: ChatInfo | None = None) -> Run:
        """A new run: inputs checked (InvalidInputs), entry nodes reached."""
        run = cls(definition, RunState(inputs=resolve_inputs(definition, inputs), chat=chat or ChatInfo()))
        for node_id in definition.graph.entry:
            run._reach("", node_id)
        run._dirty.append("")
        run._settle()
        return run

    @classmethod
    def resume(cls, definition: Definition, state: RunState) -> Run:
        return cls(definition, state)

    # -- reading --------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state.status is not RunStatus.RUNNING

    @property
    def failed(self) -> bool:
        return self.state.status is RunStatus.FAILED

    @property
    def error(self) -> str:
        return self.state.error

    def outputs(self) -> dict[str, Any]:
        """The run's outputs, once it is done."""
        return dict(self.state.outputs)

    def status(self, path: str) -> NodeStatus:
        found = self.state.nodes.get(path)
        return found.status if found else NodeStatus.WAITING

    def node_outputs(self, path: str) -> dict[str, Any]:
        found = self.state.nodes.get(path)
        return dict(found.outputs) if found else {}

    def running(self) -> list[Task]:
        return [self._task(path) for path, st in self._tasks() if st.status is NodeStatus.RUNNING]

    def instance(self, path: str) -> str:
        """The node at `path` as it runs now: with each enclosing loop's iteration (`fix[2]/check`)."""
        return self._instance(path)

    def set_chat(self, chat: ChatInfo) -> None:
        self.state.chat = chat

    # -- changing -------------------------------------------------------------------------------------

    def take_ready(self) -> list[Task]:
        """The tasks that can start now; they are running from here on."""
        ready = [path for path, st in self._tasks() if st.status is NodeStatus.READY]
        for path in ready:
            self.state.nodes[path].status = NodeStatus.RUNNING
        return [self._task(path) for path in ready]

    def finish(self, task: Task, outputs: Mapping[str, Any]) -> list[Task]:
        """Record a task's outputs and follow its edge. Returns the running tasks this cancelled."""
        self._check_running(task)
        outputs = self._checked_outputs(task, dict(outputs))
        return self._change(lambda: self._complete(task.path, outputs))

    def fail(self, task: Task, error: str) -> list[Task]:
        """A task failed for good: its graph fails (a parallel join may still be met without it), up to
        the run. Returns the running tasks this cancelled."""
        self._check_running(task)
        return self._change(lambda: self._fail(task.path, error))

    def abort(self, reason: str) -> list[Task]:
        """End the run as failed (cancelled by the user, an expression that cannot be fixed…)."""
        if self.done:
            return []

        def stop() -> None:
            self._cancel_within("")
            self.state.status = RunStatus.FAILED
            self.state.error = reason

        return self._change(stop)

    # -- evaluating a task's fields -------------------------------------------------------------------

    def text(self, task: Task, field: str) -> str | None:
        """A templated string field, rendered (None when the node leaves it unset)."""
        value = self.value(task, field)
        return None if value is None else interpolated(value)

    def integer(self, task: Task, field: str) -> int | None:
        value = self.value(task, field)
        if value is not None and type(value) is not int:
            raise self._field_error(task, field, f"must be an integer, not {describe(value)}")
        return value

    def value(self, task: Task, field: str) -> Any:
        """A field's value: templates evaluated (a whole `{{expr}}` keeps its type)."""
        raw = getattr(task.node, field)
        return self._evaluate(task, field, raw)

    def llm(self, task: Task) -> LlmCall:
        node = task.node
        assert isinstance(node, CallLlmNode | AgentNode | CompactNode)
        settings = node.llm if isinstance(node, CallLlmNode | AgentNode) else LlmSettings(model=node.model)
        if settings.preset:
            settings = settings.over(self.definition.presets[settings.preset].settings)
        model = self._evaluate(task, "model", settings.model)
        system = self._evaluate(task, "system", settings.system)
        return LlmCall(
            model=None if model is None else interpolated(model),
            system=None if system is None else interpolated(system),
            temperature=settings.temperature,
            tools=settings.tools if settings.tools is not None else ToolFilter(),
            agents=settings.agents is not False,
        )

    def child_inputs(self, task: Task) -> dict[str, Any]:
        node = task.node
        assert isinstance(node, WorkflowNode)
        return {name: self._evaluate(task, f"inputs.{name}", raw) for name, raw in node.inputs.items()}

    def child_models(self, task: Task) -> list[str]:
        """A `workflow` node's models for its runs, in turn: each entry a spec, a list of them, or
        specs separated by commas ([]: the runs use the caller's)."""
        node = task.node
        assert isinstance(node, WorkflowNode)
        models: list[str] = []
        for i, raw in enumerate(node.models):
            value = self._evaluate(task, f"models[{i}]", raw)
            items = value if isinstance(value, list) else interpolated(value).split(",")
            for item in items:
                if not isinstance(item, str):
                    raise self._field_error(task, "models", f"a model must be a string, not {describe(item)}")
                if item.strip():
                    models.append(item.strip())
        return models

    def _evaluate(self, task: Task, field: str, raw: Any) -> Any:
        if not isinstance(raw, Template):
            return raw
        scope = self.layout.sites[task.path].scope
        try:
            return raw.evaluate(self._variables(scope))
        except EvaluationFault as fault:
            raise self._explained(fault, scope).named(node=task.instance, field=field) from fault

    def _field_error(self, task: Task, field: str, message: str) -> ExpressionError:
        raw = getattr(task.node, field)
        expr = raw.whole if isinstance(raw, Template) else None
        at = expr.at if expr is not None else task.node.at
        return ExpressionError(at, expr.source if expr else str(raw), message, node=task.instance, field=field)

    # -- the machine ----------------------------------------------------------------------------------

    def _change(self, change: Callable[[], None]) -> list[Task]:
        """Apply a change all-or-nothing; the tasks it cancelled. Undo keeps the node states as they
        were before their first change, so a step costs what it changes, not the size of the run."""
        order = list(self.state.nodes)
        top = (self.state.status, self.state.error, self.state.outputs)
        self._undo = {}
        self._cancelled = []
        self._dirty = []
        try:
            change()
            self._settle()
        except ExpressionError:
            undo, nodes = self._undo, self.state.nodes
            kept = {path: undo.get(path, nodes.get(path)) for path in order}
            self.state.nodes = {path: st for path, st in kept.items() if st is not None}
            self.state.status, self.state.error, self.state.outputs = top
            raise
        finally:
            self._undo = None
        cancelled, self._cancelled = self._cancelled, []
        return cancelled

    def _change_node(self, path: str) -> NodeState:
        """A node's state, to be changed (its old state kept for undo)."""
        self._remember(path)
        return self.state.nodes[path]

    def _put(self, path: str, st: NodeState) -> None:
        self._remember(path)
        self.state.nodes[path] = st

    def _drop(self, path: str) -> None:
        self._remember(path)
        self.state.nodes.pop(path, None)

    def _remember(self, path: str) -> None:
        if self._undo is None or path in self._undo:
            return
        st = self.state.nodes.get(path)
        # outputs and previous are replaced, never changed in place; the lists are appended to
        self._undo[path] = (
            None if st is None else dataclasses.replace(st, completed=list(st.completed), failed=list(st.failed))
        )

    def _reach(self, scope: str, node_id: str) -> None:
        """An edge (or the entry) reached a node: at most once per instance of its graph."""
        path = join_path(scope, node_id)
        if path in self.state.nodes:
            return
        node = self.layout.sites[path].node
        if isinstance(node, LoopNode):
            self._put(path, NodeState(NodeStatus.RUNNING, max_iterations=self._bound(path, node)))
            self._next_iteration(path)
        elif isinstance(node, ParallelNode):
            self._put(path, NodeState(NodeStatus.RUNNING))
            for branch in node.branches:
                inner = join_path(path, branch.id)
                for entry in branch.graph.entry:
                    self._reach(inner, entry)
                self._dirty.append(inner)
        else:
            self._put(path, NodeState(NodeStatus.READY))
        self._dirty.append(scope)

    def _bound(self, path: str, node: LoopNode) -> int:
        site = self.layout.sites[path]
        value = node.max_iterations
        expr = value.whole if isinstance(value, Template) else None
        if isinstance(value, Template):
            try:
                value = value.evaluate(self._variables(site.scope))
            except EvaluationFault as fault:
                raise self._explained(fault, site.scope).named(
                    node=self._instance(path), field="max_iterations"
                ) from fault
        if type(value) is not int or value < 1:
            assert expr is not None
            raise ExpressionError(
                expr.at,
                expr.source,
                f"must be a positive integer, not {describe(value)}",
                node=self._instance(path),
                field="max_iterations",
            )
        return value

    def _next_iteration(self, path: str) -> None:
        """Start the loop's next iteration, or end the loop (its bound reached, `while` false)."""
        node = self.layout.sites[path].node
        assert isinstance(node, LoopNode)
        st = self.state.nodes[path]
        go = st.iteration < st.max_iterations
        if go and node.condition is not None:
            scope = self.layout.sites[path].scope
            try:
                go = node.condition.condition(self._variables(scope, loop=path))
            except EvaluationFault as fault:
                raise self._explained(fault, scope).named(node=self._instance(path), field="while") from fault
        if not go:
            self._complete(path, {"iterations": st.iteration, "last": st.previous})
            return
        for inner in self.layout.within(path):
            self._drop(inner)
        for entry in node.body.entry:
            self._reach(path, entry)
        self._dirty.append(path)

    def _complete(self, path: str, outputs: dict[str, Any]) -> None:
        """A node is done: record its outputs and follow its edge."""
        st = self._change_node(path)
        st.status = NodeStatus.DONE
        st.outputs = outputs
        site = self.layout.sites[path]
        edge = self.layout.edge_from(path)
        if edge is not None:
            targets = edge.default
            variables = self._variables(site.scope) if edge.cases else {}
            for case in edge.cases:
                try:
                    taken = case.condition.condition(variables)
                except EvaluationFault as fault:
                    raise self._explained(fault, site.scope).named(
                        node=self._instance(path), field="condition"
                    ) from fault
                if taken:
                    targets = case.to
                    break
            for target in targets:
                self._reach(site.scope, target)
        self._dirty.append(site.scope)

    def _fail(self, path: str, error: str) -> None:
        """A task failed: so does its graph, and the loop or parallel node holding that graph (which
        carry the task's message, `fix[2]/check: …`), up to the run."""
        self._failed(path, f"{self._instance(path)}: {error}")

    def _failed(self, path: str, error: str) -> None:
        st = self._change_node(path)
        st.status = NodeStatus.FAILED
        st.error = error
        scope = self.layout.sites[path].scope
        self._cancel_within(scope)
        self._graph_failed(scope, error)

    def _graph_failed(self, scope: str, error: str) -> None:
        info = self.layout.scopes[scope]
        if info.owner is None:
            self._skip_unreached("")
            self.state.status = RunStatus.FAILED
            self.state.error = error
            return
        owner = self.layout.sites[info.owner].node
        if isinstance(owner, ParallelNode):
            st = self._change_node(info.owner)
            st.failed.append(info.branch)
            self._skip_unreached(scope)
            if len(owner.branches) - len(st.failed) < owner.needed():
                self._failed(info.owner, error)
            return
        self._failed(info.owner, error)

    def _settle(self) -> None:
        """End every graph that has nothing left to do, until none has: iterations that end at once
        are handled here, one after another, never by recursion."""
        while self._dirty:
            scope = self._dirty.pop(0)
            if self._live(scope) and not self._busy(scope):
                self._graph_done(scope)

    def _busy(self, scope: str) -> bool:
        nodes = self.state.nodes
        for site in self.layout.in_scope(scope):
            st = nodes.get(site.path)
            if st is not None and st.status in ACTIVE:
                return True
        return False

    def _live(self, scope: str) -> bool:
        info = self.layout.scopes[scope]
        if info.owner is None:
            return self.state.status is RunStatus.RUNNING
        st = self.state.nodes.get(info.owner)
        if st is None or st.status is not NodeStatus.RUNNING:
            return False
        return info.branch not in st.completed and info.branch not in st.failed

    def _graph_done(self, scope: str) -> None:
        self._skip_unreached(scope)
        info = self.layout.scopes[scope]
        if info.owner is None:
            self.state.outputs = self._run_outputs()
            self.state.status = RunStatus.DONE
            return
        owner = self.layout.sites[info.owner].node
        st = self._change_node(info.owner)
        if isinstance(owner, LoopNode):
            st.previous = self._outputs_of(scope)
            st.iteration += 1
            self._next_iteration(info.owner)
            return
        assert isinstance(owner, ParallelNode)
        st.completed.append(info.branch)
        if len(st.completed) >= owner.needed():
            for branch in owner.branches:
                if branch.id not in st.completed and branch.id not in st.failed:
                    self._cancel_within(join_path(info.owner, branch.id))
            branches = {b: self._outputs_of(join_path(info.owner, b)) for b in st.completed}
            self._complete(info.owner, {"branches": branches, "completed": list(st.completed)})

    def _run_outputs(self) -> dict[str, Any]:
        variables = self._variables("")
        values: dict[str, Any] = {}
        for spec in self.definition.outputs:
            try:
                values[spec.name] = spec.value.evaluate(variables)
            except EvaluationFault as fault:
                raise self._explained(fault, "").named(field=f"outputs.{spec.name}") from fault
        return values

    def _outputs_of(self, scope: str) -> dict[str, dict[str, Any]]:
        return {
            site.node.id: st.outputs
            for site in self.layout.in_scope(scope)
            if (st := self.state.nodes.get(site.path)) is not None and st.status is NodeStatus.DONE
        }

    def _skip_unreached(self, scope: str) -> None:
        for site in self.layout.in_scope(scope):
            if site.path not in self.state.nodes:
                self._put(site.path, NodeState(NodeStatus.SKIPPED))

    def _cancel_within(self, scope: str) -> None:
        """Stop everything active in a graph and the graphs inside it."""
        active = [
            path
            for path, st in self.state.nodes.items()
            if st.status in ACTIVE and scope in self.layout.chain(self.layout.sites[path].scope)
        ]
        for path in active:
            st = self._change_node(path)
            if st.status is NodeStatus.READY:
                st.status = NodeStatus.SKIPPED
                continue
            if not isinstance(self.layout.sites[path].node, CONTAINERS):
                self._cancelled.append(self._task(path))
            st.status = NodeStatus.CANCELLED
        self._skip_unreached(scope)

    # -- helpers --------------------------------------------------------------------------------------

    def _tasks(self) -> Iterator[tuple[str, NodeState]]:
        for path, st in self.state.nodes.items():
            if not isinstance(self.layout.sites[path].node, CONTAINERS):
                yield path, st

    def _task(self, path: str) -> Task:
        node = self.layout.sites[path].node
        return Task(path, self._instance(path), node, thread_of(node))

    def _instance(self, path: str) -> str:
        """The path with each enclosing loop's current iteration: `fix[2]/check` (once the loop is
        done, the iteration its body last ran)."""
        parts = path.split("/")
        out: list[str] = []
        for i, part in enumerate(parts):
            prefix = "/".join(parts[: i + 1])
            out.append(part)
            site = self.layout.sites.get(prefix)
            if i < len(parts) - 1 and site is not None and isinstance(site.node, LoopNode):
                st = self.state.nodes[prefix]
                last = st.iteration - 1 if st.status is NodeStatus.DONE and st.iteration > 0 else st.iteration
                out[-1] += f"[{last}]"
        return "/".join(out)

    def _variables(self, scope: str, *, loop: str | None = None) -> dict[str, Any]:
        """What expressions evaluated in `scope` see; `loop` (for a `while`) overrides which loop
        `iter` describes."""
        nodes: dict[str, Any] = {}
        for s in self.layout.chain(scope):
            nodes.update(self._outputs_of(s))
        variables: dict[str, Any] = {
            "inputs": self.state.inputs,
            "nodes": nodes,
            "chat": dataclasses.asdict(self.state.chat),
        }
        loop = loop or self.layout.loop_of(scope)
        if loop is not None:
            st = self.state.nodes[loop]
            variables["iter"] = {"iteration": st.iteration, "previous": st.previous}
        return variables

    def _explained(self, fault: EvaluationFault, scope: str) -> EvaluationFault:
        """The fault, saying why when the name with no value is a node of the graph that has no
        outputs (skipped, not reached, still running, failed): a run pauses on a reference to a node
        whose branch was not taken, and "misspelled" would send its author looking in vain."""
        ref = next((r for r in scan(fault.expression.source)[0] if r.path[:2] == ("nodes", fault.missing)), None)
        site = next(
            (s for sc in self.layout.chain(scope) for s in self.layout.in_scope(sc) if s.node.id == fault.missing),
            None,
        )
        if not fault.missing or ref is None or site is None:
            return fault
        st = self.state.nodes.get(site.path)
        status = st.status if st is not None else NodeStatus.WAITING
        why = {
            NodeStatus.SKIPPED: "was skipped (its branch was not taken)",
            NodeStatus.WAITING: "has not run (its branch was not taken, or it comes later)",
            NodeStatus.READY: "has not finished yet",
            NodeStatus.RUNNING: "has not finished yet",
            NodeStatus.FAILED: "failed",
            NodeStatus.CANCELLED: "was cancelled",
        }.get(status)
        if why is None:
            return fault
        message = (
            f"node `{fault.missing}` {why}, so `{dotted(ref.path)}` has no value; guard it with "
            f'`has(nodes.{fault.missing})` (e.g. `has(nodes.{fault.missing}) ? {dotted(ref.path)} : ""`)'
        )
        return EvaluationFault(fault.expression, message, missing=fault.missing)

    def _check_running(self, task: Task) -> None:
        status = self.status(task.path)
        if status is not NodeStatus.RUNNING:
            raise TaskStateError(task.instance, status.value)
        if self._instance(task.path) != task.instance:
            raise TaskStateError(task.instance, f"of an earlier iteration; {self._instance(task.path)} runs now")

    def _checked_outputs(self, task: Task, outputs: dict[str, Any]) -> dict[str, Any]:
        node = task.node
        if not _is_json(outputs):
            raise OutputsMismatch(task.instance, node.kind, "outputs must be JSON data (strings, numbers, lists, maps)")
        if isinstance(node, WorkflowNode):
            return outputs
        expected = TASK_OUTPUTS[type(node)]
        if set(outputs) != set(expected):
            missing = sorted(set(expected) - set(outputs))
            extra = sorted(set(outputs) - set(expected))
            raise OutputsMismatch(
                task.instance,
                node.kind,
                f"outputs must be {', '.join(expected)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unexpected {', '.join(extra)}" if extra else ""),
            )
        for name, shape in expected.items():
            if not conforms(outputs[name], shape):
                raise OutputsMismatch(
                    task.instance, node.kind, f"{name}: {describe(outputs[name])} is not the right type"
                )
        response = node.response if isinstance(node, CallLlmNode) else None
        if response is not None and not conforms(outputs["response"], schema_shape(response)):
            raise OutputsMismatch(task.instance, node.kind, "response does not match the node's response schema")
        if isinstance(node, ApprovalNode) and outputs["choice"] not in node.choices:
            raise OutputsMismatch(
                task.instance, node.kind, f"choice {outputs['choice']!r} is not one of {', '.join(node.choices)}"
            )
        return {k: plain(v) for k, v in outputs.items()}


def thread_of(node: Node) -> str:
    """The thread a node works on: the one it names, else main. (A workflow node's `thread` is how
    its child's thread relates to the caller's, which is main.)"""
    thread = getattr(node, "thread", MAIN_THREAD)
    return thread if isinstance(thread, str) and not isinstance(node, WorkflowNode) else MAIN_THREAD


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False
