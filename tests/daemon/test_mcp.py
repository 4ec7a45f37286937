"""MCP servers on the daemon: layered config, real servers (ours and a published one), crashes,
missing commands, restarts, enable/disable, HTTP transport and no orphans after shutdown."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.daemon.mcp import config as mcp_config
from reliant.daemon.mcp.manager import McpManager
from reliant.daemon.mcp.server import exposed_name
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustStore, snapshot
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus
from tests.daemon.conftest import processes_in_groups
from tests.support import eventually, pid_alive

TEST_SERVER = str(Path(__file__).parent / "servers" / "reliant_test_mcp.py")
LEGACY_SERVER = str(Path(__file__).parent / "servers" / "legacy_mcp.py")


def group_sizes(pgids: list[int]) -> dict[int, int]:
    return {g: len(processes_in_groups([g])) for g in pgids}


def write_config(path: Path, servers: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}))


def trust(data: Path, workspace: Path) -> None:
    """Trust the workspace's MCP configuration as it is now (what the user does before its servers run)."""
    TrustStore(data).grant(workspace, snapshot(workspace).fingerprint)


def ours(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [TEST_SERVER], **extra}


def time_server() -> dict[str, Any]:
    """mcp-server-time, the reference server published on PyPI (a dev dependency)."""
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


# -- configuration --------------------------------------------------------------------------------


def test_config_layers_later_files_win_and_variables_expand(tmp_path: Path) -> None:
    data, project = tmp_path / "data", tmp_path / "project"
    write_config(
        data / "mcp.json",
        {
            "shared": {"command": "shared-server", "args": ["--from", "global"]},
            "team": {"command": "team-server"},
        },
    )
    write_config(
        project / ".reliant" / "mcp.json",
        {
            "shared": {"command": "${TOOLS_DIR:-/opt/tools}/server", "args": ["--token", "${TOKEN}"], "cwd": "sub"},
            "remote": {"type": "http", "url": "https://${HOST:-example.test}/mcp", "headers": {"X-Key": "${TOKEN}"}},
            "broken": {"command": "x", "args": ["${UNSET_VARIABLE_FOR_TEST}"]},
            "bad name!": {"command": "x"},
        },
    )
    write_config(project / ".reliant" / "mcp.local.json", {"team": {"disabled": True}})
    loaded = mcp_config.load(data / "mcp.json", project, env={"TOKEN": "t0k"})
    shared, team, remote, broken = (loaded.servers[n] for n in ("shared", "team", "remote", "broken"))
    assert (shared.command, shared.args, shared.cwd) == ("/opt/tools/server", ("--token", "t0k"), str(project / "sub"))
    assert team.command == "team-server" and team.disabled
    assert (remote.transport, remote.url, dict(remote.headers)) == (
        "http",
        "https://example.test/mcp",
        {"X-Key": "t0k"},
    )
    assert "UNSET_VARIABLE_FOR_TEST is not set" in broken.error
    assert any("bad name!" in e for e in loaded.errors)
    assert loaded.files == tuple(
        str(p) for p in (data / "mcp.json", project / ".reliant/mcp.json", project / ".reliant/mcp.local.json")
    )


def test_names_offered_to_models_are_safe() -> None:
    assert exposed_name("git", "status") == "mcp__git__status"
    assert exposed_name("s", "weird.name/tool") == "mcp__s__weird_name_tool"
    long = exposed_name("server", "x" * 100)
    assert len(long) == 64 and long.startswith("mcp__server__xxx")


# -- live servers ---------------------------------------------------------------------------------


@pytest.fixture
async def mcp_host(tmp_path: Path, workspace: Path) -> AsyncIterator[tuple[ToolHost, McpManager]]:
    data = tmp_path / "data"
    write_config(data / "mcp.json", {"time": time_server()})
    write_config(
        workspace / ".reliant" / "mcp.json",
        {
            "test": ours(env={"RELIANT_TEST_VALUE": "${MCP_TEST_UNSET:-from-config}"}),
            "missing": {"command": "reliant-no-such-command-xyz"},
        },
    )
    trust(data, workspace)
    manager = McpManager(data)
    host = ToolHost("d-mcp", BUILTIN_TOOLS, [workspace], provider=manager)
    yield host, manager
    await host.shutdown()


async def call(host: ToolHost, workspace: Path, tool: str, ident: str, **args: Any) -> ToolResult:
    return await host.execute(ToolCall(ident, tool, args, chat_id="c-mcp", workspace=str(workspace)))


async def status_of(manager: McpManager, workspace: Path, name: str) -> dict[str, Any]:
    listed = await manager.controls(lambda _: workspace)["mcp.list"]({"workspace": str(workspace)})
    return next(s for s in listed["servers"] if s["name"] == name)


async def test_servers_tools_reach_the_listing_with_schemas_and_run(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host

    async def all_settled() -> list[Any] | None:
        tools, complete = await host.offered(str(workspace))
        return tools if complete else None

    tools = {t.name: t for t in await eventually(all_settled, timeout=30)}
    assert {"view", "shell", "shell_output"} <= set(tools)
    assert tools["mcp__test__echo"].read_only is True
    assert tools["mcp__test__add"].read_only is False  # no readOnlyHint: mutating
    assert tools["mcp__test__add"].input_schema["properties"].keys() == {"a", "b"}
    assert "mcp__test__weird_name_tool" in tools
    assert "MCP server test" in tools["mcp__test__add"].description
    # The published reference server, from the global file.
    assert tools["mcp__time__get_current_time"].read_only is True
    assert "timezone" in tools["mcp__time__get_current_time"].input_schema["properties"]

    added = await call(host, workspace, "mcp__test__add", "m1", a=2, b=3)
    assert added.status is ToolStatus.OK and added.output == "5" and added.data["structured"] == {"result": 5}
    now = await call(host, workspace, "mcp__time__get_current_time", "m2", timezone="UTC")
    assert now.status is ToolStatus.OK and '"timezone":"UTC"' in now.output.replace(" ", "")
    env = await call(host, workspace, "mcp__test__env", "m3", name="RELIANT_TEST_VALUE")
    assert env.output == "from-config"
    weird = await call(host, workspace, "mcp__test__weird_name_tool", "m4")
    assert weird.output == "weird"

    refused = await call(host, workspace, "mcp__test__add", "m5", a="two", b=3)
    assert refused.status is ToolStatus.ERROR and refused.error.startswith("invalid input for mcp__test__add: a:")
    failed = await call(host, workspace, "mcp__test__fail", "m6", message="nope")
    assert failed.status is ToolStatus.ERROR and "fail" in failed.error
    unknown = await call(host, workspace, "mcp__test__nothing", "m7")
    assert unknown.status is ToolStatus.ERROR and "has no tool mcp__test__nothing" in unknown.error
    # Execution memory covers MCP tools too: the same id is answered, not re-run.
    again = await call(host, workspace, "mcp__test__add", "m1", a=2, b=3)
    assert again.replayed and again.output == "5"


async def test_a_missing_command_is_a_status_and_a_tool_error_not_a_crash(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host
    missing = await status_of(manager, workspace, "missing")
    assert missing["status"] == "unhealthy"
    assert missing["error"] == "command not found: reliant-no-such-command-xyz"
    result = await call(host, workspace, "mcp__missing__anything", "x1")
    assert result.status is ToolStatus.ERROR
    assert result.error == "MCP server missing is unhealthy: command not found: reliant-no-such-command-xyz"
    # The rest of the daemon carries on.
    assert (await call(host, workspace, "mcp__test__echo", "x2", text="fine")).output == "fine"


async def test_a_crash_mid_call_shows_unhealthy_then_a_restart_brings_it_back(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host
    assert (await call(host, workspace, "mcp__test__echo", "c1", text="up")).output == "up"
    before = await status_of(manager, workspace, "test")
    assert before["status"] == "healthy" and pid_alive(before["pid"])

    crashed = await call(host, workspace, "mcp__test__crash", "c2", code=3)
    assert crashed.status is ToolStatus.ERROR
    assert crashed.error.startswith("MCP server test stopped during the call to crash: the server exited with code 3")
    assert "crashing on purpose" in crashed.error
    after = await status_of(manager, workspace, "test")
    assert after["status"] == "unhealthy" and "exited with code 3" in after["error"]
    assert after["next_retry_unix"] > 0
    assert not pid_alive(before["pid"])

    restarted = await manager.controls(lambda _: workspace)["mcp.restart"](
        {"workspace": str(workspace), "name": "test"}
    )
    assert restarted["server"]["status"] == "healthy" and restarted["server"]["pid"] != before["pid"]
    assert (await call(host, workspace, "mcp__test__echo", "c3", text="back")).output == "back"


async def test_the_backoff_restarts_a_crashed_server_by_itself(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host
    await call(host, workspace, "mcp__test__crash", "b1")
    assert (await status_of(manager, workspace, "test"))["status"] == "unhealthy"

    async def healthy() -> bool:
        return (await status_of(manager, workspace, "test"))["status"] == "healthy"

    await eventually(healthy, timeout=15)
    assert (await call(host, workspace, "mcp__test__echo", "b2", text="again")).output == "again"


async def test_disable_and_enable_are_kept_and_change_the_tools(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path, tmp_path: Path
) -> None:
    host, manager = mcp_host
    controls = manager.controls(lambda _: workspace)
    await call(host, workspace, "mcp__test__echo", "d0", text="on")
    disabled = await controls["mcp.disable"]({"workspace": str(workspace), "name": "test"})
    assert disabled["server"]["status"] == "disabled" and disabled["server"]["pid"] == 0
    tools, _ = await host.offered(str(workspace))
    assert not any(t.name.startswith("mcp__test__") for t in tools)
    refused = await call(host, workspace, "mcp__test__echo", "d1", text="off")
    assert refused.status is ToolStatus.ERROR and "is disabled" in refused.error
    state = json.loads((tmp_path / "data" / "mcp-state.json").read_text())
    assert state == {"enabled": {str(workspace): {"test": False}}}

    # Another manager on the same data dir (a restarted daemon) keeps it disabled.
    other = McpManager(tmp_path / "data")
    try:
        assert (await status_of(other, workspace, "test"))["status"] == "disabled"
    finally:
        await other.shutdown()

    enabled = await controls["mcp.enable"]({"workspace": str(workspace), "name": "test"})
    assert enabled["server"]["status"] == "healthy"
    assert (await call(host, workspace, "mcp__test__echo", "d2", text="on again")).output == "on again"
    unknown = controls["mcp.restart"]({"workspace": str(workspace), "name": "nope"})
    with pytest.raises(Exception, match="no MCP server 'nope'"):
        await unknown


async def test_an_http_server_is_reached_over_streamable_http(tmp_path: Path, workspace: Path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, TEST_SERVER, "--http", str(port)], stderr=subprocess.DEVNULL)
    try:
        write_config(
            workspace / ".reliant" / "mcp.json",
            {
                "web": {
                    "type": "http",
                    "url": f"http://127.0.0.1:${{WEB_PORT:-{port}}}/mcp",
                    "headers": {"X-Test": "1", "Authorization": "Bearer ${WEB_TOKEN:-from-default}"},
                }
            },
        )
        trust(tmp_path / "data", workspace)
        manager = McpManager(tmp_path / "data")
        host = ToolHost("d-http", BUILTIN_TOOLS, [workspace], provider=manager)
        try:

            async def answered() -> ToolResult | None:
                result = await call(host, workspace, "mcp__web__add", f"h-{id(object())}", a=40, b=2)
                return result if result.status is ToolStatus.OK else None

            assert (await eventually(answered, timeout=20)).output == "42"
            # The configured headers, expanded, reach the server on its requests.
            sent = await call(host, workspace, "mcp__web__header", "h-header", name="X-Test")
            assert sent.output == "1"
            auth = await call(host, workspace, "mcp__web__header", "h-auth", name="Authorization")
            assert auth.output == "Bearer from-default"
            assert (await status_of(manager, workspace, "web"))["transport"] == "http"
        finally:
            await host.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_shutdown_leaves_no_server_or_child_process(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host
    spawned = await call(host, workspace, "mcp__test__spawn_child", "o1")
    child = int(spawned.output)
    servers = await eventually(lambda: len(manager.processes()) == 2 and manager.processes())
    # Each server runs in a process group of its own: the lifeline wrapper, its watchdog, the
    # server and (for ours) the child it spawned.
    counts = group_sizes(servers)
    assert all(n >= 3 for n in counts.values()) and sum(counts.values()) >= 7, counts
    assert pid_alive(child)
    await host.shutdown()
    await eventually(lambda: sum(group_sizes(servers).values()) == 0)
    assert not pid_alive(child) and manager.processes() == []


async def test_an_http_server_on_the_current_protocol_stays_up_across_health_checks(
    tmp_path: Path, workspace: Path
) -> None:
    # The 2026-07-28 revision removed `ping` (an mcp 2.3 server answers it with an error): health is
    # checked with tools/list, which every revision has.
    port = free_port()
    server = subprocess.Popen([sys.executable, TEST_SERVER, "--http", str(port)], stderr=subprocess.DEVNULL)
    try:
        write_config(
            workspace / ".reliant" / "mcp.json", {"web": {"type": "http", "url": f"http://127.0.0.1:{port}/mcp"}}
        )
        trust(tmp_path / "data", workspace)
        manager = McpManager(tmp_path / "data", health_every=0.2)
        host = ToolHost("d-health", BUILTIN_TOOLS, [workspace], provider=manager)
        try:

            async def answered() -> ToolResult | None:
                result = await call(host, workspace, "mcp__web__add", f"hc-{id(object())}", a=1, b=2)
                return result if result.status is ToolStatus.OK else None

            assert (await eventually(answered, timeout=20)).output == "3"
            first = await status_of(manager, workspace, "web")
            assert first["status"] == "healthy"
            loop = asyncio.get_running_loop()
            watch_until = loop.time() + 2.0  # ten health intervals
            while loop.time() < watch_until:
                now = await status_of(manager, workspace, "web")
                assert (now["status"], now["connected_unix"], now["restarts"]) == (
                    "healthy",
                    first["connected_unix"],
                    first["restarts"],
                )
                await asyncio.sleep(0.1)
            assert (await call(host, workspace, "mcp__web__echo", "hc-after", text="still")).output == "still"

            # The checks do run: a server that goes away is noticed by the next one.
            server.kill()
            server.wait(timeout=10)

            async def noticed() -> bool:
                return (await status_of(manager, workspace, "web"))["status"] == "unhealthy"

            await eventually(noticed, timeout=10)
        finally:
            await host.shutdown()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)


async def test_a_call_while_a_crashed_server_restarts_waits_for_the_restart(
    mcp_host: tuple[ToolHost, McpManager], workspace: Path
) -> None:
    host, manager = mcp_host
    assert (await call(host, workspace, "mcp__test__echo", "r1", text="up")).output == "up"
    await call(host, workspace, "mcp__test__crash", "r2")
    # down: marked unhealthy, or already starting again on a busy machine
    assert (await status_of(manager, workspace, "test"))["status"] in ("unhealthy", "starting")

    again = await call(host, workspace, "mcp__test__echo", "r3", text="after the restart")

    assert again.status is ToolStatus.OK, again.error
    assert again.output == "after the restart"
    assert (await status_of(manager, workspace, "test"))["status"] == "healthy"


async def test_a_call_to_a_server_that_cannot_restart_fails_once_the_restart_failed(
    tmp_path: Path, workspace: Path
) -> None:
    flag = tmp_path / "broken"
    crash_if_flagged = f"import os, sys; sys.exit(5) if os.path.exists({str(flag)!r}) else None"
    write_config(
        workspace / ".reliant" / "mcp.json",
        {
            "fragile": {
                "command": sys.executable,
                "args": ["-c", f"{crash_if_flagged}; exec(open({TEST_SERVER!r}).read())"],
            }
        },
    )
    trust(tmp_path / "data", workspace)
    manager = McpManager(tmp_path / "data")
    host = ToolHost("d-fragile", BUILTIN_TOOLS, [workspace], provider=manager)
    try:
        assert (await call(host, workspace, "mcp__fragile__echo", "f1", text="up")).output == "up"
        flag.touch()
        await call(host, workspace, "mcp__fragile__crash", "f2")
        loop = asyncio.get_running_loop()
        began = loop.time()

        failed = await call(host, workspace, "mcp__fragile__echo", "f3", text="never")

        assert failed.status is ToolStatus.ERROR
        assert failed.error.startswith("MCP server fragile is unhealthy: the server exited with code 5")
        assert loop.time() - began < 10  # the restart it waited for failed: no waiting out the bound
    finally:
        await host.shutdown()


async def test_tools_that_require_task_augmentation_are_not_offered(tmp_path: Path, workspace: Path) -> None:
    write_config(workspace / ".reliant" / "mcp.json", {"old": {"command": sys.executable, "args": [LEGACY_SERVER]}})
    trust(tmp_path / "data", workspace)
    manager = McpManager(tmp_path / "data")
    host = ToolHost("d-legacy", BUILTIN_TOOLS, [workspace], provider=manager)
    try:

        async def settled() -> list[Any] | None:
            tools, complete = await host.offered(str(workspace))
            return tools if complete else None

        names = {t.name for t in await eventually(settled, timeout=30)}
        assert {"mcp__old__echo", "mcp__old__maybe_task"} <= names
        assert "mcp__old__long_job" not in names  # our client cannot run it: it would fail every time
        assert (await call(host, workspace, "mcp__old__echo", "l1", text="hello")).output == "hello"
        assert (await status_of(manager, workspace, "old"))["status"] == "healthy"
        refused = await call(host, workspace, "mcp__old__long_job", "l2", text="x")
        assert refused.status is ToolStatus.ERROR and "has no tool mcp__old__long_job" in refused.error
    finally:
        await host.shutdown()
