"""Inputs and results of the agent loop's activities (node-shaped: each names its chat and step)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reliant.domain.workflows import ApprovalAnswer, ToolCallRef

# ApplicationError types the workflow tells apart.
DAEMON_OFFLINE = "DaemonOffline"
DAEMON_OFFLINE_REASON = "daemon offline"  # how a pause for it begins (resumed when the daemon is back)
RETRYABLE_LLM = "RetryableLlmError"
FATAL_LLM = "FatalLlmError"
CHAT_GONE = "ChatGone"
TURN_ABORTED = "TurnAborted"  # a cancelled turn's late attempt: its answer is dropped
# Postgres, NATS or Temporal could not be reached (details[0] names which): waited out, never a pause.
INFRA_UNAVAILABLE = "InfrastructureUnavailable"
# The attempt was running in a worker that died; a restarted worker failed it so that it is retried
# at once instead of after the heartbeat timeout.
WORKER_LOST = "WorkerLost"
# A tool's activity stopped without its result (worker shutdown, timeout) while the tool runs on:
# retried, the next attempt attaches to it.
TOOL_DETACHED = "ToolDetached"


@dataclass
class CallLlmInput:
    chat_id: str
    turn: int  # the idempotency key: a stored assistant message for (chat, turn) is never re-asked
    admit_message_id: str = ""  # a queued user message this turn answers
    idle_when_done: bool = True  # an answer without tool calls ends the chat's run
    mode: str = "auto"  # plan: offer read-only tools only, and ask for a plan


@dataclass
class CallLlmResult:
    message_id: str
    tool_calls: list[ToolCallRef] = field(default_factory=list)
    stop_reason: str = ""
    replayed: bool = False  # found stored: the provider was not called


@dataclass
class ExecuteToolInput:
    chat_id: str
    turn: int
    tool_call_id: str
    approval: ApprovalAnswer | None = None  # the user's approval, recorded as the call starts
    denial: str = ""  # set: do not run; tell the model this instead
    denial_status: str = "denied"  # the approval's status with a denial: denied | expired
    answers: list[str] | None = None  # ask_user: the user's answers are the result
    invalid: str = ""  # ask_user with malformed input: this error is the result


@dataclass
class ExecuteToolResult:
    tool_call_id: str
    state: str  # completed | failed | interrupted
    replayed: bool = False  # the recorded result of an earlier attempt


@dataclass
class RequestApprovalInput:
    chat_id: str
    turn: int
    tool_call_id: str


@dataclass
class RequestApprovalResult:
    allowed: bool  # a policy allows the call: no need to ask
    approval_id: str = ""


@dataclass
class RequestQuestionInput:
    chat_id: str
    turn: int
    tool_call_id: str


@dataclass
class RequestQuestionResult:
    question_id: str = ""
    invalid: str = ""  # the call's input is malformed: this is its result


@dataclass
class FinishTurnInput:
    chat_id: str
    status: str  # idle | paused | running
    reason: str = ""
    settle_tools: bool = False  # mark unfinished tool calls interrupted and give the model their results
    aborted_turn: int = 0  # an LLM turn whose partial answer is dropped (cancelled mid-stream)
