"""The stdio transport for MCP servers the daemon runs.

Like the SDK's own stdio client, but the server runs under the daemon's lifeline wrapper
(process_group.py) in a process group of its own: a daemon that dies, even by SIGKILL, takes the
server and everything it started with it, and stopping a server stops its whole group. Its stderr is
kept (the last few KB) so a server that fails to start or crashes reports why. Spawned without a
Python preexec hook, like every daemon child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import mcp_types
from mcp.shared.message import SessionMessage

from reliant.daemon.environment import child_environment
from reliant.daemon.mcp.config import McpServerConfig
from reliant.daemon.process_group import lifeline, stop_group

logger = logging.getLogger(__name__)

STDERR_KEEP = 8192
MAX_LINE = 32 * 1024 * 1024
CLOSE_GRACE = 1.0  # after stdin closes, how long the server may take to exit on its own
STOP_GRACE = 2.0

# $1 is the lifeline fd, the rest the server's argv. stdin is passed on explicitly: a background
# job of a non-interactive shell would otherwise read /dev/null.
_WRAPPER = """
lifeline=$1; shift
( read -r -u "$lifeline" _; kill -KILL 0 ) &
watchdog=$!
exec 4<&0
eval '"$@" <&4 4<&- '"$lifeline"'<&- &'
exec 4<&-
wait $!
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
exit "$status"
"""


class StdioServerProcess:
    """One run of a stdio server; `connect()` yields the (read, write) streams the SDK's session
    speaks over, and stops the process group when it exits."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.pid = 0
        self.returncode: int | None = None
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()  # its stdout ended: the connection is gone
        self._stderr = bytearray()

    @property
    def stderr_tail(self) -> str:
        text = bytes(self._stderr).decode("utf-8", "replace").strip()
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        return "\n".join(lines[-8:])

    def exit_description(self) -> str:
        if self.returncode is None:
            return "the server closed its output"
        code = self.returncode
        what = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        if code == 127:
            what = f"could not run {self.config.command!r} (command not found)"
        elif code == 126:
            what = f"could not run {self.config.command!r} (not executable)"
        tail = self.stderr_tail
        return f"the server {what}" + (f": {tail}" if tail else "")

    async def _spawn(self) -> asyncio.subprocess.Process:
        c = self.config
        env = child_environment(dict(c.env))
        cwd = c.cwd or None
        if cwd is not None and not await asyncio.to_thread(Path(cwd).is_dir):
            raise OSError(f"working directory {cwd} does not exist")
        return await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            _WRAPPER,
            "reliant-mcp",
            str(lifeline()),
            c.command,
            *c.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
            pass_fds=(lifeline(),),
            limit=MAX_LINE,
        )

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[tuple[Any, Any]]:
        proc = await self._spawn()
        self.pid = proc.pid
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](16)
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr

        async def wait_exit() -> None:
            self.returncode = await proc.wait()
            self.exited.set()

        async def read_stdout() -> None:
            try:
                while True:
                    try:
                        line = await stdout.readline()
                    except ValueError:  # a line over MAX_LINE
                        await read_writer.send(ValueError(f"a message over {MAX_LINE} bytes from the server"))
                        break
                    if not line:
                        break
                    if not line.strip():
                        continue
                    try:
                        message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    except ValueError as exc:
                        logger.debug("mcp %s: not a JSON-RPC line: %r", self.config.name, line[:200])
                        await read_writer.send(exc)
                        continue
                    await read_writer.send(SessionMessage(message))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
                pass
            finally:
                self.closed.set()
                read_writer.close()

        async def read_stderr() -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await stderr.read(4096):
                    self._stderr += chunk
                    if len(self._stderr) > STDERR_KEEP:
                        del self._stderr[: len(self._stderr) - STDERR_KEEP]

        async def write_stdin() -> None:
            try:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    stdin.write(data.encode() + b"\n")
                    await stdin.drain()
            except (ConnectionError, anyio.ClosedResourceError, anyio.BrokenResourceError):
                read_writer.close()

        tasks = [
            asyncio.create_task(wait_exit(), name=f"mcp-exit:{self.config.name}"),
            asyncio.create_task(read_stdout(), name=f"mcp-out:{self.config.name}"),
            asyncio.create_task(read_stderr(), name=f"mcp-err:{self.config.name}"),
            asyncio.create_task(write_stdin(), name=f"mcp-in:{self.config.name}"),
        ]
        try:
            yield read_stream, write_stream
        finally:
            await asyncio.shield(self._stop(proc, tasks, read_stream, write_stream))

    async def _stop(self, proc: asyncio.subprocess.Process, tasks: list[asyncio.Task[None]], *streams: Any) -> None:
        """Close stdin, give the server a moment to exit, then stop its whole group."""
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), CLOSE_GRACE)
        await stop_group(proc.pid, self.exited, STOP_GRACE)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), STOP_GRACE)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in streams:
            stream.close()
