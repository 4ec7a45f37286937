"""The typed model of a workflow definition: parsed once from YAML (see `parse.py`), then read by the
validator and the run-state machine. Frozen dataclasses; every part knows where it came from.

A workflow is a graph of nodes joined by edges. `loop` and `parallel` nodes hold graphs of their own
(a loop's body, a parallel node's branches); every other kind is one step the interpreter executes.
Node ids are unique across the whole definition, so `nodes.<id>` always means one node.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reliant.engine.expressions import Expression, Template
from reliant.engine.problems import Position

MAIN_THREAD = "main"


class InputType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    MODEL = "model"  # a model spec, `<provider>:<model>` (e.g. `anthropic:claude-sonnet-4-5`)


class Join(enum.StrEnum):
    """When a `parallel` node is done: all branches, the first one, or `n` of them."""

    ALL = "all"
    ANY = "any"
    N = "n"


class ThreadMode(enum.StrEnum):
    """A child workflow's thread: the caller's, a copy of it that then diverges, or an empty one."""

    INHERIT = "inherit"
    FORK = "fork"
    NEW = "new"


MODES = ("auto", "manual", "plan")  # a tool gate's mode (reliant.domain.chat.ChatMode)
ROLES = ("user", "assistant")  # what save_message may append
WORKTREE_ACTIONS = ("merge", "keep", "remove")  # what a worktree node does with a run's worktree

NO_DEFAULT: Any = object()  # an input without a default is required

# An integer field takes a number or a template whose value is one (`"{{inputs.max_rounds}}"`).
IntValue = int | Template


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    type: InputType
    at: Position
    description: str = ""
    default: Any = NO_DEFAULT
    values: tuple[str, ...] = ()  # the choices of an enum

    @property
    def required(self) -> bool:
        return self.default is NO_DEFAULT


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """One of the run's outputs, evaluated when the run ends."""

    name: str
    value: Template
    at: Position


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Which tools a model may call: all, none, or those matching a name (glob) or carrying a tag."""

    all: bool = True
    names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    NONE: ClassVar[ToolFilter]

    def allows(self, name: str, tags: tuple[str, ...] | frozenset[str] = ()) -> bool:
        if self.all:
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.names) or any(t in self.tags for t in tags)


ToolFilter.NONE = ToolFilter(all=False)


@dataclass(frozen=True, slots=True)
class LlmSettings:
    """What a model call is made with. A node names a preset and overrides any of its fields; a field
    left empty everywhere falls to the chat (its model, its mode) or the provider's default."""

    preset: str = ""
    model: Template | None = None
    system: Template | None = None
    temperature: float | None = None
    tools: ToolFilter | None = None
    agents: bool | None = None  # an `agent` node: offer the agent tools (spawn_agent ...); unset: yes

    def over(self, base: LlmSettings) -> LlmSettings:
        """These settings, with `base` filling what is unset."""
        return LlmSettings(
            preset=self.preset or base.preset,
            model=self.model if self.model is not None else base.model,
            system=self.system if self.system is not None else base.system,
            temperature=self.temperature if self.temperature is not None else base.temperature,
            tools=self.tools if self.tools is not None else base.tools,
            agents=self.agents if self.agents is not None else base.agents,
        )


@dataclass(frozen=True, slots=True)
class Preset:
    """Named model settings (`presets:` in a workflow, `.reliant/presets/*.yaml`, or built in)."""

    name: str
    settings: LlmSettings
    at: Position
    description: str = ""


# -- the graph -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    to: tuple[str, ...]
    condition: Expression
    at: Position


@dataclass(frozen=True, slots=True)
class Edge:
    """Where a node's branch goes when it finishes: the first case whose condition holds, else the
    default; no match and no default ends the branch. `to` may name several nodes (they start together)."""

    source: str  # `from` in YAML
    cases: tuple[Case, ...]
    default: tuple[str, ...]
    at: Position

    def targets(self) -> Iterator[str]:
        for case in self.cases:
            yield from case.to
        yield from self.default


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes and the edges between them, entered at one or more nodes (which start together)."""

    entry: tuple[str, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    at: Position  # where its entry is given

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def edge_from(self, node_id: str) -> Edge | None:
        return next((e for e in self.edges if e.source == node_id), None)


# -- node kinds ------------------------------------------------------------------------------------
# Each kind's outputs (what `nodes.<id>.*` holds once it is done) are declared in `outputs.py`.


@dataclass(frozen=True, slots=True, kw_only=True)
class BaseNode:
    kind: ClassVar[str]
    id: str
    at: Position
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLlmNode(BaseNode):
    """One model call on the node's thread. `response` is a JSON Schema the model must fill (offered as
    a tool); its fields become the `response` output."""

    kind: ClassVar[str] = "call_llm"
    llm: LlmSettings = LlmSettings()
    prompt: Template | None = None  # appended as a user message before the call
    ephemeral: bool = False  # neither the prompt nor the answer is saved to the thread
    response: dict[str, Any] | None = None
    thread: str = MAIN_THREAD


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecuteToolsNode(BaseNode):
    """Runs the tool calls of the `call_llm` node `source` through the usual gates."""

    kind: ClassVar[str] = "execute_tools"
    source: str
    mode: Template | None = None  # auto | manual | plan; unset: the chat's mode
    thread: str = MAIN_THREAD


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentNode(BaseNode):
    """The agent loop as one node: call the model, run its tools, until it answers without tools."""

    kind: ClassVar[str] = "agent"
    llm: LlmSettings = LlmSettings()
    prompt: Template | None = None  # unset: the model answers the thread as it stands
    mode: Template | None = None
    max_turns: IntValue = 200
    thread: str = MAIN_THREAD


@dataclass(frozen=True, slots=True, kw_only=True)
class RunNode(BaseNode):
    """A shell command on the project's daemon, not through the model. A non-zero exit is an output."""

    kind: ClassVar[str] = "run"
    command: Template
    timeout_seconds: IntValue | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalNode(BaseNode):
    """Asks the user a question with choices and waits, durably, for the answer."""

    kind: ClassVar[str] = "approval"
    question: Template
    choices: tuple[str, ...] = ("approve", "reject")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopNode(BaseNode):
    """Runs `body` again and again while `while` holds (checked before each iteration), at most
    `max_iterations` times. Inside, `iter.iteration` counts from 0 and `iter.previous.<id>` holds the
    outputs of the previous iteration's nodes."""

    kind: ClassVar[str] = "loop"
    body: Graph
    max_iterations: IntValue
    condition: Expression | None = None  # `while` in YAML; unset: always


@dataclass(frozen=True, slots=True)
class Branch:
    id: str
    graph: Graph
    at: Position


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelNode(BaseNode):
    """Starts its branches together; done when the join is met (all, any, or `n` branches done)."""

    kind: ClassVar[str] = "parallel"
    branches: tuple[Branch, ...]
    join: Join = Join.ALL
    n: int = 0  # with join n

    def needed(self) -> int:
        """How many branches must finish for the join."""
        return {Join.ALL: len(self.branches), Join.ANY: 1, Join.N: self.n}[self.join]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowNode(BaseNode):
    """Runs another workflow as a child, with inputs; its outputs become this node's.

    With `count` or `worktree` it runs a set of children side by side instead, each an agent of the
    chat (its own thread, shown in the agent tree), each in its own git worktree when `worktree` is
    set; its outputs are then `runs` (one entry per child: outputs, worktree, diff) and `done`."""

    kind: ClassVar[str] = "workflow"
    workflow: str
    inputs: dict[str, Any] = field(default_factory=dict)  # values may be templates
    thread: ThreadMode | None = None  # unset: the child's own `thread`, else inherit (a set of runs: new)
    count: IntValue | None = None  # how many children run side by side
    worktree: bool = False  # each child works in a git worktree of its own, on a new branch
    models: tuple[Template, ...] = ()  # the children's models, one each in turn (a run's agent model)

    @property
    def fans_out(self) -> bool:
        return self.count is not None or self.worktree


@dataclass(frozen=True, slots=True, kw_only=True)
class WorktreeNode(BaseNode):
    """Merges, keeps or removes the worktrees of a `workflow` node's runs (`of`: a run, a list of
    them, or agent ids). A merge commits the run's work on its branch and merges that into the
    branch checked out in the workspace — never over a conflict, which is an output — and removes
    the worktree; each action is recorded, so a retried step never merges twice. A worktree with
    uncommitted changes is removed only with `force` (a run's work the workflow means to throw away):
    else it is kept, and the output says why — nothing a user changed there is deleted unasked."""

    kind: ClassVar[str] = "worktree"
    action: Template  # merge | keep | remove
    of: Template
    message: Template | None = None  # a merge's commit message
    force: bool = False  # remove: even a worktree with uncommitted changes (they are deleted)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactNode(BaseNode):
    """Summarises the thread when it holds more than `threshold` tokens, and goes on from the summary."""

    kind: ClassVar[str] = "compact"
    threshold: IntValue = 100_000
    model: Template | None = None  # the summarising model; unset: the chat's
    thread: str = MAIN_THREAD


@dataclass(frozen=True, slots=True, kw_only=True)
class SaveMessageNode(BaseNode):
    """Appends a message to a thread."""

    kind: ClassVar[str] = "save_message"
    content: Template
    role: str = "user"
    thread: str = MAIN_THREAD


Node = (
    CallLlmNode
    | ExecuteToolsNode
    | AgentNode
    | RunNode
    | ApprovalNode
    | LoopNode
    | ParallelNode
    | WorkflowNode
    | WorktreeNode
    | CompactNode
    | SaveMessageNode
)
NODE_KINDS: dict[str, type[Node]] = {
    k.kind: k
    for k in (
        CallLlmNode,
        ExecuteToolsNode,
        AgentNode,
        RunNode,
        ApprovalNode,
        LoopNode,
        ParallelNode,
        WorkflowNode,
        WorktreeNode,
        CompactNode,
        SaveMessageNode,
    )
}
CONTAINERS = (LoopNode, ParallelNode)  # the run-state machine drives these itself; never a task


def subgraphs(node: Node) -> list[tuple[str, Graph]]:
    """The graphs a node holds, each with its scope name: a loop's body (the loop's id), a parallel
    node's branches (`<id>/<branch>`)."""
    if isinstance(node, LoopNode):
        return [(node.id, node.body)]
    if isinstance(node, ParallelNode):
        return [(f"{node.id}/{b.id}", b.graph) for b in node.branches]
    return []


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    graph: Graph
    at: Position
    description: str = ""
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    thread: ThreadMode | None = None  # the thread it wants when another workflow runs it
    presets: dict[str, Preset] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.at.source

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def walk(self) -> Iterator[tuple[str, Node]]:
        """Every node with its scope ("" for the top graph), parents before children."""
        stack: list[tuple[str, Graph]] = [("", self.graph)]
        while stack:
            scope, graph = stack.pop(0)
            for node in graph.nodes:
                yield scope, node
                stack.extend((f"{scope}/{name}" if scope else name, g) for name, g in subgraphs(node))

    def calls(self) -> set[str]:
        """The workflows this one runs as children."""
        return {n.workflow for _, n in self.walk() if isinstance(n, WorkflowNode)}
