"""The daemon's tools and control subjects through the real gateway and NATS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.bus import Bus, subjects
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.daemon.workspaces import WORKSPACES_FILE
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus
from reliant.gateway.role import GatewayRole
from reliant.wire.tools import decode_result, encode_call
from tests.conftest import Infra
from tests.daemon.conftest import read_pids
from tests.support import RoleRunner, eventually, pid_alive


@pytest.fixture
def settings(infra: Infra, tmp_path: Path, workspace: Path) -> Settings:
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_name="tools-daemon",
        daemon_workspaces=(workspace,),
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )


@pytest.fixture
async def bus(infra: Infra) -> AsyncIterator[Bus]:
    b = await Bus.connect(infra.nats_url, infra.nats_token)
    yield b
    await b.close()


async def _ctl(bus: Bus, daemon_id: str, name: str, body: dict[str, Any]) -> Any:
    reply = await bus.request(subjects.daemon_ctl(daemon_id, name), json.dumps(body).encode(), timeout=10)
    return reply.json()


async def _tool(bus: Bus, daemon_id: str, call: ToolCall) -> ToolResult:
    reply = await bus.request(subjects.daemon_tools(daemon_id), encode_call(call), timeout=30)
    return decode_result(reply.data)


async def _presence_workspaces(bus: Bus, daemon_id: str) -> list[str]:
    entries = await (await bus.presence()).entries("daemon.")
    return list(entries.get(f"daemon.{daemon_id}", {}).get("workspaces", []))


async def test_tools_workspaces_and_cancel_through_the_gateway(
    settings: Settings, bus: Bus, tmp_path: Path, workspace: Path
) -> None:
    daemon_id = settings.daemon_id
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        listed = await _ctl(bus, daemon_id, "tools.list", {"workspace": str(workspace)})
        assert listed["ok"] and listed["complete"]
        assert {t["name"]: t["read_only"] for t in listed["tools"]} == {
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

        project = tmp_path / "project"
        project.mkdir()
        added = await _ctl(bus, daemon_id, "workspace.add", {"path": str(project)})
        assert added == {"ok": True, "path": str(project.resolve())}
        await eventually(lambda: _announced(bus, daemon_id, str(project.resolve())))
        refused = await _ctl(bus, daemon_id, "workspace.add", {"path": str(tmp_path / "nope")})
        assert refused["ok"] is False and "no such directory" in refused["error"]
        stored = json.loads((settings.data_path / WORKSPACES_FILE).read_text())
        assert stored == {"workspaces": [str(project.resolve())]}

        shell = ToolCall("sh-1", "shell", {"command": "pwd; exit 4"}, chat_id="chat-g", workspace=str(project))
        result = await _tool(bus, daemon_id, shell)
        assert result.status is ToolStatus.OK
        assert result.output == f"{project.resolve()}\n[exit code 4]" and result.data["exit_code"] == 4
        replayed = await _tool(bus, daemon_id, shell)
        assert replayed.replayed and replayed.output == result.output

        long = ToolCall(
            "sh-2",
            "shell",
            {"command": "sleep 300 & echo $! > bg.pid; sleep 300"},
            chat_id="chat-g",
            workspace=str(project),
        )
        pending = asyncio.create_task(_tool(bus, daemon_id, long))
        (pid,) = await eventually(lambda: read_pids(project, "bg.pid"))
        cancelled = await _ctl(bus, daemon_id, "tool.cancel", {"chat_id": "chat-g", "tool_call_id": "sh-2"})
        assert cancelled == {"ok": True, "cancelled": True}
        interrupted = await pending
        assert interrupted.status is ToolStatus.INTERRUPTED
        await eventually(lambda: not pid_alive(pid))

    # A daemon started later knows the workspace it was given at run time.
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        listed = await _ctl(bus, daemon_id, "workspace.list", {})
        assert listed == {"workspaces": [str(workspace), str(project.resolve())]}
        assert str(project.resolve()) in await _presence_workspaces(bus, daemon_id)


async def _announced(bus: Bus, daemon_id: str, path: str) -> bool:
    return path in await _presence_workspaces(bus, daemon_id)


async def test_a_split_mode_daemon_with_workspace_roots_refuses_paths_outside_them(
    settings: Settings, bus: Bus, tmp_path: Path
) -> None:
    """`reliant daemon start --workspace ROOT` (a process of its own) works only inside its roots."""
    root, other_root, outside = tmp_path / "src", tmp_path / "more", tmp_path / "elsewhere"
    for path in (root / "app", other_root, outside, tmp_path / "src2"):
        path.mkdir(parents=True)
    token_file = tmp_path / "daemon_token"
    token_file.write_text("daemon-secret\n")
    args = [sys.executable, "-m", "reliant", "daemon", "start", "--gateway", settings.gateway_address]
    args += ["--token-file", str(token_file), "--data-dir", str(tmp_path / "daemon-data"), "--log-level", "warning"]
    env = {**os.environ, "RELIANT_DAEMON_ID": settings.daemon_id}

    refused = subprocess.run([*args, "--workspace", "/etc"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--workspace /etc cannot be used: /etc is a system directory" in refused.stderr

    proc = subprocess.Popen([*args, "--workspace", str(root), "--workspace", str(other_root)], env=env)
    try:
        async with RoleRunner(GatewayRole(settings)):

            async def online() -> Any:
                return await _ctl(bus, settings.daemon_id, "workspace.list", {})

            await eventually(online, timeout=30)
            added = await _ctl(bus, settings.daemon_id, "workspace.add", {"path": str(root / "app")})
            assert added == {"ok": True, "path": str((root / "app").resolve())}
            for path in (outside, tmp_path / "src2"):
                answer = await _ctl(bus, settings.daemon_id, "workspace.add", {"path": str(path)})
                assert answer["ok"] is False
                roots = f"{root.resolve()}, {other_root.resolve()}"
                assert f"outside the directories this daemon may work in ({roots})" in answer["error"]
            view = ToolCall("v-out", "view", {"path": "x"}, chat_id="c-roots", workspace=str(outside))
            assert "not registered" in (await _tool(bus, settings.daemon_id, view)).error
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
