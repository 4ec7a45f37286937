"""What every daemon tool is: a name, a JSON schema for its input, and an async run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reliant.daemon.tools.reads import ReadTracker
from reliant.domain.chat import ToolDefinition
from reliant.errors import ReliantError

if TYPE_CHECKING:
    from reliant.daemon.processes import BackgroundProcesses


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Where a tool call runs, and the daemon state the file tools share."""

    daemon_id: str
    workspace: Path | None
    chat_id: str = ""
    tool_call_id: str = ""
    timeout: float = 0.0
    # The host passes its own; a context built alone gets an empty one (nothing counts as read).
    reads: ReadTracker = field(default_factory=ReadTracker)
    # The host's background processes (shell's run_in_background and the shell_* tools).
    processes: BackgroundProcesses | None = None
    # Why a project workflow's step may not run in a workspace now ("" when it may; workflow_files.py).
    project_refusal: Callable[[Path], Awaitable[str]] | None = None

    def require_workspace(self) -> Path:
        if self.workspace is None:
            raise ToolFailure("this tool needs a workspace, and the call has none")
        return self.workspace


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A tool's answer. Failures the model should see (bad path, no match) set `error`."""

    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class ToolFailure(ReliantError):
    """A tool cannot do what it was asked. The host turns it into an error result for the model;
    it never leaves the daemon as an exception."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        self.message = message
        self.data = data or {}
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[ToolContext, dict[str, Any]], Awaitable[ToolOutput]]
    read_only: bool = False
    needs_workspace: bool = True
    # False for diagnostics (ping): callable, but never offered to the model.
    offered: bool = True


class ToolProvider(Protocol):
    """Tools that come and go at run time (MCP servers), per workspace."""

    async def definitions(self, workspace: Path) -> tuple[list[ToolDefinition], bool]:
        """The tools offered in `workspace`, and False if some may still appear (still starting)."""
        ...

    async def open(self, workspace: Path) -> object:
        """Get the workspace's tools ready (start its MCP servers) without waiting for them."""
        ...

    async def close(self, workspace: Path) -> None:
        """Stop what runs for a workspace the daemon no longer serves."""
        ...

    async def resolve(self, name: str, workspace: Path | None) -> ToolSpec | None:
        """The tool called `name` in `workspace`, or None if this provider has no such tool."""
        ...

    async def shutdown(self) -> None: ...
