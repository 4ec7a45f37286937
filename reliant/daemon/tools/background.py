"""`shell_output`, `shell_wait`, `shell_kill`, `shell_list`: the model's view of background processes
(started by `shell` with run_in_background; see processes.py)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from reliant.daemon.processes import BackgroundProcess, BackgroundProcesses, ProcessError
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.tools.ripgrep import Deadline, check_regex, matching

MAX_OUTPUT_BYTES = 30_000
DEFAULT_WAIT = 30.0
MAX_WAIT = 600.0
WAIT_TAIL_LINES = 20
FILTER_SECONDS = 10.0
SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT, "HUP": signal.SIGHUP}

_ID = {"type": "string", "pattern": "^p-[0-9a-f]{10}$", "description": "The process id (p-…) from shell."}


def whole_characters(data: bytes) -> int:
    """The length of `data` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)


def _processes(ctx: ToolContext) -> BackgroundProcesses:
    if ctx.processes is None:
        raise ToolFailure("background processes are not available on this daemon")
    return ctx.processes


def _get(ctx: ToolContext, process_id: str) -> BackgroundProcess:
    try:
        return _processes(ctx).get(process_id)
    except ProcessError as exc:
        raise ToolFailure(str(exc)) from None


def _status(proc: BackgroundProcess) -> str:
    if proc.running:
        ports = f", listening on {', '.join(map(str, proc.ports))}" if proc.ports else ""
        return f"running for {time.time() - proc.started_at:.0f}s (pid {proc.pid}{ports})"
    return f"{proc.state} with exit code {proc.exit_code}"


def _data(proc: BackgroundProcess, **extra: Any) -> dict[str, Any]:
    return {
        "process_id": proc.id,
        "pid": proc.pid,
        "state": proc.state,
        "exit_code": proc.exit_code,
        "ports": list(proc.ports),
        "output_bytes": proc.output.total,
        **extra,
    }


async def start_background(ctx: ToolContext, workspace: Path, command: str, env: dict[str, str]) -> ToolOutput:
    try:
        proc = await _processes(ctx).start(command, workspace, env, chat_id=ctx.chat_id, tool_call_id=ctx.tool_call_id)
    except ProcessError as exc:
        raise ToolFailure(str(exc)) from None
    return ToolOutput(
        output=(
            f"started background process {proc.id} (pid {proc.pid}). Read its output with shell_output, "
            "wait for it with shell_wait, stop it with shell_kill."
        ),
        data=_data(proc, background=True),
    )


# -- shell_output ---------------------------------------------------------------------------------


async def _filtered(pattern: str, lines: list[str]) -> list[str]:
    """The lines `pattern` matches (by ripgrep: no pattern can stall the daemon)."""
    hits, _ = await matching(pattern, lines, deadline=Deadline(FILTER_SECONDS), limit=len(lines) + 1)
    return [lines[i] for i in hits]


async def _output(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    proc = _get(ctx, str(args["process_id"]))
    pattern = str(args.get("filter") or "")
    if pattern:
        try:
            await check_regex(pattern)
        except ToolFailure as exc:
            raise ToolFailure(exc.message.replace("invalid regular expression", "invalid filter", 1)) from None
    ring = proc.output
    notes: list[str] = []
    if "tail" in args:
        lines_wanted = int(args["tail"])
        offset, data = ring.tail(MAX_OUTPUT_BYTES * 4)
        lines = data.decode("utf-8", "replace").splitlines()
        if pattern:
            lines = await _filtered(pattern, lines)
        text = "\n".join(lines[-lines_wanted:])
        next_offset = ring.total
    else:
        wanted = int(args["offset"]) if "offset" in args else proc.read_offset
        if wanted < ring.start:
            notes.append(f"[output before byte {ring.start:,} is no longer kept]")
        offset, data = ring.read(wanted, MAX_OUTPUT_BYTES)
        next_offset = offset + len(data)
        if next_offset < ring.total:  # do not cut a character in two: leave its start for next time
            data = data[: whole_characters(data)]
            next_offset = offset + len(data)
        text = data.decode("utf-8", "replace")
        if pattern:
            text = "\n".join(await _filtered(pattern, text.splitlines()))
        if next_offset < ring.total:
            notes.append(f"[more output follows; continue with offset={next_offset}]")
        proc.read_offset = max(proc.read_offset, next_offset)
    header = f"[{proc.id} {_status(proc)}]"
    body = text if text else "(no new output)" if "tail" not in args else "(no output)"
    return ToolOutput(
        output="\n".join([header, body, *notes]),
        data=_data(proc, offset=offset, next_offset=next_offset),
    )


SHELL_OUTPUT = ToolSpec(
    name="shell_output",
    description=(
        "Read the output (stdout and stderr together) of a background process started by shell with "
        "run_in_background. Without offset or tail it returns the output since the last shell_output "
        "call for that process; offset reads from a byte offset; tail returns the last N lines. filter "
        f"keeps only lines matching a regular expression. At most {MAX_OUTPUT_BYTES // 1000} KB per call; "
        "the daemon keeps the last 1 MB of each process's output. Also says whether it still runs, its "
        "exit code and the ports it listens on."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "process_id": _ID,
            "offset": {"type": "integer", "minimum": 0, "description": "Byte offset to read from."},
            "tail": {"type": "integer", "minimum": 1, "maximum": 5000, "description": "Only the last N lines."},
            "filter": {"type": "string", "description": "Regular expression; only matching lines."},
        },
        "required": ["process_id"],
        "additionalProperties": False,
    },
    run=_output,
    read_only=True,
)


# -- shell_wait -----------------------------------------------------------------------------------


async def _wait(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    process_id = str(args["process_id"])
    _get(ctx, process_id)
    timeout = min(float(args.get("timeout") or DEFAULT_WAIT), MAX_WAIT)
    proc = await _processes(ctx).wait(process_id, timeout)
    _, data = proc.output.tail(8192)
    tail = "\n".join(data.decode("utf-8", "replace").splitlines()[-WAIT_TAIL_LINES:])
    if proc.running:
        summary = f"{proc.id} is still running after {timeout:g}s (pid {proc.pid})"
    else:
        summary = f"{proc.id} {proc.state} with exit code {proc.exit_code}"
    return ToolOutput(
        output=f"{summary}\n[last lines of output]\n{tail}" if tail else summary,
        data=_data(proc, timed_out=proc.running),
    )


SHELL_WAIT = ToolSpec(
    name="shell_wait",
    description=(
        "Wait until a background process exits, at most timeout seconds "
        f"(default {DEFAULT_WAIT:g}, at most {MAX_WAIT:g}); returns its state, exit code and the last "
        f"{WAIT_TAIL_LINES} lines of its output. The process is not stopped when the wait times out."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "process_id": _ID,
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT},
        },
        "required": ["process_id"],
        "additionalProperties": False,
    },
    run=_wait,
    read_only=True,
)


# -- shell_kill -----------------------------------------------------------------------------------


async def _kill(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    process_id = str(args["process_id"])
    proc = _get(ctx, process_id)
    if not proc.running:
        return ToolOutput(output=f"{proc.id} already {proc.state} (exit code {proc.exit_code})", data=_data(proc))
    name = str(args.get("signal") or "TERM")
    proc = await _processes(ctx).kill(process_id, SIGNALS[name])
    what = "stopped" if not proc.running else f"sent SIG{name} to"
    return ToolOutput(output=f"{what} {proc.id}: {_status(proc)}", data=_data(proc))


SHELL_KILL = ToolSpec(
    name="shell_kill",
    description=(
        "Stop a background process and everything it started: SIGTERM, then SIGKILL after 2 seconds "
        "(signal KILL kills at once; INT and HUP are only sent)."
    ),
    input_schema={
        "type": "object",
        "properties": {"process_id": _ID, "signal": {"type": "string", "enum": sorted(SIGNALS)}},
        "required": ["process_id"],
        "additionalProperties": False,
    },
    run=_kill,
)


# -- shell_list -----------------------------------------------------------------------------------


async def _list(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace = ctx.require_workspace()
    procs = _processes(ctx).in_workspace(str(workspace))
    if args.get("running_only"):
        procs = [p for p in procs if p.running]
    if not procs:
        return ToolOutput(output="no background processes in this workspace", data={"processes": []})
    lines = [f"{p.id}  {_status(p)}  $ {p.command[:200]}" for p in procs]
    return ToolOutput(output="\n".join(lines), data={"processes": [p.record() for p in procs]})


SHELL_LIST = ToolSpec(
    name="shell_list",
    description="List the background processes of this workspace: id, state, pid, ports and command.",
    input_schema={
        "type": "object",
        "properties": {"running_only": {"type": "boolean"}},
        "additionalProperties": False,
    },
    run=_list,
    read_only=True,
)
