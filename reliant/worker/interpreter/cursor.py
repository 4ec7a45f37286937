"""What a run of a definition carries across continue-as-new (Temporal payloads): the pinned
definition, the run-state machine's state, and the progress of the nodes that were running."""

# No `from __future__ import annotations`: Temporal's data converter resolves these dataclasses'
# field types, and string annotations fail to resolve inside the workflow sandbox.

from dataclasses import dataclass, field
from typing import Any

from reliant.domain.workflows import ChatState, ToolCallRef
from reliant.engine import Pinned, RunState


@dataclass
class NodeNote:
    """A node's state for clients: the payload of a `node_state` update (update_kinds.py). `version`
    counts the run's notes, so a client keeps the newest when two arrive out of order."""

    run_id: str
    path: str
    instance: str
    kind: str
    status: str  # waiting | running | done | failed | skipped | cancelled
    iteration: int = 0
    thread: str = ""
    error: str = ""
    version: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)  # done: its outputs, the small ones (_noted)


@dataclass
class AgentScope:
    """Which agent a run works for: the chat's top agent ("" id, depth 0) or a sub-agent, with what
    its spawn gave it (a model, instructions, a worktree). A `workflow` node's run inherits it."""

    agent_id: str = ""
    depth: int = 0
    parent_workflow_id: str = ""  # the workflow that spawned the agent
    # Tell the spawner when the agent ends, whatever: its spawners from before this field always
    # asked. Today's hold the handle and ask only once they continue as new (agents.report_end).
    report_end: bool = True
    model: str = ""  # "" the chat's
    system: str = ""  # added to every node's instructions (a preset's)
    workspace: str = ""  # its git worktree; "" the chat's workspace


@dataclass
class LlmAnswer:
    """What a `call_llm` node's answer leaves for an `execute_tools` node: its tool calls, and where."""

    thread_id: str
    turn: int
    tool_calls: list[ToolCallRef] = field(default_factory=list)


@dataclass
class TaskCursor:
    """A running node's progress: after continue-as-new it picks up where it was."""

    calls: int = 0  # model calls made (each under its own step key)
    pending: list[ToolCallRef] = field(default_factory=list)  # the last answer's calls still to run
    turn: int = 0  # the last answer's turn
    thread_id: str = ""  # an ephemeral call's own thread
    text: str = ""  # the last answer's text (capped)
    message_id: str = ""
    attempt: int = 0  # a `workflow` node: child runs started (a failed one is retried as a new run)
    child_run_id: str = ""
    # tool calls run so far by how they ended: executed (completed or failed), denied, interrupted
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class RunCursor:
    """A run as it goes on."""

    run_id: str
    pinned: Pinned
    state: RunState
    workflow: str = ""
    source: str = ""
    thread_id: str = ""  # the run's main thread
    threads: dict[str, str] = field(default_factory=dict)  # the run's other threads, by name
    tasks: dict[str, TaskCursor] = field(default_factory=dict)  # by node instance
    answers: dict[str, LlmAnswer] = field(default_factory=dict)  # call_llm nodes' answers, by path
    notes: list[NodeNote] = field(default_factory=list)  # node states not sent yet
    shown: dict[str, str] = field(default_factory=dict)  # path -> "status instance" last noted
    version: int = 0
    notice: str = ""  # what the chat's status says once the run ends (e.g. max_turns reached)
    agents: list[str] = field(default_factory=list)  # sub-agents it spawned that may still run
    # Its main thread holds only what its opening put there (OpenRunResult.fresh_tokens) until a
    # node other than `compact` starts: -1 from then on.
    fresh_tokens: int = -1


@dataclass
class ChatRunInput:
    """The Chat workflow's input: reliant.domain.workflows.ChatInput (what the api starts it with,
    field for field) and the active message's run when it continues as new."""

    chat_id: str
    state: ChatState | None = None
    approval_timeout_seconds: float = 0.0
    history_limit: int = 4_000
    run: RunCursor | None = None


@dataclass
class ChildRunInput:
    """A `workflow` node's child: another definition, run on a thread of the caller's chat."""

    chat_id: str
    run_id: str
    parent_run_id: str
    node: str  # the parent's node instance
    workflow: str
    inputs: dict[str, Any] = field(default_factory=dict)
    thread_mode: str = ""  # inherit | fork | new; "" the child definition's own (else inherit)
    parent_thread_id: str = ""
    mode: str = "auto"
    paused: bool = False
    cursor: RunCursor | None = None  # continued as new
    approval_timeout_seconds: float = 0.0
    history_limit: int = 4_000
    scope: AgentScope = field(default_factory=AgentScope)  # the agent it works for (a sub-agent's own run: its id)
    task: str = ""  # a sub-agent's run: its task, the first message on its thread


@dataclass
class ChildRunResult:
    status: str  # done | failed | cancelled
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
