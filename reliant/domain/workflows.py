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


AGENT_WORKFLOW = "Agent"
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

ASK_USER_TOOL = "ask_user"  # answered by the user through the workflow, not by a daemon


def agent_workflow_id(chat_id: str) -> str:
    return f"chat-{chat_id}"


@dataclass
class ToolCallRef:
    tool_call_id: str
    tool_name: str
    read_only: bool


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
    tool_call_id: str
    decision: str  # approve | deny
    message: str = ""  # with a denial: what the model is told
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
    waiting_approvals: list[str] = field(default_factory=list)  # tool_call_ids
    waiting_questions: list[str] = field(default_factory=list)
