"""Tool calls as they travel from a worker to a daemon and back."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ToolStatus(enum.StrEnum):
    OK = "ok"
    ERROR = "error"  # the tool ran and failed (bad input, non-zero exit is still OK + exit code)
    INTERRUPTED = "interrupted"  # outcome unknown: the daemon died or the call was cancelled
    UNKNOWN = "unknown"  # answer to a resume-only request: the daemon has no record of this call
    RUNNING = "running"  # answer to a request with `wait`: still running after that long; ask again


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool_call_id: str
    tool: str
    input: dict[str, Any] = field(default_factory=dict)
    chat_id: str = ""
    workspace: str = ""
    timeout: float = 0.0  # seconds; 0 means the tool's default
    # Attach to this call if the daemon is running it or remembers its result; never start it.
    resume_only: bool = False
    # Seconds the daemon may hold the request before answering RUNNING (0: until the call ends).
    # Short waits keep each request short, so one lost with a gateway is noticed and sent again.
    wait: float = 0.0


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_call_id: str
    status: ToolStatus
    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    duration_ms: float = 0.0
    # True when the daemon answered from its memory of a call it already ran (or is running).
    replayed: bool = False
    # The daemon run (boot id) that answered: an UNKNOWN from the run the call was sent to means
    # the call never reached it; from another run, that the daemon restarted meanwhile.
    boot_id: str = ""
