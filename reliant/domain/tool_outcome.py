"""What happened to a tool call, in one word a client can show at a glance.

A tool run's state says whether it ran (completed), failed, never finished (interrupted) or never
ran (denied); the outcome tells apart what a user must see differently: a command that exited
non-zero still *completed* (its exit code is data for the model), a path outside the workspace is a
refusal, a command killed at its deadline timed out, and a call stopped by the user was cancelled.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from reliant.domain.chat import ToolState

# The reasons a call stopped by the user ends with: the turn's (for its unfinished calls and the
# running one) and the daemon's (it kills the running call at once when asked).
CANCELLED_BY_USER = "cancelled by the user"
CANCEL_REASONS = frozenset({CANCELLED_BY_USER, "cancelled on request", "cancelled"})
# Every refusal of the daemon's safety rules (paths outside the workspace, files not read first…)
# starts with this word.
REFUSED_PREFIX = "refused"


class ToolOutcome(enum.StrEnum):
    OK = "ok"
    EXIT_NONZERO = "exit_nonzero"  # a command ran and exited with a code other than 0
    REFUSED = "refused"  # the daemon would not do it (a path outside the workspace, a stale file)
    TIMEOUT = "timeout"  # killed at its deadline
    INTERRUPTED = "interrupted"  # its outcome is unknown (the daemon died while it ran)
    DENIED = "denied"  # never ran: the user, or the chat's mode, said no
    CANCELLED = "cancelled"  # stopped by the user
    ERROR = "error"  # the tool failed otherwise


def tool_outcome(state: ToolState, data: Mapping[str, Any] | None, error: str) -> ToolOutcome:
    """The outcome of a finished tool run (a run still pending or executing has none: ERROR)."""
    data = data or {}
    if state is ToolState.COMPLETED:
        exit_code = data.get("exit_code")
        if isinstance(exit_code, int | float) and not isinstance(exit_code, bool) and exit_code != 0:
            return ToolOutcome.EXIT_NONZERO
        return ToolOutcome.OK
    if state is ToolState.DENIED:
        return ToolOutcome.DENIED
    if state is ToolState.INTERRUPTED:
        return ToolOutcome.CANCELLED if error.strip() in CANCEL_REASONS else ToolOutcome.INTERRUPTED
    if state is ToolState.FAILED:
        if data.get("timed_out") is True:
            return ToolOutcome.TIMEOUT
        if error.lstrip().lower().startswith(REFUSED_PREFIX):
            return ToolOutcome.REFUSED
    return ToolOutcome.ERROR
