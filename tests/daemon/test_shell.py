"""shell: real bash, real process groups."""

from __future__ import annotations

import re
from pathlib import Path

from reliant.daemon.tools.shell import HEAD_BYTES, TAIL_BYTES, OutputCapture
from reliant.domain.tools import ToolStatus
from tests.daemon.conftest import Run
from tests.support import eventually, pid_alive


async def test_output_is_interleaved_and_runs_in_the_workspace(run: Run, workspace: Path) -> None:
    result = await run("shell", command="echo out; echo err >&2; echo out2; pwd")
    assert result.status is ToolStatus.OK
    assert result.output == f"out\nerr\nout2\n{workspace}\n"
    assert result.data == {"exit_code": 0, "timed_out": False, "output_bytes": len(result.output), "omitted_bytes": 0}


async def test_a_non_zero_exit_is_data_not_a_tool_error(run: Run) -> None:
    result = await run("shell", command="echo failing; exit 3")
    assert result.status is ToolStatus.OK and result.error == ""
    assert result.data["exit_code"] == 3
    assert result.output == "failing\n[exit code 3]"
    silent = await run("shell", command="false")
    assert silent.status is ToolStatus.OK and silent.data["exit_code"] == 1


async def test_environment_and_stdin(run: Run) -> None:
    env = await run("shell", command='echo "$TERM $PAGER $GIT_PAGER"')
    assert env.output == "dumb cat cat\n"
    # stdin is /dev/null: cat ends at once instead of waiting for input.
    stdin = await run("shell", command="cat; echo after", timeout=10)
    assert stdin.output == "after\n" and not stdin.data["timed_out"]


async def test_huge_output_keeps_head_and_tail(run: Run) -> None:
    result = await run("shell", command="seq 1 200000")
    assert result.status is ToolStatus.OK and result.data["exit_code"] == 0
    total = sum(len(f"{i}\n") for i in range(1, 200001))
    assert result.data["output_bytes"] == total
    assert result.data["omitted_bytes"] == total - HEAD_BYTES - TAIL_BYTES
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("199999\n200000\n")
    assert f"[… {total - HEAD_BYTES - TAIL_BYTES:,} bytes of output omitted …]" in result.output
    assert len(result.output) < HEAD_BYTES + TAIL_BYTES + 200


def test_capture_cuts_on_character_boundaries() -> None:
    capture = OutputCapture(head=4, tail=4)
    capture.feed("ééééé".encode())  # 10 bytes, 2 each
    text = capture.text()
    assert text.startswith("éé\n") and text.endswith("\néé")
    assert "\ufffd" not in text


async def test_a_timeout_kills_the_whole_process_group(run: Run) -> None:
    result = await run("shell", command="sleep 300 & echo $!; echo $$; sleep 300", timeout=1)
    assert result.status is ToolStatus.ERROR
    assert "timed out after 1s" in result.error
    assert result.data["timed_out"] is True and result.data["exit_code"] is None
    grandchild, child = map(int, re.findall(r"^\d+$", result.output, re.M))
    await eventually(lambda: not pid_alive(grandchild) and not pid_alive(child))


async def test_processes_left_in_the_background_are_stopped(run: Run) -> None:
    result = await run("shell", command="sleep 300 >/dev/null 2>&1 & echo $!")
    assert result.status is ToolStatus.OK and result.data["exit_code"] == 0
    assert "background processes left running by the command were stopped" in result.output
    pid = int(result.output.splitlines()[0])
    await eventually(lambda: not pid_alive(pid))


async def test_a_process_holding_the_output_outside_the_group_does_not_hang_the_call(run: Run) -> None:
    result = await run("shell", command="setsid sleep 3 & echo started", timeout=30)
    assert result.status is ToolStatus.OK and result.output.startswith("started\n")
    assert "stopped reading" in result.output


async def test_timeout_must_be_within_the_schema_limits(run: Run) -> None:
    too_long = await run("shell", command="true", timeout=601)
    assert too_long.status is ToolStatus.ERROR and "601 is greater than the maximum of 600" in too_long.error
    zero = await run("shell", command="true", timeout=0)
    assert zero.status is ToolStatus.ERROR and "invalid input for shell" in zero.error


async def test_the_command_does_not_inherit_the_daemons_lifeline(run: Run) -> None:
    from reliant.daemon.process_group import lifeline

    result = await run("shell", command=f"ls /proc/$$/fd; test -e /proc/$$/fd/{lifeline()} && echo LEAKED")
    assert result.status is ToolStatus.OK and "LEAKED" not in result.output
