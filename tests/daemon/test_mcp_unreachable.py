"""HTTP MCP servers that stop answering: mid-handshake, or after being healthy. Whatever such a
server does, the daemon's answers (tools.list, the trust view, a shutdown) come within seconds and
its status says what happened; the server is real TCP on this machine (stalling_http_mcp.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.mcp.manager import LIST_WAIT, McpManager
from reliant.daemon.mcp.server import CLOSE_GRACE, HEALTH_TIMEOUT
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustState
from tests.daemon.servers.stalling_http_mcp import StallingMcpServer
from tests.daemon.test_mcp import call, status_of, trust, write_config
from tests.support import eventually

BOUND = 8.0  # what any answer here may take: a silent server once held them for minutes


@pytest.fixture
async def stalling() -> AsyncIterator[StallingMcpServer]:
    server = StallingMcpServer()
    await server.start()
    yield server
    await server.shutdown()


@pytest.fixture
async def daemon(
    tmp_path: Path, workspace: Path, stalling: StallingMcpServer
) -> AsyncIterator[tuple[ToolHost, McpManager]]:
    write_config(workspace / ".reliant" / "mcp.json", {"web": {"type": "http", "url": stalling.url}})
    trust(tmp_path / "data", workspace)
    manager = McpManager(tmp_path / "data", health_every=0.2)
    host = ToolHost("d-stall", BUILTIN_TOOLS, [workspace], provider=manager)
    yield host, manager
    await asyncio.wait_for(host.shutdown(), BOUND)


async def healthy(host: ToolHost, workspace: Path) -> None:
    assert (await call(host, workspace, "mcp__web__echo", "up", text="up")).output == "up"


async def within(seconds: float, work: Any) -> float:
    """Await `work`, failing after `seconds`; how long it took."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(work, seconds)
    return loop.time() - began


async def test_shutdown_does_not_wait_on_a_server_that_stopped_answering(
    daemon: tuple[ToolHost, McpManager], workspace: Path, stalling: StallingMcpServer
) -> None:
    host, _ = daemon
    await healthy(host, workspace)
    stalling.stall_all()

    took = await within(BOUND, host.shutdown())

    assert "DELETE" in stalling.seen  # the session's end was asked for, and not waited out
    assert took < CLOSE_GRACE + 2.0


async def test_shutdown_does_not_wait_on_a_server_that_stalled_mid_handshake(
    daemon: tuple[ToolHost, McpManager], workspace: Path, stalling: StallingMcpServer
) -> None:
    host, manager = daemon
    stalling.stall |= {"tools/list", "DELETE"}  # initialized (a session), then silent
    await manager.open(workspace)
    await eventually(lambda: "tools/list" in stalling.seen)

    took = await within(BOUND, host.shutdown())

    assert took < CLOSE_GRACE + 2.0


async def test_a_server_that_stops_answering_is_marked_unhealthy_and_its_tools_withdrawn(
    daemon: tuple[ToolHost, McpManager], workspace: Path, stalling: StallingMcpServer
) -> None:
    host, manager = daemon
    await healthy(host, workspace)
    stalling.stall_all()

    async def down() -> dict[str, Any] | None:
        info = await status_of(manager, workspace, "web")
        return info if info["status"] == "unhealthy" else None

    info = await eventually(down, timeout=HEALTH_TIMEOUT + BOUND)
    assert info["error"] == f"the server did not answer a health check within {HEALTH_TIMEOUT:g}s"
    tools, _ = await asyncio.wait_for(host.offered(str(workspace)), BOUND)
    assert not any(t.name.startswith("mcp__web__") for t in tools)


async def test_the_trust_view_and_tools_list_answer_while_a_silent_server_is_stopped(
    daemon: tuple[ToolHost, McpManager], workspace: Path, stalling: StallingMcpServer
) -> None:
    host, manager = daemon
    await healthy(host, workspace)
    stalling.stall_all()
    # The project's file changes: its trust must be renewed, and its server stops meanwhile.
    write_config(workspace / ".reliant" / "mcp.json", {"web": {"type": "http", "url": stalling.url, "timeout": 30}})

    view, (tools, _) = await asyncio.wait_for(
        asyncio.gather(manager.trust_view(workspace), host.offered(str(workspace))), BOUND
    )

    assert view.state is TrustState.CHANGED
    assert not any(t.name.startswith("mcp__web__") for t in tools)
    listed = await manager.controls(lambda _: workspace)["mcp.list"]({"workspace": str(workspace)})
    assert listed["servers"] == [] and [s["name"] for s in listed["untrusted"]] == ["web"]


async def test_a_server_enabled_over_its_file_holds_up_no_listing_while_it_cannot_connect(
    tmp_path: Path, workspace: Path, stalling: StallingMcpServer
) -> None:
    stalling.stall_all()  # a host that takes connections and never answers
    write_config(workspace / ".reliant" / "mcp.json", {"web": {"type": "http", "url": stalling.url, "disabled": True}})
    trust(tmp_path / "data", workspace)
    # The user enabled it (`reliant mcp enable web`) over the file's `disabled`.
    (tmp_path / "data" / "mcp-state.json").write_text(json.dumps({"enabled": {str(workspace): {"web": True}}}))
    manager = McpManager(tmp_path / "data")
    host = ToolHost("d-enabled", BUILTIN_TOOLS, [workspace], provider=manager)
    try:
        await within(LIST_WAIT + 2.0, host.offered(str(workspace)))
        # A trust view reads the files again; a listing asked meanwhile waits for it.
        await within(LIST_WAIT + 2.0, asyncio.gather(manager.trust_view(workspace), host.offered(str(workspace))))

        assert (await status_of(manager, workspace, "web"))["status"] in ("starting", "unhealthy")
    finally:
        await asyncio.wait_for(host.shutdown(), BOUND)


async def test_a_server_that_keeps_failing_to_connect_holds_up_only_the_first_listing(
    tmp_path: Path, workspace: Path, stalling: StallingMcpServer
) -> None:
    """Each reconnect of a server that takes connections and never answers lasts its whole startup
    timeout; a listing (one per model turn) asked meanwhile goes on without it at once."""
    stalling.stall_all()
    config = {"web": {"type": "http", "url": stalling.url, "startup_timeout": 2 * LIST_WAIT}}
    write_config(workspace / ".reliant" / "mcp.json", config)
    trust(tmp_path / "data", workspace)
    manager = McpManager(tmp_path / "data")
    host = ToolHost("d-retrying", BUILTIN_TOOLS, [workspace], provider=manager)
    try:
        first = await within(LIST_WAIT + 2.0, host.offered(str(workspace)))
        assert first >= LIST_WAIT - 0.5  # a first start is waited for, a little

        async def status_is(wanted: str) -> bool:
            return bool((await status_of(manager, workspace, "web"))["status"] == wanted)

        await eventually(lambda: status_is("unhealthy"), timeout=2 * LIST_WAIT + 5.0)
        await eventually(lambda: status_is("starting"), timeout=5.0)  # it reconnects (after 1 s)
        began = asyncio.get_running_loop().time()
        tools, complete = await asyncio.wait_for(host.offered(str(workspace)), LIST_WAIT + 2.0)
        took = asyncio.get_running_loop().time() - began
        assert took < 1.0, f"a listing waited {took:.1f}s on a reconnect"
        assert complete and not any(t.name.startswith("mcp__web__") for t in tools)
    finally:
        await asyncio.wait_for(host.shutdown(), BOUND)
