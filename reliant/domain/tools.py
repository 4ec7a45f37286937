"""Tool calls as they travel from a worker to a daemon and back."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A tool call whose arguments were not a JSON object, in an answer that ended normally (a confused
# model, often a small local one), is kept with its raw arguments under this key alone: nothing of it
# runs, and its result tells the model what was wrong, so it can call the tool again.
INVALID_ARGUMENTS = "reliant:invalid_arguments"
INVALID_ARGUMENTS_KEPT = 2000  # characters of the raw arguments kept
INVALID_ARGUMENTS_SHOWN = 300  # characters of them quoted back to the model


def invalid_arguments(raw: str) -> dict[str, Any]:
    """The input stored for a call whose arguments (`raw`) are not a JSON object."""
    return {INVALID_ARGUMENTS: raw[:INVALID_ARGUMENTS_KEPT]}


def invalid_arguments_error(tool_name: str, tool_input: Mapping[str, Any]) -> str:
    """The error result of a call stored by `invalid_arguments` ("" for any other input)."""
    if len(tool_input) != 1 or not isinstance(raw := tool_input.get(INVALID_ARGUMENTS), str):
        return ""
    quoted = raw[:INVALID_ARGUMENTS_SHOWN] + ("…" if len(raw) > INVALID_ARGUMENTS_SHOWN else "")
    sent = json.dumps(quoted, ensure_ascii=False)
    return (
        f"the arguments of {tool_name} were not a JSON object: {sent}; nothing was run. "
        "Call it again with arguments that are one."
    )


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


# An ERROR result whose data carries REFUSED started nothing, for a reason the user settles, not the
# model: UNTRUSTED, a project workflow's step whose trusted files changed since the workflow was read
# (the daemon's workflow_files.py). The step waits for the user instead of failing; since nothing ran,
# a new request for the same call asks again.
REFUSED = "refused"
UNTRUSTED = "untrusted"


def refused_untrusted(result: ToolResult) -> bool:
    """Whether the daemon started nothing of the call because the project's files are not trusted now."""
    return result.status is ToolStatus.ERROR and result.data.get(REFUSED) == UNTRUSTED
