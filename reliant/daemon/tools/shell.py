"""`shell`: run a bash command in the workspace, output capped, process group killed on timeout.

The command runs as `bash -c COMMAND` under a small bash wrapper that leads a new session. Beside
the command the wrapper keeps a watchdog reading the daemon's lifeline (process_group.py): when the
daemon dies, even by SIGKILL, the read ends and the watchdog SIGKILLs the whole group, so a killed
daemon never leaves a command (or anything it started) running. When the command exits, processes it
left behind in its group are stopped too. Processes that start a session of their own (setsid,
daemons) leave the group and are out of reach.

A non-zero exit is not a tool error: the result is OK with `data.exit_code`.

`run_command` is the same runner for a workflow's `run` node (never offered to the model): stdout is
the output and stderr is kept apart (`data.stderr`), both capped the same way. A step of a project's
own workflow comes with `project: true`: it runs only while the workspace's files are trusted as they
are at that moment (workflow_files.py), and otherwise fails before anything starts, marked refused
as untrusted (`data.refused`, reliant.domain.tools): the worker pauses the run until the user trusts
the project again. A call without it (a built-in workflow's step, or an older worker's) runs as it
always did.
"""

from __future__ import annotations

import asyncio
import codecs
import subprocess
from pathlib import Path
from typing import Any

from reliant.daemon.environment import child_environment
from reliant.daemon.process_group import SHELL_WRAPPER, group_alive, lifeline, stop_group
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.domain.tools import REFUSED, UNTRUSTED

DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 600.0
HEAD_BYTES = 20_000
TAIL_BYTES = 20_000
STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 0.5  # after the command exits, how long to wait for the rest of its output


class OutputCapture:
    """Keeps the first `head` and the last `tail` bytes of a stream and counts the rest."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self._head_max = head
        self._tail_max = tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_max - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self._tail_max:
                del self.tail[: len(self.tail) - self._tail_max]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        if not self.omitted:
            return bytes(self.head + self.tail).decode("utf-8", "replace")
        # Cut on character boundaries: drop a partial character at the end of head / start of tail.
        head = codecs.getincrementaldecoder("utf-8")("replace").decode(bytes(self.head), final=False)
        tail = bytes(self.tail)
        skip = 0
        while skip < min(3, len(tail)) and 0x80 <= tail[skip] < 0xC0:
            skip += 1
        return f"{head}\n\n[… {self.omitted:,} bytes of output omitted …]\n\n" + tail[skip:].decode("utf-8", "replace")


class _ShellProtocol(asyncio.SubprocessProtocol):
    """Feeds the output into a capture per stream (stderr into stdout's unless it has its own);
    tells when the process exits and when its output ends (which can be later: whatever it started
    may still hold the pipe)."""

    def __init__(self, capture: OutputCapture, errors: OutputCapture | None = None) -> None:
        self.capture = capture
        self.errors = errors or capture
        self._open = 1 if errors is None else 2
        self.exited = asyncio.Event()
        self.output_closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        (self.errors if fd == 2 else self.capture).feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open -= 1
        if self._open <= 0:
            self.output_closed.set()

    def process_exited(self) -> None:
        self.exited.set()


async def _within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


def _environment() -> dict[str, str]:
    return child_environment({"TERM": "dumb", "PAGER": "cat", "GIT_PAGER": "cat"})


async def _shell(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace = ctx.require_workspace()
    command = str(args["command"])
    if args.get("run_in_background"):
        from reliant.daemon.tools.background import start_background

        return await start_background(ctx, workspace, command, _environment())
    timeout = float(args.get("timeout") or ctx.timeout or DEFAULT_TIMEOUT)
    return await _run(workspace, command, min(timeout, MAX_TIMEOUT))


async def _run_command(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    timeout = min(float(args.get("timeout") or MAX_TIMEOUT), MAX_TIMEOUT)
    workspace = ctx.require_workspace()
    if args.get("project"):
        if ctx.project_refusal is None:
            raise ToolFailure("this daemon cannot check the project's trust, so its workflow's step does not run")
        if why := await ctx.project_refusal(workspace):
            raise ToolFailure(why, data={REFUSED: UNTRUSTED})
    return await _run(workspace, str(args["command"]), timeout, separate_stderr=True)


async def _run(workspace: Path, command: str, timeout: float, *, separate_stderr: bool = False) -> ToolOutput:
    capture = OutputCapture()
    errors = OutputCapture() if separate_stderr else None
    try:
        transport, protocol = await asyncio.get_running_loop().subprocess_exec(
            lambda: _ShellProtocol(capture, errors),
            "bash",
            "-c",
            SHELL_WRAPPER,
            "reliant-shell",
            command,
            str(lifeline()),
            cwd=workspace,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(lifeline(),),
        )
    except OSError as exc:
        raise ToolFailure(f"could not start bash: {exc.strerror or exc}") from None
    pgid = transport.get_pid()
    timed_out = leftovers = unread = False
    try:
        if not await _within(protocol.exited, timeout):
            timed_out = True
            await stop_group(pgid, protocol.exited, STOP_GRACE)
        else:
            await _within(protocol.output_closed, DRAIN_GRACE)
            # Anything still in the group was started by the command and left behind.
            leftovers = group_alive(pgid)
            if leftovers:
                await stop_group(pgid, protocol.exited, STOP_GRACE)
        # With the group gone the output ends at once, unless a process that left the group
        # (setsid) still holds it: then stop reading rather than wait for it.
        unread = not await _within(protocol.output_closed, DRAIN_GRACE)
    finally:
        # Also when cancelled: nothing the command started may outlive the call.
        if not protocol.exited.is_set() or group_alive(pgid):
            await stop_group(pgid, protocol.exited, STOP_GRACE)
        transport.close()
    exit_code = None if timed_out else transport.get_returncode()
    output = capture.text()
    notes = []
    if leftovers:
        notes.append("[background processes left running by the command were stopped]")
    if unread:
        notes.append("[stopped reading: a process outside the command's group still holds its output]")
    if timed_out:
        notes.append(f"[timed out after {timeout:g}s; the command and its child processes were killed]")
    elif exit_code:
        notes.append(f"[exit code {exit_code}]")
    data: dict[str, Any] = {
        "exit_code": exit_code,
        "timed_out": timed_out,
        "output_bytes": capture.total,
        "omitted_bytes": capture.omitted,
    }
    error = f"command timed out after {timeout:g}s; its process group was killed" if timed_out else ""
    if errors is not None:  # run_command: the streams apart, the exit code in data only
        stderr = errors.text()
        if said := [n for n in notes if not n.startswith("[exit code")]:
            stderr = "\n".join([stderr.rstrip("\n"), *said]) if stderr else "\n".join(said)
        return ToolOutput(output=output, data=data | {"stderr": stderr}, error=error)
    if notes:
        output = "\n".join([output.rstrip("\n"), *notes]) if output else "\n".join(notes)
    return ToolOutput(output=output, data=data, error=error)


SHELL = ToolSpec(
    name="shell",
    description=(
        "Run a bash command in the workspace directory and return its combined stdout and stderr "
        "and its exit code (a non-zero exit is reported, not treated as a failure of the tool). "
        "stdin is empty, so interactive programs cannot prompt; TERM=dumb and PAGER=cat. "
        f"timeout is in seconds (default {DEFAULT_TIMEOUT:g}, at most {MAX_TIMEOUT:g}); on timeout the "
        "command and every process it started are killed. Long output keeps its first and last "
        f"{HEAD_BYTES // 1000} KB. Background processes are stopped when the command exits. For a "
        "server, a watcher or anything long-running set run_in_background: the call returns at once "
        "with a process id; read its output with shell_output, wait with shell_wait, stop it with "
        "shell_kill. Prefer the view, grep and glob tools for reading and searching files."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "command": {"type": "string", "minLength": 1, "description": "The bash command to run."},
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_TIMEOUT,
                "description": f"Seconds before the command is killed (default {DEFAULT_TIMEOUT:g}).",
            },
            "run_in_background": {
                "type": "boolean",
                "description": "Start the command and return at once; it keeps running (no timeout).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
    run=_shell,
)


RUN_COMMAND = ToolSpec(
    name="run_command",
    description="A workflow's `run` node: a bash command in the workspace, stdout and stderr apart.",
    input_schema={
        "type": "object",
        "properties": {
            "command": {"type": "string", "minLength": 1},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT},
            "project": {"type": "boolean", "description": "a project workflow's step: runs only while trusted"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
    run=_run_command,
    offered=False,  # a workflow runs it, never the model
)
