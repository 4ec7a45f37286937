"""Interactive terminals: the user's shell on a real PTY in a workspace, streamed through the gateway.

The shell is spawned with posix_spawn (no Python between fork and exec, which gRPC's threads make
unsafe): `setsid` makes it a session leader and opening the PTY's slave by path then makes that
PTY its controlling terminal, so job control, Ctrl-C, SIGWINCH, vim, top, less and REPLs behave as
in any terminal emulator. The daemon keeps its own descriptor of the slave open for the session's
lifetime (reads never see a spurious EIO) and learns of the shell's exit from a pidfd. When the
daemon dies the master closes and the kernel hangs up the terminal (SIGHUP to the session).

Output keeps a bounded scrollback (SCROLLBACK bytes) addressed by byte offset, so a client that
(re)attaches gets the recent screen and then only newer bytes: no gap, no duplicate.

Control subjects (`ctl.term.*`, JSON):

- `term.open {workspace, cols, rows, command?: [argv]}` -> `{"ok", "terminal": info}`
- `term.list {workspace?}` -> `{"ok", "terminals": [info]}`
- `term.attach {id}` -> `{"ok", "terminal": info, "offset", "data": base64, "end"}` (scrollback
  from `offset` to `end`; live frames continue at `end`)
- `term.input {id, data: base64 | text: str}` -> `{"ok"}`; `term.resize {id, cols, rows}` -> `{"ok"}`
- `term.touch {id}` -> `{"ok"}` (a client is still looking: not idle)
- `term.close {id}` -> `{"ok", "terminal": info}` once the shell has exited

Events: `term.<id>.output` (binary frames, see events.py) and `term.<id>.exit`
(`{"id", "exit_code", "reason"}`). `info`: id, workspace, command, pid, cols, rows, state
(running | exited), exit_code, created_unix, last_active_unix, output_bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import signal
import struct
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliant.daemon.environment import child_environment
from reliant.daemon.events import EventSender, frame
from reliant.daemon.processes import OutputRing
from reliant.daemon.tools.base import ToolFailure

logger = logging.getLogger(__name__)

SCROLLBACK = 256 * 1024
MAX_SESSIONS = 16
IDLE_TIMEOUT = 3600.0
IDLE_CHECK = 30.0
READ_CHUNK = 64 * 1024
MAX_INPUT = 64 * 1024
CLOSE_GRACE = 2.0
MAX_COLS, MAX_ROWS = 1000, 500

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def _winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _size(body: dict[str, Any], default: tuple[int, int] = (80, 24)) -> tuple[int, int]:
    cols, rows = body.get("cols", default[0]), body.get("rows", default[1])
    if not isinstance(cols, int) or not isinstance(rows, int) or not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise ToolFailure(f"cols and rows must be integers within 1..{MAX_COLS} and 1..{MAX_ROWS}")
    return cols, rows


@dataclass(eq=False)
class TerminalSession:
    id: str
    workspace: str
    command: list[str]
    pid: int
    master: int
    slave: int
    cols: int
    rows: int
    created_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.monotonic)
    output: OutputRing = field(default_factory=lambda: OutputRing(SCROLLBACK))
    exit_code: int | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    pending_input: bytearray = field(default_factory=bytearray)
    pidfd: int = -1

    @property
    def running(self) -> bool:
        return not self.exited.is_set()

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace": self.workspace,
            "command": self.command,
            "pid": self.pid,
            "cols": self.cols,
            "rows": self.rows,
            "state": "running" if self.running else "exited",
            "exit_code": self.exit_code,
            "created_unix": self.created_at,
            "last_active_unix": time.time() - (time.monotonic() - self.last_active),
            "output_bytes": self.output.total,
        }


class Terminals:
    def __init__(
        self,
        events: EventSender | None = None,
        *,
        max_sessions: int = MAX_SESSIONS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.events = events if events is not None else EventSender()
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, TerminalSession] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._waiters: set[asyncio.Task[None]] = set()

    # -- sessions ---------------------------------------------------------------------------------

    def get(self, terminal_id: str) -> TerminalSession:
        session = self._sessions.get(terminal_id)
        if session is None:
            raise ToolFailure(f"terminal {terminal_id} is closed (or never existed on this daemon run)")
        return session

    def in_workspace(self, workspace: str = "") -> list[TerminalSession]:
        sessions = sorted(self._sessions.values(), key=lambda s: s.created_at)
        return [s for s in sessions if not workspace or s.workspace == workspace]

    def pids(self) -> list[int]:
        return [s.pid for s in self._sessions.values() if s.running]

    async def open(
        self, workspace: Path, cols: int = 80, rows: int = 24, command: list[str] | None = None
    ) -> TerminalSession:
        running = sum(s.running for s in self._sessions.values())
        if running >= self.max_sessions:
            raise ToolFailure(f"this daemon already runs {running} terminals (the limit); close one first")
        argv = command or [os.environ.get("SHELL") or "/bin/bash"]
        master, slave = os.openpty()
        try:
            _winsize(slave, cols, rows)
            os.set_blocking(master, False)
            env = child_environment({"TERM": "xterm-256color", "COLORTERM": "truecolor", "PWD": str(workspace)})
            env.pop("PAGER", None)
            terminal_id = f"t-{secrets.token_hex(6)}"
            env["RELIANT_TERMINAL"] = terminal_id
            pid = await asyncio.to_thread(self._spawn, argv, os.ttyname(slave), workspace, env)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        session = TerminalSession(terminal_id, str(workspace), argv, pid, master, slave, cols, rows)
        self._sessions[terminal_id] = session
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable, session)
        try:
            session.pidfd = os.pidfd_open(pid)
            loop.add_reader(session.pidfd, self._child_exited, session)
        except (AttributeError, OSError):
            waiter = loop.create_task(self._wait_child(session), name=f"terminal-wait:{terminal_id}")
            self._waiters.add(waiter)
            waiter.add_done_callback(self._waiters.discard)
        if self._reaper is None or self._reaper.done():
            self._reaper = loop.create_task(self._reap_idle(), name="terminal-idle")
        logger.info("terminal %s opened in %s (pid %d)", terminal_id, workspace, pid)
        return session

    @staticmethod
    def _spawn(argv: list[str], tty: str, workspace: Path, env: dict[str, str]) -> int:
        executable = argv[0]
        if "/" not in executable:
            import shutil

            found = shutil.which(executable, path=env.get("PATH"))
            if found is None:
                raise ToolFailure(f"command not found: {executable}")
            executable = found
        # posix_spawn has no chdir action before Python 3.13's POSIX_SPAWN_CHDIR isn't portable;
        # run through `cd` in a tiny sh, which then execs the shell in place.
        return os.posix_spawn(
            "/bin/sh",
            ["sh", "-c", 'cd "$1" && shift && exec "$@"', "reliant-term", str(workspace), executable, *argv[1:]],
            env,
            setsid=True,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, tty, os.O_RDWR, 0),
                (os.POSIX_SPAWN_DUP2, 0, 1),
                (os.POSIX_SPAWN_DUP2, 0, 2),
            ],
        )

    def write(self, terminal_id: str, data: bytes) -> None:
        session = self.get(terminal_id)
        if not session.running:
            raise ToolFailure(f"terminal {terminal_id} has exited")
        session.last_active = time.monotonic()
        if session.pending_input:
            session.pending_input += data
            return
        try:
            written = os.write(session.master, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            raise ToolFailure(f"terminal {terminal_id}: {exc.strerror}") from None
        if written < len(data):
            session.pending_input += data[written:]
            asyncio.get_running_loop().add_writer(session.master, self._writable, session)

    def _writable(self, session: TerminalSession) -> None:
        try:
            written = os.write(session.master, session.pending_input)
        except BlockingIOError:
            return
        except OSError:
            written = len(session.pending_input)
        del session.pending_input[:written]
        if not session.pending_input:
            asyncio.get_running_loop().remove_writer(session.master)

    def resize(self, terminal_id: str, cols: int, rows: int) -> None:
        session = self.get(terminal_id)
        session.cols, session.rows = cols, rows
        session.last_active = time.monotonic()
        if session.running:
            with contextlib.suppress(OSError):
                _winsize(session.master, cols, rows)

    def touch(self, terminal_id: str) -> None:
        self.get(terminal_id).last_active = time.monotonic()

    async def close(self, terminal_id: str, reason: str = "closed on request") -> TerminalSession:
        session = self.get(terminal_id)
        if session.running:
            session.reason = reason
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(session.pid, signal.SIGHUP)
            try:
                await asyncio.wait_for(session.exited.wait(), CLOSE_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(session.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.exited.wait(), CLOSE_GRACE)
        self._sessions.pop(terminal_id, None)
        return session

    async def shutdown(self) -> None:
        await asyncio.gather(
            *(self.close(t, "the daemon shut down") for t in list(self._sessions)), return_exceptions=True
        )
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
            self._reaper = None

    # -- I/O --------------------------------------------------------------------------------------

    def _readable(self, session: TerminalSession) -> None:
        try:
            data = os.read(session.master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:
                logger.debug("terminal %s: read failed: %s", session.id, exc)
            asyncio.get_running_loop().remove_reader(session.master)
            return
        if not data:
            asyncio.get_running_loop().remove_reader(session.master)
            return
        offset = session.output.total
        session.output.feed(data)
        self.events.send(f"term.{session.id}.output", frame(offset, data))

    def _child_exited(self, session: TerminalSession) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(session.pidfd)
        os.close(session.pidfd)
        session.pidfd = -1
        self._finish(session)

    async def _wait_child(self, session: TerminalSession) -> None:
        while True:
            try:
                pid, _ = os.waitpid(session.pid, os.WNOHANG)  # noqa: ASYNC222 - WNOHANG never blocks
            except ChildProcessError:
                pid = session.pid
            if pid:
                break
            await asyncio.sleep(0.1)
        self._finish(session, reaped=True)

    def _finish(self, session: TerminalSession, *, reaped: bool = False) -> None:
        if session.exited.is_set():
            return
        status = 0
        if not reaped:
            try:
                _, status = os.waitpid(session.pid, 0)
            except ChildProcessError:
                status = 0
        session.exit_code = os.waitstatus_to_exitcode(status) if status else 0
        # What the shell wrote last is still in the PTY: take it before closing.
        while True:
            try:
                data = os.read(session.master, READ_CHUNK)
            except OSError:
                break
            if not data:
                break
            offset = session.output.total
            session.output.feed(data)
            self.events.send(f"term.{session.id}.output", frame(offset, data))
        loop = asyncio.get_running_loop()
        loop.remove_reader(session.master)
        loop.remove_writer(session.master)
        os.close(session.master)
        os.close(session.slave)
        session.exited.set()
        reason = session.reason or "the shell exited"
        doc = {"id": session.id, "exit_code": session.exit_code, "reason": reason}
        self.events.send(f"term.{session.id}.exit", json.dumps(doc).encode())
        logger.info("terminal %s closed (%s, exit code %s)", session.id, reason, session.exit_code)
        if not session.reason:  # exited on its own: nothing to keep
            self._sessions.pop(session.id, None)

    async def _reap_idle(self) -> None:
        while self._sessions:
            await asyncio.sleep(min(IDLE_CHECK, self.idle_timeout))
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if session.running and now - session.last_active > self.idle_timeout:
                    await self.close(session.id, f"idle for more than {self.idle_timeout:.0f}s")

    # -- control ----------------------------------------------------------------------------------

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        def ident(body: dict[str, Any]) -> str:
            value = body.get("id")
            if not isinstance(value, str) or not value:
                raise ToolFailure("a non-empty string id is required")
            return value

        async def open_(body: dict[str, Any]) -> Any:
            given = body.get("workspace", "")
            workspace = workspace_for(given if isinstance(given, str) else "")
            if workspace is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            command = body.get("command")
            if command is not None and (
                not isinstance(command, list) or not all(isinstance(c, str) for c in command) or not command
            ):
                raise ToolFailure("command must be a non-empty list of strings")
            cols, rows = _size(body)
            session = await self.open(workspace, cols, rows, command)
            return {"ok": True, "terminal": session.info()}

        async def list_(body: dict[str, Any]) -> Any:
            workspace = body.get("workspace", "")
            return {"ok": True, "terminals": [s.info() for s in self.in_workspace(str(workspace or ""))]}

        async def attach(body: dict[str, Any]) -> Any:
            session = self.get(ident(body))
            session.last_active = time.monotonic()
            offset, data = session.output.read(session.output.start, SCROLLBACK)
            return {
                "ok": True,
                "terminal": session.info(),
                "offset": offset,
                "data": base64.b64encode(data).decode(),
                "end": offset + len(data),
            }

        async def input_(body: dict[str, Any]) -> Any:
            terminal_id = ident(body)
            if isinstance(body.get("data"), str):
                try:
                    data = base64.b64decode(body["data"], validate=True)
                except ValueError:
                    raise ToolFailure("data must be base64") from None
            elif isinstance(body.get("text"), str):
                data = body["text"].encode()
            else:
                raise ToolFailure("input needs data (base64) or text")
            if len(data) > MAX_INPUT:
                raise ToolFailure(f"input is {len(data)} bytes; at most {MAX_INPUT} per message")
            self.write(terminal_id, data)
            return {"ok": True}

        async def resize(body: dict[str, Any]) -> Any:
            terminal_id = ident(body)
            cols, rows = _size(body)
            self.resize(terminal_id, cols, rows)
            return {"ok": True}

        async def touch(body: dict[str, Any]) -> Any:
            self.touch(ident(body))
            return {"ok": True}

        async def close(body: dict[str, Any]) -> Any:
            session = await self.close(ident(body))
            return {"ok": True, "terminal": session.info()}

        return {
            "term.open": open_,
            "term.list": list_,
            "term.attach": attach,
            "term.input": input_,
            "term.resize": resize,
            "term.touch": touch,
            "term.close": close,
        }
