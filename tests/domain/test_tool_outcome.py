"""A tool run's outcome: the one word each client shows, for every way a call can end."""

from __future__ import annotations

import pytest

from reliant.domain.chat import ToolRun, ToolState
from reliant.domain.tool_outcome import ToolOutcome, tool_outcome
from reliant.wire.payloads import tool_run_payload


@pytest.mark.parametrize(
    ("state", "data", "error", "outcome"),
    [
        (ToolState.COMPLETED, {"exit_code": 0}, "", ToolOutcome.OK),
        (ToolState.COMPLETED, {}, "", ToolOutcome.OK),
        (ToolState.COMPLETED, {"exit_code": 1}, "", ToolOutcome.EXIT_NONZERO),
        (ToolState.COMPLETED, {"exit_code": 1.0}, "", ToolOutcome.EXIT_NONZERO),  # a number through JSON
        (ToolState.COMPLETED, {"exit_code": None}, "", ToolOutcome.OK),
        (ToolState.FAILED, {"exit_code": None, "timed_out": True}, "command timed out after 1s", ToolOutcome.TIMEOUT),
        (ToolState.FAILED, {}, "refused: /etc/passwd is outside the workspace /w", ToolOutcome.REFUSED),
        (ToolState.FAILED, {}, "refused: a.py has not been read in this chat", ToolOutcome.REFUSED),
        (ToolState.FAILED, {}, "no such file: a.py", ToolOutcome.ERROR),
        (ToolState.INTERRUPTED, {}, "cancelled by the user", ToolOutcome.CANCELLED),
        (ToolState.INTERRUPTED, {}, "cancelled on request", ToolOutcome.CANCELLED),
        (ToolState.INTERRUPTED, {}, "the daemon restarted while this tool was running", ToolOutcome.INTERRUPTED),
        (ToolState.DENIED, {}, "The user denied this tool call.", ToolOutcome.DENIED),
        (ToolState.PENDING, {}, "", ToolOutcome.ERROR),
    ],
)
def test_every_way_a_call_ends_has_its_outcome(
    state: ToolState, data: dict[str, object], error: str, outcome: ToolOutcome
) -> None:
    assert tool_outcome(state, data, error) is outcome


def test_the_tool_finished_payload_carries_the_outcome() -> None:
    run = ToolRun("call_1", "shell", ToolState.COMPLETED, read_only=False, attempts=1, data={"exit_code": 2})
    payload = tool_run_payload(run)
    assert payload["status"] == "ok" and payload["outcome"] == "exit_nonzero"
