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
