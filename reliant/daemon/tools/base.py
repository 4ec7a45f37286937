"""What every daemon tool is: a name, a JSON schema for its input, and an async run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Where a tool call runs."""

    daemon_id: str
    workspace: Path | None
    chat_id: str = ""
    tool_call_id: str = ""
    timeout: float = 0.0


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool's answer. Failures the model should see (bad path, no match) set `error`."""

    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[ToolContext, dict[str, Any]], Awaitable[ToolOutput]]
    read_only: bool = False
    needs_workspace: bool = True
