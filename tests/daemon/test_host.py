"""ToolHost: input validation, execution memory (exactly once), cancel, limits, workspaces."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.tools import BUILTIN_TOOLS, ToolContext, ToolHost, ToolOutput, ToolSpec
from reliant.daemon.tools.memory import ExecutionMemory
from reliant.daemon.workspaces import WorkspaceError
from reliant.domain.tools import ToolCall, ToolStatus
from tests.daemon.conftest import Run, read_pids
from tests.support import eventually, pid_alive


@pytest.mark.parametrize(
    ("tool", "args", "problem"),
    [
        ("view", {}, "input: 'path' is a required property"),
        ("view", {"path": 5}, "path: 5 is not of type 'string'"),
        ("view", {"path": "a", "offset": 0}, "offset: 0 is less than the minimum of 1"),
        ("view", {"path": "a", "lines": 3}, "Additional properties are not allowed ('lines' was unexpected)"),
        ("write", {"path": "a"}, "'content' is a required property"),
        ("edit", {"path": "a", "old_string": "", "new_string": "b"}, "old_string: '' should be non-empty"),
        ("edit", {"path": "a", "old_string": "a", "new_string": "b", "replace_all": "yes"}, "replace_all"),
        ("glob", {"path": "."}, "'pattern' is a required property"),
        ("grep", {"pattern": ["x"]}, "pattern: ['x'] is not of type 'string'"),
        ("shell", {"command": "true", "timeout": "10"}, "timeout: '10' is not of type 'number'"),
        ("shell", {}, "'command' is a required property"),
    ],
)
async def test_schema_violations_come_back_as_tool_errors(
    run: Run, tool: str, args: dict[str, Any], problem: str
) -> None:
    result = await run(tool, **args)
    assert result.status is ToolStatus.ERROR
    assert result.error.startswith(f"invalid input for {tool}: ") and problem in result.error


async def test_unknown_tools_unregistered_workspaces_and_crashing_tools_are_results(host: ToolHost) -> None:
    unknown = await host.execute(ToolCall("u1", "rm_rf", {}))
    assert unknown.status is ToolStatus.ERROR and "unknown tool 'rm_rf'; available: edit, glob" in unknown.error
    elsewhere = await host.execute(ToolCall("u2", "view", {"path": "a"}, workspace="/etc"))
    assert elsewhere.status is ToolStatus.ERROR and "workspace /etc is not registered" in elsewhere.error

    async def crash(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
        raise RuntimeError("boom")

    host.tools["crash"] = ToolSpec("crash", "crashes", {"type": "object"}, crash, needs_workspace=False)
    crashed = await host.execute(ToolCall("u3", "crash"))
    assert crashed.status is ToolStatus.ERROR and crashed.error == "crash failed: RuntimeError: boom"


async def test_a_directory_inside_a_workspace_can_be_the_calls_workspace(host: ToolHost, workspace: Path) -> None:
    (workspace / "project").mkdir()
    inside = await host.execute(ToolCall("w1", "shell", {"command": "pwd"}, workspace=str(workspace / "project")))
    assert inside.output == f"{workspace / 'project'}\n"
    escape = await host.execute(ToolCall("w2", "view", {"path": "../x"}, workspace=str(workspace / "project")))
    assert escape.status is ToolStatus.ERROR and "outside the workspace" in escape.error


def test_definitions_offer_the_builtin_tools_but_not_ping(host: ToolHost) -> None:
    offered = {d.name: d.read_only for d in host.definitions()}
    assert offered == {
        "view": True,
        "write": False,
        "edit": False,
        "glob": True,
        "grep": True,
        "shell": False,
        "shell_output": True,
        "shell_wait": True,
        "shell_kill": False,
        "shell_list": True,
    }
    for d in host.definitions():
        assert len(d.description) > 80 and d.input_schema["type"] == "object"
    assert {t.name for t in BUILTIN_TOOLS} == {*offered, "ping", "run_command"}  # run_command: run nodes only


# -- execution memory -----------------------------------------------------------------------------

SLOW = "echo run >> runs.log; while [ ! -f go ]; do sleep 0.02; done; echo finished"


async def test_a_repeated_request_attaches_to_the_running_execution(host: ToolHost, workspace: Path) -> None:
    call = ToolCall("same", "shell", {"command": SLOW}, chat_id="c1")
    first = asyncio.create_task(host.execute(call))
    await eventually((workspace / "runs.log").exists)
    second = asyncio.create_task(host.execute(call))
    resumed = asyncio.create_task(host.execute(ToolCall("same", "shell", chat_id="c1", resume_only=True)))
    await eventually(lambda: len(host.memory.running()) == 1)
    (workspace / "go").touch()
    a, b, c = await asyncio.gather(first, second, resumed)
    assert a.output == b.output == c.output == "finished\n"
    assert (a.replayed, b.replayed, c.replayed) == (False, True, True)
    assert (workspace / "runs.log").read_text() == "run\n"


async def test_a_finished_call_is_replayed_not_run_again(host: ToolHost, workspace: Path) -> None:
    call = ToolCall("once", "shell", {"command": "echo run >> runs.log; echo done"}, chat_id="c1")
    first = await host.execute(call)
    again = await host.execute(call)
    resumed = await host.execute(ToolCall("once", "shell", chat_id="c1", resume_only=True))
    assert first.replayed is False and again.replayed is True and resumed.replayed is True
    assert first.output == again.output == resumed.output == "done\n"
    assert again.duration_ms == first.duration_ms
    assert (workspace / "runs.log").read_text() == "run\n"
    other_chat = await host.execute(ToolCall("once", "shell", {"command": "echo run >> runs.log"}, chat_id="c2"))
    assert other_chat.replayed is False and (workspace / "runs.log").read_text() == "run\nrun\n"
    reused = await host.execute(ToolCall("once", "view", {"path": "runs.log"}, chat_id="c1"))
    assert reused.status is ToolStatus.ERROR and "already used for shell" in reused.error


async def test_resume_only_for_an_unknown_call_runs_nothing(host: ToolHost, workspace: Path) -> None:
    result = await host.execute(
        ToolCall("never-seen", "shell", {"command": "touch ran"}, chat_id="c1", resume_only=True)
    )
    assert result.status is ToolStatus.UNKNOWN and result.tool_call_id == "never-seen"
    assert not (workspace / "ran").exists()
    assert len(host.memory) == 0


async def test_a_request_with_wait_answers_running_and_a_later_one_gets_the_result(
    host: ToolHost, workspace: Path
) -> None:
    call = ToolCall("polled", "shell", {"command": SLOW}, chat_id="c1", wait=0.05)
    first = await host.execute(call)
    assert (first.status, first.boot_id) == (ToolStatus.RUNNING, host.boot_id)
    assert len(host.memory.running()) == 1, "the call runs on"
    again = await host.execute(dataclasses.replace(call, resume_only=True))
    assert again.status is ToolStatus.RUNNING
    (workspace / "go").touch()
    done = await host.execute(dataclasses.replace(call, resume_only=True, wait=30))
    assert (done.status, done.output, done.replayed) == (ToolStatus.OK, "finished\n", True)
    assert (workspace / "runs.log").read_text() == "run\n"
    unknown = await host.execute(ToolCall("other", "shell", chat_id="c1", resume_only=True, wait=1))
    assert (unknown.status, unknown.boot_id) == (ToolStatus.UNKNOWN, host.boot_id), "names this daemon run"


async def test_a_caller_going_away_does_not_stop_the_execution(host: ToolHost, workspace: Path) -> None:
    call = ToolCall("orphan", "shell", {"command": SLOW}, chat_id="c1")
    caller = asyncio.create_task(host.execute(call))
    await eventually((workspace / "runs.log").exists)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    retry = asyncio.create_task(host.execute(call))
    (workspace / "go").touch()
    result = await retry
    assert result.status is ToolStatus.OK and result.output == "finished\n" and result.replayed
    assert (workspace / "runs.log").read_text() == "run\n"


async def test_cancel_kills_the_process_group_and_interrupts_the_call(host: ToolHost, workspace: Path) -> None:
    command = "sleep 300 & echo $! > bg.pid; echo $$ > sh.pid; sleep 300"
    call = ToolCall("long", "shell", {"command": command}, chat_id="c1")
    running = asyncio.create_task(host.execute(call))
    pids = await eventually(lambda: read_pids(workspace, "bg.pid", "sh.pid"))
    assert all(pid_alive(p) for p in pids)
    assert await host.cancel("c1", "long") is True
    result = await running
    assert result.status is ToolStatus.INTERRUPTED and result.error == "cancelled"
    await eventually(lambda: not any(pid_alive(p) for p in pids))
    replay = await host.execute(call)
    assert replay.status is ToolStatus.INTERRUPTED and replay.replayed
    assert await host.cancel("c1", "long") is False
    assert await host.cancel("c1", "no-such-call") is False


async def test_shutdown_interrupts_running_calls(workspace: Path) -> None:
    host = ToolHost("d", BUILTIN_TOOLS, [workspace])
    running = asyncio.create_task(host.execute(ToolCall("s", "shell", {"command": "echo x > started; sleep 300"})))
    await eventually((workspace / "started").exists)
    await host.shutdown()
    result = await running
    assert result.status is ToolStatus.INTERRUPTED and "shut down" in result.error


async def test_the_concurrency_limit_holds(workspace: Path) -> None:
    host = ToolHost("d", BUILTIN_TOOLS, [workspace], max_concurrent=2)
    # Each call counts the calls running beside it (itself included) while it sleeps a little.
    command = "mkdir running.$$ && ls -d running.* | wc -l >> seen; sleep 0.3; rmdir running.$$"
    results = await asyncio.gather(*(host.execute(ToolCall(f"c{i}", "shell", {"command": command})) for i in range(5)))
    assert all(r.data["exit_code"] == 0 for r in results)
    seen = [int(n) for n in (workspace / "seen").read_text().split()]
    assert len(seen) == 5 and max(seen) == 2
    await host.shutdown()


async def test_memory_is_bounded_by_entries_and_age(workspace: Path) -> None:
    now = [1000.0]
    memory = ExecutionMemory(max_entries=3, max_age=60.0, clock=lambda: now[0])
    host = ToolHost("d", BUILTIN_TOOLS, [workspace], memory=memory)
    for i in range(5):
        await host.execute(ToolCall(f"p{i}", "ping", {"echo": str(i)}))
    assert len(memory) == 3
    assert (await host.execute(ToolCall("p4", "ping"))).replayed is True
    assert (await host.execute(ToolCall("p0", "ping", resume_only=True))).status is ToolStatus.UNKNOWN
    now[0] += 61
    assert (await host.execute(ToolCall("p4", "ping", resume_only=True))).status is ToolStatus.UNKNOWN
    assert len(memory) == 0


# -- workspaces -----------------------------------------------------------------------------------


async def test_added_workspaces_are_persisted_and_loaded_again(tmp_path: Path, workspace: Path) -> None:
    state = tmp_path / "data" / "daemon-workspaces.json"
    second = tmp_path / "second"
    second.mkdir()
    host = ToolHost("d", BUILTIN_TOOLS, [workspace], workspace_file=state)
    host.start()
    assert host.add_workspace(str(tmp_path / "second" / ".." / "second")) == second.resolve()
    assert host.workspaces == [workspace, second.resolve()]
    assert json.loads(state.read_text()) == {"workspaces": [str(second.resolve())]}
    result = await host.execute(ToolCall("x", "shell", {"command": "pwd"}, workspace=str(second)))
    assert result.output == f"{second.resolve()}\n"

    for bad, reason in (
        (tmp_path / "missing", "no such directory"),
        (state, "not a directory"),
        (Path("relative/dir"), "must be absolute"),
    ):
        with pytest.raises(WorkspaceError, match=reason):
            host.add_workspace(bad)

    restarted = ToolHost("d", BUILTIN_TOOLS, [workspace], workspace_file=state)
    assert restarted.workspaces == [workspace]
    restarted.start()
    assert restarted.workspaces == [workspace, second.resolve()]
    second.rmdir()
    gone = ToolHost("d", BUILTIN_TOOLS, [workspace], workspace_file=state)
    gone.start()
    assert gone.workspaces == [workspace]


async def test_a_large_value_of_the_wrong_kind_is_described_in_the_error_not_sent_back_whole(run: Run) -> None:
    """The model reads the error on every later call: a 300 KB value quoted whole in it (as the
    schema's own message does) would cost as much each time, and crowd out the conversation."""
    result = await run("shell", command=["x" * 300_000])

    assert result.status is ToolStatus.ERROR
    assert result.error == "invalid input for shell: command: a list of 1 item is not of type 'string'"
