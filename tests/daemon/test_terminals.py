"""Terminals through the real gateway and NATS: vim edits and saves a file, a Python REPL answers,
resize reaches the program, a re-attach replays the scrollback, limits and closing."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.bus import Bus, Incoming, subjects
from reliant.config import Settings
from reliant.daemon.events import unframe
from reliant.daemon.role import DaemonRole
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
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
        daemon_workspaces=(workspace,),
        heartbeat_interval=0.2,
        heartbeat_timeout=2.0,
    )


class Screen:
    """The terminal's output as it arrives on NATS, in offset order."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.exit: dict[str, Any] | None = None

    async def on_output(self, msg: Incoming) -> None:
        offset, chunk = unframe(msg.data)
        if offset + len(chunk) > len(self.data):  # skip what we already have
            self.data += chunk[len(self.data) - offset :]

    async def on_exit(self, msg: Incoming) -> None:
        self.exit = json.loads(msg.data)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@pytest.fixture
async def daemon(settings: Settings) -> AsyncIterator[tuple[Bus, DaemonRole]]:
    bus = await Bus.connect(settings.nats_url, settings.nats_token)
    role = DaemonRole(settings)
    async with RoleRunner(GatewayRole(settings)), RoleRunner(role):
        yield bus, role
    await bus.close()


async def ctl(bus: Bus, daemon_id: str, name: str, **body: Any) -> Any:
    reply = await bus.request(subjects.daemon_ctl(daemon_id, name), json.dumps(body).encode(), timeout=10)
    return reply.json()


async def open_terminal(bus: Bus, daemon_id: str, workspace: Path, **extra: Any) -> tuple[str, Screen]:
    opened = await ctl(bus, daemon_id, "term.open", workspace=str(workspace), cols=100, rows=30, **extra)
    assert opened["ok"], opened
    terminal_id = opened["terminal"]["id"]
    screen = Screen()
    await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal_id}.output"), screen.on_output)
    await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal_id}.exit"), screen.on_exit)
    # Catch up on what was written before we subscribed.
    attached = await ctl(bus, daemon_id, "term.attach", id=terminal_id)
    await screen.on_output(_Frame(attached["offset"], base64.b64decode(attached["data"])))
    return terminal_id, screen


class _Frame:
    def __init__(self, offset: int, data: bytes) -> None:
        from reliant.daemon.events import frame

        self.data = frame(offset, data)


async def typed(bus: Bus, daemon_id: str, terminal_id: str, text: str) -> None:
    answer = await ctl(bus, daemon_id, "term.input", id=terminal_id, data=base64.b64encode(text.encode()).decode())
    assert answer == {"ok": True}


async def test_vim_edits_and_saves_a_file_through_the_terminal(
    daemon: tuple[Bus, DaemonRole], settings: Settings, workspace: Path
) -> None:
    bus, _ = daemon
    d = settings.daemon_id
    terminal_id, screen = await open_terminal(bus, d, workspace, command=["bash", "--norc", "--noprofile", "-i"])
    await typed(bus, d, terminal_id, "PS1='prompt> '; echo ready-$((6*7))\r")
    await eventually(lambda: "ready-42" in screen.text)
    await typed(bus, d, terminal_id, "tty; pwd\r")
    await eventually(lambda: "/dev/pts/" in screen.text and str(workspace) in screen.text)

    await typed(bus, d, terminal_id, "vim -u NONE -N -n notes.txt\r")
    await eventually(lambda: '"notes.txt" [New' in screen.text, timeout=15)  # vim drew its screen
    mark = len(screen.data)
    for keys in ("i", "hello from vim", "\x1b", ":wq", "\r"):
        await typed(bus, d, terminal_id, keys)
    await eventually(
        lambda: (workspace / "notes.txt").exists() and (workspace / "notes.txt").read_text() == "hello from vim\n"
    )
    await eventually(lambda: "written" in screen.text[mark:] and "prompt> " in screen.text[mark:])

    # Resize reaches the program (SIGWINCH / TIOCGWINSZ on the controlling terminal).
    resized = await ctl(bus, d, "term.resize", id=terminal_id, cols=132, rows=43)
    assert resized == {"ok": True}
    await typed(bus, d, terminal_id, "stty size\r")
    await eventually(lambda: "43 132" in screen.text)

    # A REPL works too.
    await typed(bus, d, terminal_id, "python3 -q\r")
    await eventually(lambda: ">>> " in screen.text)
    await typed(bus, d, terminal_id, "6 * 7 + 1\r")
    await eventually(lambda: "43\r\n>>> " in screen.text)
    await typed(bus, d, terminal_id, "exit()\r")

    # A reload re-attaches: the scrollback has the session so far, then frames continue from `end`.
    again = await ctl(bus, d, "term.attach", id=terminal_id)
    assert again["offset"] == 0 and b"ready-42" in base64.b64decode(again["data"])
    assert again["end"] <= len(screen.data) + 4096

    listed = await ctl(bus, d, "term.list", workspace=str(workspace))
    assert [t["id"] for t in listed["terminals"]] == [terminal_id]
    pid = listed["terminals"][0]["pid"]
    await typed(bus, d, terminal_id, "exit 3\r")
    await eventually(lambda: screen.exit is not None)
    assert screen.exit == {"id": terminal_id, "exit_code": 3, "reason": "the shell exited"}
    assert not pid_alive(pid)
    gone = await ctl(bus, d, "term.attach", id=terminal_id)
    assert gone["ok"] is False and "is closed" in gone["error"]


async def test_limits_close_and_daemon_shutdown(settings: Settings, workspace: Path, tmp_path: Path) -> None:
    from reliant.daemon.terminals import Terminals

    terminals = Terminals(max_sessions=2)
    first = await terminals.open(workspace, 80, 24, ["bash", "--norc", "-i"])
    await terminals.open(workspace, 80, 24, ["bash", "--norc", "-i"])
    with pytest.raises(Exception, match="already runs 2 terminals"):
        await terminals.open(workspace, 80, 24)
    closed = await terminals.close(first.id)
    assert closed.exit_code is not None and not pid_alive(first.pid)
    third = await terminals.open(workspace, 80, 24, ["sh"])
    pids = terminals.pids()
    assert len(pids) == 2 and third.pid in pids
    await terminals.shutdown()
    await eventually(lambda: not any(pid_alive(p) for p in pids))
    with pytest.raises(Exception, match="command not found"):
        await Terminals().open(workspace, 80, 24, ["reliant-no-such-shell"])


async def test_idle_terminals_are_closed(workspace: Path) -> None:
    from reliant.daemon.terminals import Terminals

    terminals = Terminals(idle_timeout=0.3)
    session = await terminals.open(workspace, 80, 24, ["sh"])
    await asyncio.wait_for(session.exited.wait(), 10)
    assert session.reason.startswith("idle for more than")
    await terminals.shutdown()
