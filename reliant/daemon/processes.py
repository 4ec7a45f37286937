"""Background processes: commands started by `shell` with run_in_background, kept running after the
call returns, their output kept (bounded) and streamed, their listening ports found.

Each runs like a `shell` command (bash under the lifeline wrapper, a process group of its own, so
it dies with the daemon even on SIGKILL and is stopped as a whole). The daemon keeps the last
`OUTPUT_KEEP` bytes of its combined stdout/stderr, addressed by offset from the start of the output.

Events (published through the gateway on `reliant.daemon.<id>.out.<subject>`):

- `proc.state`: JSON `{"event": "started" | "exited" | "ports", "boot_id", "process": record}`
- `proc.sync`: JSON `{"boot_id", "processes": [record, ...]}`, sent whenever the daemon (re)connects
  to a gateway: every process of this daemon run, so a recorder can mark those of earlier runs lost.
- `proc.<process_id>.output`: binary frames (events.py): 8 bytes big-endian offset, then the bytes.

`record` is `BackgroundProcess.record()`: id, pid, command, workspace, chat_id, tool_call_id, state
(running | exited | killed | failed), exit_code, started_unix, finished_unix, ports, output_bytes.

Ports are found by matching the sockets in LISTEN state (/proc/net/tcp, tcp6) to the socket
descriptors held by the processes of the group, polled every second while something runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliant.daemon.events import EventSender, frame
from reliant.daemon.process_group import SHELL_WRAPPER, lifeline, signal_group, stop_group
from reliant.wire import daemon_events

logger = logging.getLogger(__name__)

OUTPUT_KEEP = 1024 * 1024  # bytes of output kept per process
MAX_RUNNING = 16
MAX_KEPT = 100  # finished processes remembered
FLUSH_EVERY = 0.03  # output events are coalesced over this long
MAX_FRAME = 256 * 1024
PORT_POLL = 1.0
STOP_GRACE = 2.0


class ProcessError(Exception):
    """A request about background processes cannot be served (unknown id, limit reached)."""


class OutputRing:
    """The last `keep` bytes of a stream, addressed by their offset from the start of the stream."""

    def __init__(self, keep: int = OUTPUT_KEEP) -> None:
        self.keep = keep
        self._data = bytearray()
        self.total = 0

    @property
    def start(self) -> int:
        """The offset of the oldest byte still kept."""
        return self.total - len(self._data)

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._data += chunk
        if len(self._data) > self.keep:
            del self._data[: len(self._data) - self.keep]

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """Up to `limit` bytes from `offset` (moved up to `start` if dropped): (offset, bytes)."""
        offset = max(offset, self.start)
        begin = offset - self.start
        return offset, bytes(self._data[begin : begin + limit])

    def tail(self, limit: int) -> tuple[int, bytes]:
        offset = max(self.start, self.total - limit)
        return self.read(offset, limit)


@dataclass(eq=False)
class BackgroundProcess:
    id: str
    command: str
    workspace: str
    chat_id: str
    tool_call_id: str
    pid: int
    started_at: float
    state: str = "running"
    exit_code: int | None = None
    finished_at: float = 0.0
    ports: list[int] = field(default_factory=list)
    output: OutputRing = field(default_factory=OutputRing)
    read_offset: int = 0  # where shell_output continues by default
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    killed: bool = False
    transport: asyncio.SubprocessTransport | None = None
    output_closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pid": self.pid,
            "command": self.command,
            "workspace": self.workspace,
            "chat_id": self.chat_id,
            "tool_call_id": self.tool_call_id,
            "state": self.state,
            "exit_code": self.exit_code,
            "started_unix": self.started_at,
            "finished_unix": self.finished_at,
            "ports": list(self.ports),
            "output_bytes": self.output.total,
        }


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, owner: BackgroundProcesses, process_id: str) -> None:
        self.owner = owner
        self.process_id = process_id

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.owner._output(self.process_id, data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.owner._output_closed(self.process_id)

    def process_exited(self) -> None:
        self.owner._exited(self.process_id)


class BackgroundProcesses:
    def __init__(self, events: EventSender | None = None) -> None:
        self.events = events if events is not None else EventSender()
        self.boot_id = uuid.uuid4().hex
        self._procs: dict[str, BackgroundProcess] = {}
        self._pending: dict[str, tuple[int, bytearray]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._poller: asyncio.Task[None] | None = None
        self._finishing: set[asyncio.Task[None]] = set()

    # -- queries ----------------------------------------------------------------------------------

    def get(self, process_id: str) -> BackgroundProcess:
        proc = self._procs.get(process_id)
        if proc is None:
            raise ProcessError(f"no background process {process_id!r} on this daemon (see shell_list)")
        return proc

    def in_workspace(self, workspace: str = "") -> list[BackgroundProcess]:
        procs = sorted(self._procs.values(), key=lambda p: p.started_at)
        if not workspace:
            return procs
        return [p for p in procs if p.workspace == workspace or p.workspace.startswith(workspace.rstrip("/") + "/")]

    def running_pids(self) -> list[int]:
        return [p.pid for p in self._procs.values() if p.running]

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(
        self, command: str, workspace: Path, env: dict[str, str], *, chat_id: str = "", tool_call_id: str = ""
    ) -> BackgroundProcess:
        if sum(p.running for p in self._procs.values()) >= MAX_RUNNING:
            raise ProcessError(
                f"{MAX_RUNNING} background processes are already running; stop one with shell_kill first"
            )
        process_id = f"p-{secrets.token_hex(5)}"
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: _Protocol(self, process_id),
                "bash",
                "-c",
                SHELL_WRAPPER,
                "reliant-bg",
                command,
                str(lifeline()),
                cwd=workspace,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lifeline(),),
            )
        except OSError as exc:
            raise ProcessError(f"could not start bash: {exc.strerror or exc}") from None
        proc = BackgroundProcess(
            id=process_id,
            command=command,
            workspace=str(workspace),
            chat_id=chat_id,
            tool_call_id=tool_call_id,
            pid=transport.get_pid(),
            started_at=time.time(),
            transport=transport,
        )
        self._procs[process_id] = proc
        self._forget_old()
        self._emit_state("started", proc)
        self._ensure_poller()
        logger.info("background process %s (pid %d) started: %s", process_id, proc.pid, command[:200])
        return proc

    async def kill(self, process_id: str, sig: int = signal.SIGTERM) -> BackgroundProcess:
        proc = self.get(process_id)
        if not proc.running:
            return proc
        proc.killed = True
        if sig == signal.SIGKILL:
            signal_group(proc.pid, signal.SIGKILL)
        elif sig == signal.SIGTERM:
            await stop_group(proc.pid, proc.exited, STOP_GRACE)
        else:
            signal_group(proc.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.exited.wait(), STOP_GRACE + 1)
        return proc

    async def wait(self, process_id: str, timeout: float) -> BackgroundProcess:
        proc = self.get(process_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.exited.wait(), timeout)
        return proc

    async def shutdown(self) -> None:
        """Stop every running process (whole groups) and the event tasks."""
        running = [p for p in self._procs.values() if p.running]
        for proc in running:
            proc.killed = True
        await asyncio.gather(*(stop_group(p.pid, p.exited, STOP_GRACE) for p in running), return_exceptions=True)
        await asyncio.gather(*(asyncio.wait_for(p.exited.wait(), STOP_GRACE) for p in running), return_exceptions=True)
        await asyncio.gather(*self._finishing, return_exceptions=True)
        for proc in running:
            if proc.transport is not None:
                proc.transport.close()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()

    def _forget_old(self) -> None:
        finished = [p for p in sorted(self._procs.values(), key=lambda p: p.started_at) if not p.running]
        for proc in finished[: max(0, len(finished) - MAX_KEPT)]:
            del self._procs[proc.id]

    # -- output and exit --------------------------------------------------------------------------

    def _output(self, process_id: str, data: bytes) -> None:
        proc = self._procs.get(process_id)
        if proc is None:
            return
        offset = proc.output.total
        proc.output.feed(data)
        pending = self._pending.get(process_id)
        if pending is None:
            self._pending[process_id] = (offset, bytearray(data))
        else:
            pending[1].extend(data)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_EVERY, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        pending, self._pending = self._pending, {}
        for process_id, (offset, data) in pending.items():
            for start in range(0, len(data), MAX_FRAME):
                chunk = bytes(data[start : start + MAX_FRAME])
                self.events.send(f"proc.{process_id}.output", frame(offset + start, chunk))

    def _output_closed(self, process_id: str) -> None:
        proc = self._procs.get(process_id)
        if proc is not None:
            proc.output_closed.set()

    def _exited(self, process_id: str) -> None:
        proc = self._procs.get(process_id)
        if proc is None or proc.exited.is_set():
            return
        task = asyncio.get_running_loop().create_task(self._finish(proc), name=f"process-exit:{process_id}")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, proc: BackgroundProcess) -> None:
        """The command exited: stop what it left in its group, take the rest of its output, and
        only then report it finished (so a waiter sees all of the output)."""
        code = proc.transport.get_returncode() if proc.transport is not None else None
        signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.output_closed.wait(), 0.5)
        proc.exit_code = code
        proc.state = "killed" if proc.killed or (code is not None and code < 0) else "exited"
        proc.finished_at = time.time()
        self._flush()
        if proc.transport is not None:
            proc.transport.close()
        proc.exited.set()
        self._emit_state("exited", proc)
        logger.info("background process %s exited (%s, code %s)", proc.id, proc.state, code)

    # -- events -----------------------------------------------------------------------------------

    def _emit_state(self, event: str, proc: BackgroundProcess) -> None:
        doc = {"event": event, "boot_id": self.boot_id, "process": proc.record()}
        self.events.send(daemon_events.PROC_STATE, json.dumps(doc, separators=(",", ":")).encode())

    def sync_payload(self) -> bytes:
        doc = {"boot_id": self.boot_id, "processes": [p.record() for p in self._procs.values()]}
        return json.dumps(doc, separators=(",", ":")).encode()

    # -- ports ------------------------------------------------------------------------------------

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_ports(), name="process-ports")

    async def _poll_ports(self) -> None:
        while any(p.running for p in self._procs.values()):
            await asyncio.sleep(PORT_POLL)
            running = [p for p in self._procs.values() if p.running]
            if not running:
                break
            found = await asyncio.to_thread(listening_ports, [p.pid for p in running])
            for proc in running:
                ports = found.get(proc.pid, [])
                if ports != proc.ports and proc.running:
                    proc.ports = ports
                    self._emit_state("ports", proc)


# -- /proc ----------------------------------------------------------------------------------------

_SOCKET = re.compile(r"^socket:\[(\d+)\]$")


def _listening_inodes() -> dict[int, int]:
    """inode -> port of every TCP socket in LISTEN state."""
    found: dict[int, int] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":
                port = int(fields[1].rsplit(":", 1)[1], 16)
                found[int(fields[9])] = port
    return found


def _groups() -> dict[int, list[int]]:
    """pgid -> pids of live processes."""
    groups: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] not in (b"Z", b"X"):
            groups.setdefault(int(fields[2]), []).append(int(entry.name))
    return groups


def listening_ports(pgids: list[int]) -> dict[int, list[int]]:
    """pgid -> sorted TCP ports that processes of the group listen on."""
    inodes = _listening_inodes()
    if not inodes or not pgids:
        return {}
    groups = _groups()
    result: dict[int, list[int]] = {}
    for pgid in pgids:
        ports: set[int] = set()
        for pid in groups.get(pgid, []):
            try:
                fds = list(Path(f"/proc/{pid}/fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    target = str(fd.readlink())
                except OSError:
                    continue
                match = _SOCKET.match(target)
                if match and int(match.group(1)) in inodes:
                    ports.add(inodes[int(match.group(1))])
        if ports:
            result[pgid] = sorted(ports)
    return result
