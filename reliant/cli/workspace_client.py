"""`reliant mcp`, `reliant term` and `reliant worktree`: a project's daemon services from the terminal,
through the api's ConnectRPC services (so they work the same with a daemon on another machine)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from connectrpc.errors import ConnectError

from reliant.cli.api import Api, CliError
from reliant.cli.shown import revealing
from reliant.wire.v1 import workspace_pb2 as pb
from reliant.wire.v1.workspace_connect import (
    McpServiceClientSync,
    TerminalServiceClientSync,
    WorktreeServiceClientSync,
)

DETACH_KEY = b"\x1d"  # Ctrl-]


# -- mcp ------------------------------------------------------------------------------------------


def _mcp(api: Api) -> McpServiceClientSync:
    return McpServiceClientSync(api.url, proto_json=True, timeout_ms=120_000)


def mcp_list(api: Api, project_id: str, path: str, out: TextIO) -> None:
    with revealing(out) as out:
        with _mcp(api) as client:
            listed = client.list_mcp_servers(pb.ListMcpServersRequest(project_id=project_id), headers=api.headers)
        if not listed.servers and not listed.untrusted:
            out.write("no MCP servers configured (see <data-dir>/mcp.json and .reliant/mcp.json)\n")
        for server in [*listed.servers, *listed.untrusted]:
            tools = f"{len(server.tools):>3} tools"
            out.write(f"{server.name:<16} {server.status:<12} {server.transport:<6} {tools}  {server.target}\n")
            if server.error:
                out.write(f"{'':<16} {server.error}\n")
        for error in listed.errors:
            out.write(f"config error: {error}\n")
        if listed.trust_note:
            out.write(f"{listed.trust_note}\n(see and trust them with `reliant trust {path}`)\n")


def mcp_change(api: Api, pid: str, name: str, action: str, out: TextIO) -> None:
    with _mcp(api) as client:
        if action == "restart":
            server = client.restart_mcp_server(pb.McpServerRequest(project_id=pid, name=name), headers=api.headers)
        else:
            request = pb.SetMcpServerEnabledRequest(project_id=pid, name=name, enabled=action == "enable")
            server = client.set_mcp_server_enabled(request, headers=api.headers)
    out.write(f"{server.name}: {server.status}" + (f" ({server.error})" if server.error else "") + "\n")


# -- worktrees ------------------------------------------------------------------------------------


def _trees(api: Api) -> WorktreeServiceClientSync:
    return WorktreeServiceClientSync(api.url, proto_json=True, timeout_ms=120_000)


def _worktree_line(w: pb.Worktree) -> str:
    chat = f"  chat {w.chat_id}" if w.chat_id else ""
    return f"{w.id}  {w.name:<20} {w.branch:<28} {w.state:<8} {w.path}{chat}\n"


def worktree_create(api: Api, project_id: str, name: str, *, chat_id: str, base: str, out: TextIO) -> None:
    request = pb.CreateWorktreeRequest(project_id=project_id, name=name, chat_id=chat_id, base=base)
    with _trees(api) as client:
        out.write(_worktree_line(client.create_worktree(request, headers=api.headers)))


def worktree_list(api: Api, project_id: str, include_removed: bool, out: TextIO) -> None:
    """The project's worktrees, its agents' (settled with the agent), then those no record names any
    more (removed by their path)."""
    request = pb.ListWorktreesRequest(project_id=project_id, include_removed=include_removed, include_orphaned=True)
    with _trees(api) as client:
        listed = client.list_worktrees(request, headers=api.headers)
    if not listed.worktrees and not listed.agents and not listed.orphaned:
        out.write("no worktrees\n")
    for w in listed.worktrees:
        out.write(_worktree_line(w))
    for a in listed.agents:
        agent, chat = a.agent_id[:8], a.chat_id[:8]
        settle = f": reliant agents --chat {chat} --merge|--keep|--remove {agent}" if a.state == "active" else ""
        out.write(
            f"agent     {a.name:<20} {a.branch:<28} {a.state:<8} {a.path}  (agent {agent} of chat {chat}{settle})\n"
        )
    for o in listed.orphaned:
        changes = f"{o.uncommitted} uncommitted file{'' if o.uncommitted == 1 else 's'}" if o.uncommitted else "clean"
        out.write(f"orphaned  {o.name:<20} {o.branch:<28} {changes:<8} {o.path}  (no chat or agent: remove PATH)\n")
    if listed.orphaned_problem:
        out.write(f"{listed.orphaned_problem}\n")


def worktree_status(api: Api, worktree_id: str, out: TextIO) -> None:
    with _trees(api) as client:
        status = client.get_worktree_status(pb.WorktreeRequest(worktree_id=worktree_id), headers=api.headers)
    out.write(f"on {status.branch} at {status.head[:12]} (ahead {status.ahead}, behind {status.behind})\n")
    for f in status.files:
        out.write(f"{f.index}{f.worktree} {f.path}\n")


def worktree_diff(api: Api, worktree_id: str, out: TextIO) -> None:
    with _trees(api) as client:
        diff = client.get_worktree_diff(pb.WorktreeDiffRequest(worktree_id=worktree_id), headers=api.headers)
    out.write(diff.diff)
    if diff.truncated:
        out.write("\n[diff truncated]\n")


def worktree_remove(
    api: Api, worktree_id: str, force: bool, delete_branch: bool, out: TextIO, *, project_id: str = ""
) -> None:
    """With `project_id`, `worktree_id` is the path of one of its orphaned worktrees."""
    request = pb.RemoveWorktreeRequest(force=force, delete_branch=delete_branch)
    if project_id:
        request.project_id, request.orphaned_path = project_id, worktree_id
    else:
        request.worktree_id = worktree_id
    with _trees(api) as client:
        out.write(_worktree_line(client.remove_worktree(request, headers=api.headers)))


def worktree_detach(api: Api, worktree_id: str, out: TextIO) -> None:
    with _trees(api) as client:
        out.write(
            _worktree_line(client.detach_worktree(pb.WorktreeRequest(worktree_id=worktree_id), headers=api.headers))
        )


# -- term -----------------------------------------------------------------------------------------


def _size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except OSError:
        return 80, 24
    return size.columns or 80, size.lines or 24


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def term(
    api: Api, project_id: Callable[[], str], *, attach: str, chat_id: str, command: list[str], out: TextIO, err: TextIO
) -> int:
    """Attach the local terminal (raw mode) to a terminal session; Ctrl-] detaches and leaves the
    session running. Returns the shell's exit code (0 when detached)."""
    cols, rows = _size()
    client = TerminalServiceClientSync(api.url, proto_json=False, timeout_ms=30_000)
    stream_client = TerminalServiceClientSync(api.url, proto_json=False)
    with client, stream_client:
        if attach:
            terminal_id = attach
        else:
            request = pb.OpenTerminalRequest(
                project_id=project_id(), chat_id=chat_id, cols=cols, rows=rows, command=command
            )
            terminal_id = client.open_terminal(request, headers=api.headers).id
        err.write(f"[reliant terminal {terminal_id}; Ctrl-] detaches]\r\n")
        err.flush()
        client.resize_terminal(
            pb.ResizeTerminalRequest(terminal_id=terminal_id, cols=cols, rows=rows), headers=api.headers
        )
        stop = threading.Event()
        result: dict[str, Any] = {"code": 0, "reason": ""}

        def on_winch(signum: int, frame: Any) -> None:
            c, r = _size()
            with contextlib.suppress(ConnectError):
                client.resize_terminal(
                    pb.ResizeTerminalRequest(terminal_id=terminal_id, cols=c, rows=r), headers=api.headers
                )

        def read_output() -> None:
            try:
                for chunk in stream_client.attach_terminal(
                    pb.AttachTerminalRequest(terminal_id=terminal_id, offset=-1), headers=api.headers
                ):
                    if chunk.closed:
                        result.update(code=chunk.exit_code, reason=chunk.reason)
                        break
                    if chunk.data:
                        os.write(out.fileno(), chunk.data)
            except ConnectError as exc:
                result.update(code=1, reason=exc.message)
            finally:
                stop.set()

        reader = threading.Thread(target=read_output, name="term-output", daemon=True)
        stdin = sys.stdin.fileno()
        previous = signal.signal(signal.SIGWINCH, on_winch) if hasattr(signal, "SIGWINCH") else None
        detached = False
        with _raw(stdin):
            reader.start()
            while not stop.is_set():
                ready, _, _ = select.select([stdin], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(stdin, 4096)
                if not data or DETACH_KEY in data:
                    detached = DETACH_KEY in data
                    break
                try:
                    client.send_terminal_input(
                        pb.TerminalInputRequest(terminal_id=terminal_id, data=data), headers=api.headers
                    )
                except ConnectError as exc:
                    result.update(code=1, reason=exc.message)
                    break
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)
        if detached:
            err.write(f"\r\n[detached; reattach with: reliant term --attach {terminal_id}]\r\n")
            return 0
        stop.wait(2.0)
        time.sleep(0.05)
        err.write(f"\r\n[terminal closed: {result['reason'] or 'ended'}]\r\n")
        return int(result["code"] or 0)


__all__ = [
    "CliError",
    "mcp_change",
    "mcp_list",
    "term",
    "worktree_create",
    "worktree_detach",
    "worktree_diff",
    "worktree_list",
    "worktree_remove",
    "worktree_status",
]
