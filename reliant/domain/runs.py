"""Runs of workflow definitions: one per message (the chat's workflow) and one per child workflow."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunOutcome(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PinnedText:
    """One file of a pinned definition, as the run started with it."""

    name: str
    source: str
    text: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    chat_id: str
    workflow: str
    source: str  # builtin/<name>.yaml, or the project file's path
    workflow_text: PinnedText
    presets: tuple[PinnedText, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    node: str = ""  # the parent's node instance that started it
    message_id: str | None = None  # the message it answers
    thread_id: str | None = None  # its main thread
    status: RunOutcome = RunOutcome.RUNNING
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    created_at: float = 0.0
    finished_at: float | None = None
