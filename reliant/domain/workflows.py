"""Inputs and results of the workflows the api starts and the worker runs (Temporal payloads)."""

from __future__ import annotations

from dataclasses import dataclass, field

DOCTOR_WORKFLOW = "Doctor"


@dataclass
class DoctorInput:
    daemon_ids: list[str]
    timeout_seconds: float = 5.0


@dataclass
class DaemonPing:
    daemon_id: str
    ok: bool = False
    error: str = ""
    schedule_to_start_ms: float = 0.0
    activity_rtt_ms: float = 0.0
    gateway_ms: float = 0.0
    tool_ms: float = 0.0


@dataclass
class DoctorResult:
    pings: list[DaemonPing] = field(default_factory=list)


AGENT_WORKFLOW = "Agent"  # the agent loop written in code: chats started before workflows ran them
CHAT_WORKFLOW = "Chat"  # a chat: each message runs the chat's workflow definition
RUN_WORKFLOW = "WorkflowRun"  # a child run: a `workflow` node runs another definition
SIGNAL_USER_MESSAGE = "user_message"
SIGNAL_CANCEL = "cancel"
SIGNAL_RESUME = "resume"
SIGNAL_PAUSE = "pause"
SIGNAL_SET_MODE = "set_mode"
SIGNAL_INTERRUPT = "interrupt"
UPDATE_ANSWER_APPROVAL = "answer_approval"
UPDATE_ANSWER_QUESTION = "answer_question"
QUERY_STATE = "state"
# Runs that carry this patch marker take cancel, pause and resume only with the chat id as argument.
SEALED_CONTROL_PATCH = "sealed-control-signals"
# Bookkeeping steps (a run's opening and end, an agent tool's records) run as local activities;
# histories recorded before ran them as activities, and replay so.
LOCAL_STEPS_PATCH = "local-bookkeeping-steps"
# An Agent run that carries this marker handed its chat over to the Chat workflow when it took its
# next message (continue-as-new into the new type): its chat runs definitions from then on.
HANDOVER_PATCH = "hand-over-to-chat-workflow"

ASK_USER_TOOL = "ask_user"  # answered by the user through the workflow, not by a daemon


def agent_workflow_id(chat_id: str) -> str:
    """The id of a chat's workflow (Agent for chats from before workflows, Chat for the others)."""
    return f"chat-{chat_id}"


def run_workflow_id(chat_id: str, run_id: str) -> str:
    """The id of a child run's workflow."""
    return f"chat-{chat_id}-run-{run_id}"


def node_gate_key(step: str) -> str:
    """The gate key of an `approval` node's question (an approval's tool_call_id)."""
    return f"node:{step}"


@dataclass
class ToolCallRef:
    tool_call_id: str  # the call's key (db/tool_runs.py): the model's id on the chat's main thread
    tool_name: str
    read_only: bool
    # The call's arguments were not a JSON object (domain/tools.py invalid_arguments): this error is
    # its result; nothing of it runs and no one is asked about it.
    invalid: str = ""


@dataclass
class AgentState:
    """Everything an agent run carries across continue-as-new."""

    turn: int = 0  # LLM calls made in this chat so far: the (chat, turn) idempotency key
    queue: list[str] = field(default_factory=list)  # user message ids waiting their turn
    active: str = ""  # the user message being answered
    admitted: bool = False  # the active message has entered the transcript
    turns_used: int = 0  # LLM calls spent on the active message
    turn_open: bool = False  # `turn` has been started and has no stored answer yet
    pending_tools: list[ToolCallRef] = field(default_factory=list)  # of the last answer, not yet run
    mode: str = "auto"  # auto | manual | plan (reliant.domain.chat.ChatMode)
    paused: bool = False  # paused by the user: waits before its next step


@dataclass
class AgentInput:
    chat_id: str
    max_turns: int = 200
    state: AgentState | None = None
    approval_timeout_seconds: float = 0.0  # > 0: a pending approval is denied after this long
    history_limit: int = 4_000  # events: continue as new long before Temporal's 10k warning


@dataclass
class ApprovalAnswer:
    tool_call_id: str  # the gate's key (an approval's tool_call_id)
    decision: str  # approve | deny; for a node approval: one of its choices
    message: str = ""  # with a denial: what the model is told; with a node approval's choice: the note
    scope: str = ""  # approve only: "" (this call), chat, project or prefix (shell commands)
    command_prefix: str = ""  # with scope prefix


@dataclass
class QuestionAnswer:
    tool_call_id: str
    answers: list[str]


APPROVAL_DECISIONS = ("approve", "deny")
APPROVAL_SCOPES = ("", "chat", "project", "prefix")


@dataclass
class AgentStatus:
    active: str
    queue: list[str]
    turn: int
    paused: bool
    cancelling: bool
    mode: str = "auto"
    waiting_approvals: list[str] = field(default_factory=list)  # gate keys
    waiting_questions: list[str] = field(default_factory=list)
    run_id: str = ""  # the active message's run (Chat)


# -- chats that run workflow definitions (Chat) ----------------------------------------------------


@dataclass
class ChatState:
    """What a Chat run carries across continue-as-new (with the active message's run: the worker's
    ChatRunInput is ChatInput plus that)."""

    queue: list[str] = field(default_factory=list)  # user message ids waiting their turn
    active: str = ""  # the user message being answered
    mode: str = "auto"  # auto | manual | plan (reliant.domain.chat.ChatMode)
    paused: bool = False  # paused by the user: waits before its next step


@dataclass
class ChatInput:
    chat_id: str
    state: ChatState | None = None
    approval_timeout_seconds: float = 0.0  # > 0: a pending tool approval is denied after this long
    history_limit: int = 4_000  # events: continue as new long before Temporal's 10k warning
