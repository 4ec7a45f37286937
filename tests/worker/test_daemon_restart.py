"""A real daemon process (`reliant daemon start`) behind a real gateway: its background processes are
recorded in Postgres by the worker's recorder; killed with SIGKILL and started again, the processes
it ran are marked lost and its terminals are reported closed; stopped with SIGTERM, it leaves no
child process behind (background processes, terminals, MCP servers: counted)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
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
from reliant.db import Database
from reliant.db import processes as processes_db
from reliant.domain.tools import ToolCall, ToolStatus
from reliant.gateway.role import GatewayRole
from reliant.wire.tools import decode_result, encode_call
from reliant.worker.recorder import ProcessRecorder
from tests.conftest import Infra
from tests.daemon.conftest import processes_in_groups
from tests.support import RoleRunner, eventually, pid_alive

ROOT = Path(__file__).resolve().parents[2]
TEST_SERVER = ROOT / "tests" / "daemon" / "servers" / "reliant_test_mcp.py"


class DaemonProcess:
    """`reliant daemon start` as a child process of the test."""

    def __init__(self, tmp: Path, gateway: str, workspace: Path, daemon_id: str) -> None:
        self.token_file = tmp / "daemon_token"
        self.token_file.write_text("daemon-secret\n")
        self.args = [
            sys.executable,
            "-m",
            "reliant",
            "daemon",
            "start",
            "--gateway",
            gateway,
            "--token-file",
            str(self.token_file),
            "--workspace",
            str(workspace),
            "--data-dir",
            str(tmp / "daemon-data"),
            "--log-level",
            "warning",
        ]
        self.env = {**os.environ, "RELIANT_DAEMON_ID": daemon_id, "RELIANT_HEARTBEAT_INTERVAL": "0.5"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, start_new_session=True)

    async def stop(self, sig: int) -> int:
        """Signal it and wait for it to exit, without blocking the event loop (the gateway the
        daemon talks to runs on it)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, 30)

    def kill_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
async def bus(infra: Infra) -> AsyncIterator[Bus]:
    b = await Bus.connect(infra.nats_url, infra.nats_token)
    yield b
    await b.close()


async def ctl(bus: Bus, daemon_id: str, name: str, **body: Any) -> Any:
    reply = await bus.request(subjects.daemon_ctl(daemon_id, name), json.dumps(body).encode(), timeout=15)
    return reply.json()


async def online(bus: Bus, daemon_id: str) -> bool:
    try:
        return "workspaces" in await ctl(bus, daemon_id, "workspace.list")
    except Exception:  # noqa: BLE001 - not connected yet
        return False


async def test_killed_daemon_processes_are_lost_terminals_closed_and_shutdown_leaves_nothing(
    infra: Infra, migrated_db: Database, bus: Bus, tmp_path: Path
) -> None:
    workspace = (tmp_path / "ws").resolve()
    (workspace / ".reliant").mkdir(parents=True)
    (workspace / ".reliant" / "mcp.json").write_text(
        json.dumps({"mcpServers": {"test": {"command": sys.executable, "args": [str(TEST_SERVER)]}}})
    )
    port = free_port()
    daemon_id = f"d-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path / "gw",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    recorder = ProcessRecorder(bus, migrated_db)
    await recorder.start()
    daemon = DaemonProcess(tmp_path, settings.gateway_address, workspace, daemon_id)
    try:
        async with RoleRunner(GatewayRole(settings)):
            daemon.start()
            await eventually(lambda: online(bus, daemon_id), timeout=30)

            async def background(command: str) -> dict[str, Any]:
                call = ToolCall(f"bg-{uuid.uuid4().hex[:6]}", "shell", {"command": command, "run_in_background": True})
                reply = await bus.request(
                    subjects.daemon_tools(daemon_id),
                    encode_call(
                        ToolCall(call.tool_call_id, "shell", call.input, chat_id="c1", workspace=str(workspace))
                    ),
                    timeout=30,
                )
                result = decode_result(reply.data)
                assert result.status is ToolStatus.OK, result
                return result.data

            started = await background("sleep 300")
            process_id, pgid = started["process_id"], started["pid"]

            async def recorded(state: str) -> bool:
                found = await processes_db.get(migrated_db, daemon_id, process_id)
                return found is not None and found.state == state

            await eventually(lambda: recorded("running"))
            terminal = (await ctl(bus, daemon_id, "term.open", workspace=str(workspace), command=["sh"]))["terminal"]
            assert pid_alive(terminal["pid"])

            # SIGKILL: the lifeline and the terminal hangup take everything down with the daemon.
            await daemon.stop(signal.SIGKILL)
            await eventually(lambda: processes_in_groups([pgid, terminal["pid"]]) == [], timeout=15)
            record = await processes_db.get(migrated_db, daemon_id, process_id)
            assert record is not None and record.state == "running"  # nobody has said otherwise yet

            daemon.start()
            await eventually(lambda: recorded("lost"), timeout=30)
            record = await processes_db.get(migrated_db, daemon_id, process_id)
            assert record is not None and record.finished_at > 0
            gone = await ctl(bus, daemon_id, "term.attach", id=terminal["id"])
            assert gone["ok"] is False and "is closed" in gone["error"]
            assert (await ctl(bus, daemon_id, "term.list"))["terminals"] == []

            # The new run: a background process, a terminal and an MCP server; then SIGTERM.
            fresh = await background("sleep 301 & sleep 302")
            await eventually(lambda: recorded_any(migrated_db, daemon_id, fresh["process_id"], "running"))
            term = (await ctl(bus, daemon_id, "term.open", workspace=str(workspace), command=["sh"]))["terminal"]
            trust = (await ctl(bus, daemon_id, "trust.get", workspace=str(workspace)))["trust"]
            await ctl(bus, daemon_id, "trust.grant", workspace=str(workspace), fingerprint=trust["fingerprint"])

            async def healthy_servers() -> list[dict[str, Any]]:
                listed = (await ctl(bus, daemon_id, "mcp.list", workspace=str(workspace)))["servers"]
                return listed if listed and listed[0]["status"] == "healthy" else []

            servers = await eventually(healthy_servers, timeout=30)  # trusting starts them
            groups = [fresh["pid"], term["pid"], servers[0]["pid"]]
            assert len(processes_in_groups(groups)) >= 7  # wrappers, watchdogs, sleeps, sh, the server
            assert await daemon.stop(signal.SIGTERM) == 0
            await eventually(lambda: processes_in_groups(groups) == [], timeout=5)
            await eventually(lambda: recorded_any(migrated_db, daemon_id, fresh["process_id"], "killed"))
    finally:
        daemon.kill_if_running()
        await recorder.shutdown()


async def recorded_any(db: Database, daemon_id: str, process_id: str, state: str) -> bool:
    found = await processes_db.get(db, daemon_id, process_id)
    return found is not None and found.state == state


async def test_files_a_chat_has_read_survive_a_daemon_restart(infra: Infra, bus: Bus, tmp_path: Path) -> None:
    workspace = (tmp_path / "ws").resolve()
    workspace.mkdir()
    (workspace / "notes.txt").write_text("one\n")
    (workspace / "other.txt").write_text("a\n")
    port = free_port()
    daemon_id = f"d-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path / "gw",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    daemon = DaemonProcess(tmp_path, settings.gateway_address, workspace, daemon_id)

    async def tool(chat: str, name: str, **args: Any) -> Any:
        call = ToolCall(f"t-{uuid.uuid4().hex[:6]}", name, args, chat_id=chat, workspace=str(workspace))
        reply = await bus.request(subjects.daemon_tools(daemon_id), encode_call(call), timeout=30)
        return decode_result(reply.data)

    try:
        async with RoleRunner(GatewayRole(settings)):
            daemon.start()
            await eventually(lambda: online(bus, daemon_id), timeout=30)
            assert (await tool("c1", "view", path="notes.txt")).status is ToolStatus.OK
            assert (await tool("c1", "view", path="other.txt")).status is ToolStatus.OK

            await daemon.stop(signal.SIGKILL)
            (workspace / "other.txt").write_text("changed behind the chat's back\n")
            daemon.start()
            await eventually(lambda: online(bus, daemon_id), timeout=30)

            edited = await tool("c1", "edit", path="notes.txt", old_string="one", new_string="two")
            assert edited.status is ToolStatus.OK, edited.error
            assert (workspace / "notes.txt").read_text() == "two\n"
            stale = await tool("c1", "edit", path="other.txt", old_string="changed", new_string="x")
            assert stale.status is ToolStatus.ERROR and "changed" in stale.error, "still checked against the read"
            unread = await tool("c2", "edit", path="notes.txt", old_string="two", new_string="three")
            assert unread.status is ToolStatus.ERROR and "has not been read in this chat" in unread.error
    finally:
        daemon.kill_if_running()
