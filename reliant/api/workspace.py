"""The daemon's workspace services over ConnectRPC: MCP servers, terminals, background processes,
files and git worktrees (reliant/wire/v1/workspace.proto documents every RPC).

Each call finds the project (and worktree) in Postgres, then asks the project's daemon with a control
request through NATS and its gateway. Streams (terminal and process output) catch up from the
daemon's kept output, then follow its events, deduplicated by byte offset: no gap, no duplicate,
also across a reload.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from reliant.api.context import ApiContext
from reliant.bus import Incoming, subjects
from reliant.daemons import control
from reliant.db import chats as chats_db
from reliant.db import processes as processes_db
from reliant.db import projects as projects_db
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import Project
from reliant.errors import DaemonUnavailableError
from reliant.wire import daemon_events
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)
T = TypeVar("T")
Ctx = RequestContext[Any, Any]

CONTROL_TIMEOUT = 30.0
SLOW_TIMEOUT = 90.0  # MCP restarts, git
KEEPALIVE = 15.0
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TERMINAL = re.compile(r"^([A-Za-z0-9_-]{1,64})\.(t-[0-9a-f]{12})$")
_PROCESS = re.compile(r"^p-[0-9a-f]{10}$")
_FRAME = 8


def _uuid(kind: str, value: str) -> str:
    if not _UUID.match(value or ""):
        raise ConnectError(Code.INVALID_ARGUMENT, f"{kind} id must be a UUID, got {value!r}")
    return value.lower()


async def _guard(work: Awaitable[T]) -> T:
    try:
        return await work
    except ConnectError:
        raise
    except DaemonUnavailableError as exc:
        raise ConnectError(Code.UNAVAILABLE, str(exc)) from None
    except Exception:
        logger.exception("unexpected error in a workspace call")
        raise ConnectError(Code.INTERNAL, "internal error; the api's log has the details") from None


@dataclass(frozen=True, slots=True)
class Target:
    project: Project
    daemon_id: str
    workspace: str  # the project root, or a worktree's path


class Daemons:
    """Finding the daemon and directory a request is about, and asking it."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    async def project(self, project_id: str) -> Project:
        project = await projects_db.get(self.db, _uuid("project", project_id))
        if project is None:
            raise ConnectError(Code.NOT_FOUND, f"project {project_id} not found")
        return project

    async def target(self, project_id: str, worktree_id: str = "", chat_id: str = "") -> Target:
        project = await self.project(project_id)
        workspace = project.path
        if worktree_id:
            worktree = await worktrees_db.get(self.db, _uuid("worktree", worktree_id))
            if worktree is None or worktree.project_id != project.id or worktree.state != "active":
                raise ConnectError(Code.NOT_FOUND, f"worktree {worktree_id} not found in project {project.id}")
            workspace = worktree.path
        elif chat_id:
            active = await worktrees_db.active_for_chat(self.db, _uuid("chat", chat_id))
            if active is not None:
                workspace = active.path
        return Target(project, project.daemon_id, workspace)

    async def ask(self, daemon_id: str, name: str, body: dict[str, Any], timeout: float = CONTROL_TIMEOUT) -> Any:
        """A control request; a refusal becomes INVALID_ARGUMENT (FAILED_PRECONDITION for conflicts)."""
        reply = await control(self.ctx.bus, daemon_id, name, body, timeout=timeout)
        if isinstance(reply, dict) and reply.get("ok") is False:
            code = Code.FAILED_PRECONDITION if reply.get("conflict") else Code.INVALID_ARGUMENT
            if "is closed" in str(reply.get("error", "")) or "no background process" in str(reply.get("error", "")):
                code = Code.NOT_FOUND
            raise ConnectError(code, str(reply.get("error") or "refused by the daemon"))
        return reply


# -- MCP ------------------------------------------------------------------------------------------


def _mcp(info: dict[str, Any]) -> pb.McpServer:
    return pb.McpServer(
        name=info.get("name", ""),
        transport=info.get("transport", ""),
        target=info.get("target", ""),
        source=info.get("source", ""),
        status=info.get("status", ""),
        error=info.get("error", ""),
        tools=list(info.get("tools") or []),
        pid=int(info.get("pid") or 0),
        restarts=int(info.get("restarts") or 0),
        next_retry_unix=float(info.get("next_retry_unix") or 0),
        connected_unix=float(info.get("connected_unix") or 0),
        server_info=info.get("server_info", ""),
    )


class McpService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def list_mcp_servers(self, request: pb.ListMcpServersRequest, ctx: Ctx) -> pb.ListMcpServersResponse:
        async def work() -> pb.ListMcpServersResponse:
            t = await self.daemons.target(request.project_id, request.worktree_id)
            reply = await self.daemons.ask(t.daemon_id, "mcp.list", {"workspace": t.workspace})
            return pb.ListMcpServersResponse(
                servers=[_mcp(s) for s in reply.get("servers", [])],
                errors=list(reply.get("errors") or []),
                files=list(reply.get("files") or []),
            )

        return await _guard(work())

    async def restart_mcp_server(self, request: pb.McpServerRequest, ctx: Ctx) -> pb.McpServer:
        return await _guard(self._one("mcp.restart", request.project_id, request.worktree_id, request.name))

    async def set_mcp_server_enabled(self, request: pb.SetMcpServerEnabledRequest, ctx: Ctx) -> pb.McpServer:
        name = "mcp.enable" if request.enabled else "mcp.disable"
        return await _guard(self._one(name, request.project_id, request.worktree_id, request.name))

    async def _one(self, control_name: str, project_id: str, worktree_id: str, name: str) -> pb.McpServer:
        t = await self.daemons.target(project_id, worktree_id)
        body = {"workspace": t.workspace, "name": name}
        reply = await self.daemons.ask(t.daemon_id, control_name, body, timeout=SLOW_TIMEOUT)
        return _mcp(reply["server"])


# -- terminals ------------------------------------------------------------------------------------


def _terminal(daemon_id: str, project_id: str, info: dict[str, Any]) -> pb.Terminal:
    return pb.Terminal(
        id=f"{daemon_id}.{info.get('id', '')}",
        project_id=project_id,
        workspace=info.get("workspace", ""),
        pid=int(info.get("pid") or 0),
        cols=int(info.get("cols") or 0),
        rows=int(info.get("rows") or 0),
        state=info.get("state", ""),
        exit_code=int(info.get("exit_code") or 0),
        created_unix=float(info.get("created_unix") or 0),
        command=list(info.get("command") or []),
        output_bytes=int(info.get("output_bytes") or 0),
    )


def _split_terminal(terminal_id: str) -> tuple[str, str]:
    match = _TERMINAL.match(terminal_id or "")
    if match is None:
        raise ConnectError(Code.INVALID_ARGUMENT, f"invalid terminal id {terminal_id!r}")
    return match.group(1), match.group(2)


class OffsetFollower:
    """Bytes published as frames (8-byte offset + data) on one subject, delivered in order from a
    given offset: frames before `next` are dropped, later ones held until the gap is filled."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

    async def on_frame(self, msg: Incoming) -> None:
        payload = msg.data
        if len(payload) >= _FRAME:
            self.queue.put_nowait((int.from_bytes(payload[:_FRAME], "big"), payload[_FRAME:]))

    @staticmethod
    def trim(offset: int, data: bytes, wanted: int) -> tuple[int, bytes] | None:
        """The part of (offset, data) at or after `wanted`; None if nothing new."""
        end = offset + len(data)
        if end <= wanted:
            return None
        if offset < wanted:
            data = data[wanted - offset :]
            offset = wanted
        return offset, data


class TerminalService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def open_terminal(self, request: pb.OpenTerminalRequest, ctx: Ctx) -> pb.Terminal:
        async def work() -> pb.Terminal:
            t = await self.daemons.target(request.project_id, chat_id=request.chat_id)
            body: dict[str, Any] = {"workspace": t.workspace, "cols": request.cols or 80, "rows": request.rows or 24}
            if request.command:
                body["command"] = list(request.command)
            reply = await self.daemons.ask(t.daemon_id, "term.open", body)
            return _terminal(t.daemon_id, t.project.id, reply["terminal"])

        return await _guard(work())

    async def list_terminals(self, request: pb.ListTerminalsRequest, ctx: Ctx) -> pb.ListTerminalsResponse:
        async def work() -> pb.ListTerminalsResponse:
            project = await self.daemons.project(request.project_id)
            reply = await self.daemons.ask(project.daemon_id, "term.list", {})
            root = project.path.rstrip("/")
            mine = [
                i
                for i in reply.get("terminals", [])
                if i.get("workspace") in (root,) or str(i.get("workspace", "")).startswith(root + "/")
            ]
            return pb.ListTerminalsResponse(terminals=[_terminal(project.daemon_id, project.id, i) for i in mine])

        return await _guard(work())

    async def send_terminal_input(self, request: pb.TerminalInputRequest, ctx: Ctx) -> pb.TerminalAck:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        body = {"id": terminal, "data": base64.b64encode(request.data).decode()}
        await _guard(self.daemons.ask(daemon_id, "term.input", body, timeout=10))
        return pb.TerminalAck()

    async def resize_terminal(self, request: pb.ResizeTerminalRequest, ctx: Ctx) -> pb.TerminalAck:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        body = {"id": terminal, "cols": request.cols, "rows": request.rows}
        await _guard(self.daemons.ask(daemon_id, "term.resize", body, timeout=10))
        return pb.TerminalAck()

    async def close_terminal(self, request: pb.CloseTerminalRequest, ctx: Ctx) -> pb.Terminal:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        reply = await _guard(self.daemons.ask(daemon_id, "term.close", {"id": terminal}))
        return _terminal(daemon_id, "", reply["terminal"])

    async def attach_terminal(self, request: pb.AttachTerminalRequest, ctx: Ctx) -> AsyncIterator[pb.TerminalOutput]:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        bus = self.daemons.ctx.bus
        follower = OffsetFollower()
        exits: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_exit(msg: Incoming) -> None:
            with contextlib.suppress(ValueError):
                exits.put_nowait(json.loads(msg.data))
                follower.queue.put_nowait(None)  # wake the loop

        subs = [
            await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal}.output"), follower.on_frame),
            await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal}.exit"), on_exit),
        ]
        try:
            try:
                attached = await self.daemons.ask(daemon_id, "term.attach", {"id": terminal}, timeout=10)
            except ConnectError as exc:
                if exc.code is Code.NOT_FOUND:
                    yield pb.TerminalOutput(closed=True, reason=exc.message)
                    return
                raise
            except DaemonUnavailableError as exc:
                raise ConnectError(Code.UNAVAILABLE, str(exc)) from None
            start = int(attached["offset"])
            wanted = max(int(request.offset), 0) if request.offset > 0 else start
            first = OffsetFollower.trim(start, base64.b64decode(attached["data"]), wanted)
            if first is not None:
                yield pb.TerminalOutput(offset=first[0], data=first[1])
                wanted = first[0] + len(first[1])
            else:
                wanted = max(wanted, int(attached["end"]))
            held: dict[int, bytes] = {}
            last_touch = time.monotonic()
            while True:
                if not exits.empty() and follower.queue.empty():
                    done = exits.get_nowait()
                    yield pb.TerminalOutput(
                        closed=True, exit_code=int(done.get("exit_code") or 0), reason=str(done.get("reason", ""))
                    )
                    return
                try:
                    item = await asyncio.wait_for(follower.queue.get(), 0.2 if not exits.empty() else KEEPALIVE)
                except TimeoutError:
                    if not exits.empty():
                        continue
                    if time.monotonic() - last_touch >= KEEPALIVE:
                        last_touch = time.monotonic()
                        try:
                            await self.daemons.ask(daemon_id, "term.touch", {"id": terminal}, timeout=10)
                        except ConnectError as exc:
                            yield pb.TerminalOutput(closed=True, reason=exc.message)
                            return
                        except DaemonUnavailableError as exc:
                            yield pb.TerminalOutput(closed=True, reason=f"the daemon is unreachable: {exc}")
                            return
                    yield pb.TerminalOutput(keepalive=True, offset=wanted)
                    continue
                if item is None:
                    continue
                offset, data = item
                held[offset] = data
                while True:
                    ready = next(((o, d) for o, d in held.items() if o <= wanted), None)
                    if ready is None:
                        break
                    del held[ready[0]]
                    piece = OffsetFollower.trim(ready[0], ready[1], wanted)
                    if piece is not None:
                        yield pb.TerminalOutput(offset=piece[0], data=piece[1])
                        wanted = piece[0] + len(piece[1])
        finally:
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()


# -- processes ------------------------------------------------------------------------------------


def _process(record: processes_db.ProcessRecord) -> pb.Process:
    return pb.Process(
        id=record.id,
        daemon_id=record.daemon_id,
        pid=record.pid,
        command=record.command,
        workspace=record.workspace,
        chat_id=record.chat_id,
        state=record.state,
        exit_code=record.exit_code or 0,
        has_exit_code=record.exit_code is not None,
        ports=list(record.ports),
        output_bytes=record.output_bytes,
        started_unix=record.started_at,
        finished_unix=record.finished_at,
    )


def _live_process(daemon_id: str, doc: dict[str, Any]) -> pb.Process:
    code = doc.get("exit_code")
    return pb.Process(
        id=str(doc.get("id", "")),
        daemon_id=daemon_id,
        pid=int(doc.get("pid") or 0),
        command=str(doc.get("command", "")),
        workspace=str(doc.get("workspace", "")),
        chat_id=str(doc.get("chat_id", "")),
        state=str(doc.get("state", "")),
        exit_code=int(code or 0),
        has_exit_code=code is not None,
        ports=[int(p) for p in doc.get("ports") or []],
        output_bytes=int(doc.get("output_bytes") or 0),
        started_unix=float(doc.get("started_unix") or 0),
        finished_unix=float(doc.get("finished_unix") or 0),
    )


class ProcessService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def list_processes(self, request: pb.ListProcessesRequest, ctx: Ctx) -> pb.ListProcessesResponse:
        async def work() -> pb.ListProcessesResponse:
            project = await self.daemons.project(request.project_id)
            chat_id = _uuid("chat", request.chat_id) if request.chat_id else ""
            records = await processes_db.list_for(
                self.daemons.db, project.daemon_id, workspace=project.path, chat_id=chat_id
            )
            return pb.ListProcessesResponse(processes=[_process(r) for r in records])

        return await _guard(work())

    async def _record(self, process_id: str) -> processes_db.ProcessRecord:
        if not _PROCESS.match(process_id or ""):
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid process id {process_id!r}")
        record = await processes_db.find(self.daemons.db, process_id)
        if record is None:
            raise ConnectError(Code.NOT_FOUND, f"process {process_id} not found")
        return record

    async def kill_process(self, request: pb.KillProcessRequest, ctx: Ctx) -> pb.Process:
        async def work() -> pb.Process:
            record = await self._record(request.process_id)
            if record.state != "running":
                return _process(record)
            reply = await self.daemons.ask(record.daemon_id, "proc.kill", {"id": record.id})
            return _live_process(record.daemon_id, reply["process"])

        return await _guard(work())

    async def stream_process_output(
        self, request: pb.StreamProcessOutputRequest, ctx: Ctx
    ) -> AsyncIterator[pb.ProcessOutput]:
        record = await _guard(self._record(request.process_id))
        daemon_id, process_id = record.daemon_id, record.id
        bus = self.daemons.ctx.bus
        follower = OffsetFollower()
        states: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_state(msg: Incoming) -> None:
            with contextlib.suppress(ValueError, AttributeError):
                doc = json.loads(msg.data).get("process") or {}
                if doc.get("id") == process_id:
                    states.put_nowait(doc)

        subs = []
        if request.follow:
            subs = [
                await bus.subscribe(subjects.daemon_event(daemon_id, f"proc.{process_id}.output"), follower.on_frame),
                await bus.subscribe(subjects.daemon_event(daemon_id, daemon_events.PROC_STATE), on_state),
            ]
        try:
            wanted = max(int(request.offset), 0)
            live: dict[str, Any] | None = None
            while True:  # catch up from the daemon's kept output, page by page
                try:
                    page = await self.daemons.ask(daemon_id, "proc.output", {"id": process_id, "offset": wanted})
                except (ConnectError, DaemonUnavailableError):
                    # The daemon no longer knows it (restarted): what Postgres says is all there is.
                    fresh = await processes_db.find(self.daemons.db, process_id)
                    yield pb.ProcessOutput(offset=wanted, process=_process(fresh or record))
                    return
                live = page["process"]
                data = base64.b64decode(page["data"])
                if data:
                    yield pb.ProcessOutput(offset=int(page["offset"]), data=data)
                wanted = int(page["end"])
                if wanted >= int(page["total"]):
                    break
            if not request.follow or live is None or live.get("state") != "running":
                yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, live or {}))
                return
            yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, live))
            while True:
                getter = asyncio.ensure_future(follower.queue.get())
                stater = asyncio.ensure_future(states.get())
                done, _ = await asyncio.wait({getter, stater}, timeout=KEEPALIVE, return_when=asyncio.FIRST_COMPLETED)
                for task in (getter, stater):
                    if task not in done:
                        task.cancel()
                if getter in done and (item := getter.result()) is not None:
                    piece = OffsetFollower.trim(item[0], item[1], wanted)
                    if piece is not None and piece[0] == wanted:
                        yield pb.ProcessOutput(offset=piece[0], data=piece[1])
                        wanted += len(piece[1])
                if stater in done:
                    doc = stater.result()
                    if doc.get("state") != "running":
                        # Its last output was sent before its exit event: read what we missed.
                        with contextlib.suppress(ConnectError, DaemonUnavailableError):
                            page = await self.daemons.ask(
                                daemon_id, "proc.output", {"id": process_id, "offset": wanted}
                            )
                            data = base64.b64decode(page["data"])
                            if data and int(page["offset"]) == wanted:
                                yield pb.ProcessOutput(offset=wanted, data=data)
                                wanted += len(data)
                        yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, doc))
                        return
                    yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, doc))
                if not done:
                    yield pb.ProcessOutput(offset=wanted)
        finally:
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()


# -- files ----------------------------------------------------------------------------------------


class FileSystemService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def _ask(self, project_id: str, worktree_id: str, name: str, body: dict[str, Any]) -> Any:
        t = await self.daemons.target(project_id, worktree_id)
        return await self.daemons.ask(t.daemon_id, name, {"workspace": t.workspace, **body})

    async def list_directory(self, request: pb.ListDirectoryRequest, ctx: Ctx) -> pb.ListDirectoryResponse:
        async def work() -> pb.ListDirectoryResponse:
            body = {"path": request.path or ".", "show_ignored": request.show_ignored}
            reply = await self._ask(request.project_id, request.worktree_id, "fs.tree", body)
            return pb.ListDirectoryResponse(
                path=reply["path"], entries=[pb.FileEntry(**e) for e in reply["entries"]], truncated=reply["truncated"]
            )

        return await _guard(work())

    async def read_file(self, request: pb.ReadFileRequest, ctx: Ctx) -> pb.ReadFileResponse:
        async def work() -> pb.ReadFileResponse:
            body: dict[str, Any] = {"path": request.path}
            if request.max_bytes:
                body["max_bytes"] = request.max_bytes
            r = await self._ask(request.project_id, request.worktree_id, "fs.read", body)
            return pb.ReadFileResponse(
                path=r["path"],
                size=r["size"],
                sha256=r["sha256"],
                mtime_unix=r["mtime_unix"],
                binary=r["binary"],
                mime=r["mime"],
                text=r["content"] if r["encoding"] == "utf-8" else "",
                data=base64.b64decode(r["content"]) if r["encoding"] == "base64" else b"",
                truncated=r["truncated"],
            )

        return await _guard(work())

    async def save_file(self, request: pb.SaveFileRequest, ctx: Ctx) -> pb.SaveFileResponse:
        async def work() -> pb.SaveFileResponse:
            body: dict[str, Any] = {"path": request.path, "base_sha256": request.base_sha256, "force": request.force}
            if request.data:
                body["data"] = base64.b64encode(request.data).decode()
            else:
                body["content"] = request.text
            r = await self._ask(request.project_id, request.worktree_id, "fs.save", body)
            return pb.SaveFileResponse(path=r["path"], sha256=r["sha256"], size=r["size"], created=r["created"])

        return await _guard(work())

    async def create_path(self, request: pb.CreatePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "kind": "dir" if request.directory else "file", "content": request.text}
        r = await _guard(self._ask(request.project_id, request.worktree_id, "fs.create", body))
        return pb.PathResponse(path=r["path"])

    async def delete_path(self, request: pb.DeletePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "recursive": request.recursive}
        r = await _guard(self._ask(request.project_id, request.worktree_id, "fs.delete", body))
        return pb.PathResponse(path=r["path"])

    async def rename_path(self, request: pb.RenamePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "to": request.to, "overwrite": request.overwrite}
        r = await _guard(self._ask(request.project_id, request.worktree_id, "fs.rename", body))
        return pb.PathResponse(path=r["path"], to=r["to"])

    async def search_files(self, request: pb.SearchFilesRequest, ctx: Ctx) -> pb.SearchFilesResponse:
        body: dict[str, Any] = {
            "query": request.query,
            "mode": "content" if request.content else "name",
            "regex": request.regex,
            "case_sensitive": request.case_sensitive,
            "path": request.path or ".",
        }
        if request.max_results:
            body["max_results"] = request.max_results
        r = await _guard(self._ask(request.project_id, request.worktree_id, "fs.search", body))
        return pb.SearchFilesResponse(
            matches=[
                pb.SearchMatch(path=m["path"], line=m.get("line", 0), text=m.get("text", "")) for m in r["results"]
            ],
            truncated=r["truncated"],
        )


# -- worktrees ------------------------------------------------------------------------------------


def _worktree(w: worktrees_db.WorktreeRecord) -> pb.Worktree:
    return pb.Worktree(
        id=w.id,
        project_id=w.project_id,
        chat_id=w.chat_id,
        name=w.name,
        branch=w.branch,
        path=w.path,
        base_commit=w.base_commit,
        state=w.state,
        created_unix=w.created_at,
    )


class WorktreeService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def _get(self, worktree_id: str) -> tuple[worktrees_db.WorktreeRecord, Project]:
        worktree = await worktrees_db.get(self.daemons.db, _uuid("worktree", worktree_id))
        if worktree is None:
            raise ConnectError(Code.NOT_FOUND, f"worktree {worktree_id} not found")
        return worktree, await self.daemons.project(worktree.project_id)

    async def create_worktree(self, request: pb.CreateWorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            project = await self.daemons.project(request.project_id)
            chat_id = ""
            if request.chat_id:
                chat = await chats_db.get(self.daemons.db, _uuid("chat", request.chat_id))
                if chat is None or chat.project_id != project.id:
                    raise ConnectError(Code.NOT_FOUND, f"chat {request.chat_id} not found in project {project.id}")
                if await worktrees_db.active_for_chat(self.daemons.db, chat.id) is not None:
                    raise ConnectError(Code.FAILED_PRECONDITION, f"chat {chat.id} already has a worktree")
                chat_id = chat.id
            name = request.name or (f"chat-{chat_id[:8]}" if chat_id else "")
            if not name:
                raise ConnectError(Code.INVALID_ARGUMENT, "a worktree needs a name (or a chat)")
            body = {"workspace": project.path, "name": name, "branch": request.branch, "base": request.base}
            reply = await self.daemons.ask(project.daemon_id, "worktree.create", body, timeout=SLOW_TIMEOUT)
            info = reply["worktree"]
            record = await worktrees_db.create(
                self.daemons.db,
                project_id=project.id,
                chat_id=chat_id,
                name=info["name"],
                branch=info["branch"],
                path=info["path"],
                base_commit=info["base"],
            )
            return _worktree(record)

        return await _guard(work())

    async def list_worktrees(self, request: pb.ListWorktreesRequest, ctx: Ctx) -> pb.ListWorktreesResponse:
        async def work() -> pb.ListWorktreesResponse:
            project = await self.daemons.project(request.project_id)
            found = await worktrees_db.for_project(self.daemons.db, project.id, include_removed=request.include_removed)
            return pb.ListWorktreesResponse(worktrees=[_worktree(w) for w in found])

        return await _guard(work())

    async def get_worktree_status(self, request: pb.WorktreeRequest, ctx: Ctx) -> pb.WorktreeStatus:
        async def work() -> pb.WorktreeStatus:
            worktree, project = await self._get(request.worktree_id)
            r = await self.daemons.ask(
                project.daemon_id, "worktree.status", {"workspace": project.path, "path": worktree.path}
            )
            return pb.WorktreeStatus(
                branch=r["branch"],
                head=r["head"],
                ahead=r["ahead"],
                behind=r["behind"],
                files=[pb.ChangedFile(**f) for f in r["files"]],
            )

        return await _guard(work())

    async def get_worktree_diff(self, request: pb.WorktreeDiffRequest, ctx: Ctx) -> pb.WorktreeDiff:
        async def work() -> pb.WorktreeDiff:
            worktree, project = await self._get(request.worktree_id)
            body = {"workspace": project.path, "path": worktree.path, "base": request.base or worktree.base_commit}
            r = await self.daemons.ask(project.daemon_id, "worktree.diff", body, timeout=SLOW_TIMEOUT)
            return pb.WorktreeDiff(diff=r["diff"], files=r["files"], truncated=r["truncated"])

        return await _guard(work())

    async def remove_worktree(self, request: pb.RemoveWorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            worktree, project = await self._get(request.worktree_id)
            if worktree.state == "active":
                body = {
                    "workspace": project.path,
                    "path": worktree.path,
                    "force": request.force,
                    "delete_branch": request.delete_branch,
                }
                try:
                    await self.daemons.ask(project.daemon_id, "worktree.remove", body, timeout=SLOW_TIMEOUT)
                except ConnectError as exc:
                    if "changes" in exc.message or "modified" in exc.message or "untracked" in exc.message:
                        raise ConnectError(Code.FAILED_PRECONDITION, exc.message) from None
                    raise
                await worktrees_db.mark_removed(self.daemons.db, worktree.id)
            found = await worktrees_db.get(self.daemons.db, worktree.id)
            assert found is not None
            return _worktree(found)

        return await _guard(work())

    async def detach_worktree(self, request: pb.WorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            worktree, _ = await self._get(request.worktree_id)
            await worktrees_db.detach(self.daemons.db, worktree.id)
            found = await worktrees_db.get(self.daemons.db, worktree.id)
            assert found is not None
            return _worktree(found)

        return await _guard(work())


def workspace_apps(ctx: ApiContext) -> list[Any]:
    """The ConnectRPC applications of this module, for the api's dispatcher."""
    from reliant.wire.v1 import workspace_connect as connect

    daemons = Daemons(ctx)
    return [
        connect.McpServiceASGIApplication(McpService(daemons)),
        connect.TerminalServiceASGIApplication(TerminalService(daemons)),
        connect.ProcessServiceASGIApplication(ProcessService(daemons)),
        connect.FileSystemServiceASGIApplication(FileSystemService(daemons)),
        connect.WorktreeServiceASGIApplication(WorktreeService(daemons)),
    ]
