"""Conversations as the LLM layer and the database see them. Frozen, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"  # tool results, sent back to the model after an assistant turn with tool calls


class BlockType(enum.StrEnum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    IMAGE = "image"


@dataclass(frozen=True, slots=True)
class ContentBlock:
    type: BlockType
    text: str = ""  # text, thinking, tool_result output; base64 data for an image
    tool_call_id: str = ""  # tool_call, tool_result
    tool_name: str = ""  # tool_call, tool_result
    tool_input: dict[str, Any] = field(default_factory=dict)  # tool_call
    is_error: bool = False  # tool_result
    signature: str = ""  # thinking (Anthropic's signature must be sent back verbatim)
    media_type: str = ""  # image; an attachment: text/plain for a file, inode/directory for a listing
    # A file the user attached with `@path` (a user message's text or image block): the path as
    # written. With is_error, the reference could not be attached and `text` says why.
    path: str = ""

    @staticmethod
    def of_text(text: str) -> ContentBlock:
        return ContentBlock(BlockType.TEXT, text=text)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    blocks: tuple[ContentBlock, ...]

    def text(self) -> str:
        return "".join(b.text for b in self.blocks if b.type is BlockType.TEXT)

    def tool_calls(self) -> tuple[ContentBlock, ...]:
        return tuple(b for b in self.blocks if b.type is BlockType.TOOL_CALL)


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool as offered to the model."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


class ChatStatus(enum.StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    WAITING = "waiting"  # for the user: an approval or a question
    PAUSED = "paused"
    FAILED = "failed"


class ChatMode(enum.StrEnum):
    AUTO = "auto"  # run every tool
    MANUAL = "manual"  # ask before each tool call that changes things
    PLAN = "plan"  # offer only read-only tools, and ask for a plan


class ToolState(enum.StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DENIED = "denied"  # never ran: the user (or the chat's mode) said no


FINAL_TOOL_STATES = frozenset({ToolState.COMPLETED, ToolState.FAILED, ToolState.INTERRUPTED, ToolState.DENIED})


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    daemon_id: str
    path: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ChatInfo:
    id: str
    project_id: str
    title: str
    model: str
    status: ChatStatus
    status_reason: str
    usage: Usage
    cost_usd: float
    last_seq: int
    created_at: float
    updated_at: float
    queued: int = 0
    mode: ChatMode = ChatMode.AUTO
    pending_gates: int = 0  # approvals and questions waiting for the user
    workflow: str = "agent"  # the workflow every message runs (built-in or the project's)
    workflow_inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What happened to one tool call (tool_executions)."""

    tool_call_id: str
    tool_name: str
    state: ToolState
    read_only: bool
    attempts: int
    output: str = ""
    error: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    input: dict[str, Any] = field(default_factory=dict)
    turn: int = 0
    daemon_boot: str = ""  # the daemon run the call was last sent to ("" if unknown)
    # What the run is known by: the tool_call_id on the chat's main thread, `<tool_call_id>@<thread>`
    # on another (models number calls per conversation), `run:<step>` for a workflow's `run` node.
    call_key: str = ""
    thread_id: str = ""

    @property
    def key(self) -> str:
        return self.call_key or self.tool_call_id


@dataclass(frozen=True, slots=True)
class Thread:
    """One conversation of a chat. A fork reads as its parent up to `fork_ordinal`, then its own
    messages; a compacted thread reads as its summary, then its messages from `start_ordinal` on."""

    id: str
    chat_id: str
    key: str  # MAIN_THREAD, or `<run id>/<name>`
    parent_id: str | None = None
    fork_ordinal: int | None = None
    start_ordinal: int | None = None
    summary_id: str | None = None  # a compacted thread's summary (a message)


MAIN_THREAD = "main"


# Stop reasons of an answer a limit cut short: the output limit, and (Claude 4.5 and later) the end
# of the model's context window. What was written before is kept; the user is told it stops short.
MAX_TOKENS = "max_tokens"
CONTEXT_WINDOW = "model_context_window_exceeded"


def cut_notice(stop_reason: str, output_limit: int = 0) -> str:
    """Why an answer stops short of what the model meant to write, in words ("": it is whole).
    `output_limit`: the max_tokens its call was made with (0: not known)."""
    if stop_reason == MAX_TOKENS:
        limit = f" {output_limit}" if output_limit > 0 else ""
        return f"the model reached its output limit (max_tokens{limit})"
    if stop_reason == CONTEXT_WINDOW:
        return f"the model reached the end of its context window ({CONTEXT_WINDOW})"
    return ""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    chat_id: str
    ordinal: int | None  # None while queued
    role: Role
    model: str
    blocks: tuple[ContentBlock, ...]
    usage: Usage
    cost_usd: float
    created_at: float
    turn: int | None = None
    aborted: bool = False  # the placeholder of a cancelled turn
    thread_id: str = ""
    step: str = ""  # the model call (or workflow node) that wrote it
    stop_reason: str = ""  # an answer's: how the model's call ended ("end_turn", "max_tokens"...)
    output_limit: int = 0  # an answer's: the max_tokens its call was made with (0: not known)

    def cut(self) -> str:
        """Why the answer stops short, in words ("": it is whole)."""
        return cut_notice(self.stop_reason, self.output_limit)

    def as_message(self) -> Message:
        return Message(self.role, self.blocks)

    def tool_calls_blocks(self) -> tuple[ContentBlock, ...]:
        return tuple(b for b in self.blocks if b.type is BlockType.TOOL_CALL)

    def text(self) -> str:
        return "".join(b.text for b in self.blocks if b.type is BlockType.TEXT)


@dataclass(frozen=True, slots=True)
class ChatUpdate:
    chat_id: str
    seq: int
    kind: str
    payload: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class AgentTag:
    """The sub-agent an approval or question comes from (the user answers it; it reaches that agent)."""

    id: str
    name: str
    task: str


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    chat_id: str
    tool_call_id: str
    turn: int
    tool_name: str
    input: dict[str, Any]
    status: str  # pending | approved | denied | expired | cancelled
    message: str
    scope: str
    created_at: float
    kind: str = "tool"  # tool: a tool call waits; node: an `approval` node asks `question`
    question: str = ""
    choices: tuple[str, ...] = ()
    choice: str = ""  # a node approval's answer
    workflow_id: str = ""  # the workflow that waits for the answer ("": the chat's own)
    run_id: str = ""
    node: str = ""  # the approval node's instance
    agent: AgentTag | None = None  # raised by a sub-agent: which one


# What lets one bash command line run more than the command it starts with, or write a file:
# `;`, `&`, `|` and new lines between commands, `$(...)` and backquotes, `<(...)` and `>(...)`,
# redirections.
_BEYOND_ONE_COMMAND = (";", "&", "|", "\n", "\r", "`", "$(", "<", ">")


def prefix_allows(prefix: str, command: str) -> bool:
    """Whether a policy that always allows the shell commands starting with `prefix` ("": every
    command) covers `command`: the prefix as a whole word, then arguments, and nothing that runs
    another command or writes a file (such a command line is asked about)."""
    if not prefix or command == prefix:
        return True
    return starts_with_words(prefix, command) and not any(sign in command for sign in _BEYOND_ONE_COMMAND)


def starts_with_words(prefix: str, command: str) -> bool:
    """Whether `command` starts with `prefix` as whole words (`git status` does not start
    `git statusx`)."""
    if not command.startswith(prefix):
        return False
    return len(command) == len(prefix) or prefix[-1:].isspace() or command[len(prefix)].isspace()


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    chat_id: str
    tool_call_id: str
    turn: int
    questions: list[dict[str, Any]]
    status: str  # pending | answered | cancelled
    answers: list[str]
    created_at: float
    workflow_id: str = ""  # the workflow that waits for the answer ("": the chat's own)
    agent: AgentTag | None = None  # asked by a sub-agent: which one
