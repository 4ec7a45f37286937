"""The daemon role: executes tools on this machine for whichever worker asks, via the gateway.

Requests arrive by subject (what follows `reliant.daemon.<id>.`):

- `tools`: a ToolCall (reliant/wire/tools.py) -> a ToolResult.
- `ctl.tools.list` `{"workspace"?: path}` -> `{"ok": true, "tools": [{"name", "description",
  "input_schema", "read_only"}, ...], "complete": bool}`: the tools offered to the model for calls
  in that workspace (built-in ones, then `mcp__<server>__<tool>` of its MCP servers). `complete` is
  false while some MCP server is still starting: ask again for the full list.
- `ctl.workspace.add` `{"path": "/abs/dir"}` -> `{"ok": true, "path": "/real/dir"}`, or
  `{"ok": false, "error": "..."}` when the path is not an existing directory. The new list is then
  announced to the gateway and kept in the data dir for the next start; its MCP servers start (those
  of the project's own files only once the user trusts it).
- `ctl.workspace.remove` `{"path": "/abs/dir"}` -> `{"ok": true, "removed": bool}`: the daemon stops
  serving an added workspace and its MCP servers (nothing on disk is touched); `removed` is false
  for a workspace it did not add (unknown, or configured with `--workspace`, which stays).
- `ctl.workspace.list` `{}` -> `{"workspaces": ["/real/dir", ...]}`.
- `ctl.trust.*` (trust.py): whether the user trusts what a workspace's files would run.
- `ctl.workflows.*` (workflow_files.py): a project's own workflow definitions and presets, only
  while the project is trusted; `ctl.workflows.save` (workflow_save.py) writes one.
- `ctl.tool.cancel` `{"chat_id", "tool_call_id"}` -> `{"ok": true, "cancelled": bool}` once the
  execution has stopped (its result: interrupted, "cancelled by the user"); `cancelled` is false
  when no such call was running.
- `ctl.proc.list {workspace?}`, `ctl.proc.output {id, offset?, max_bytes?}`, `ctl.proc.kill {id}`:
  background processes (processes.py).
- `ctl.mcp.*` (mcp/manager.py), `ctl.term.*` (terminals.py), `ctl.fs.*` (filesystem.py),
  `ctl.worktree.*` (worktrees.py), `ctl.context.*` (context.py: instruction files, environment,
  `@path` attachments), `ctl.dirs.list` (directories.py: the directories a project could be in).

Requests over MAX_REQUEST_BYTES are refused; a reply over MAX_REPLY_BYTES is replaced by an error.
A malformed control request, or an unknown control subject, gets `{"ok": false, "error": "..."}`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from reliant.config import Settings
from reliant.daemon.connection import DaemonConnection, DaemonIdentity
from reliant.daemon.context import ProjectContext
from reliant.daemon.directories import DirectoryBrowser
from reliant.daemon.events import EventSender
from reliant.daemon.filesystem import FileService
from reliant.daemon.mcp.manager import McpManager
from reliant.daemon.processes import BackgroundProcesses, ProcessError
from reliant.daemon.terminals import Terminals
from reliant.daemon.tools import BUILTIN_TOOLS, ToolFailure, ToolHost
from reliant.daemon.trust import TrustControls, TrustStore
from reliant.daemon.workflow_files import WorkflowFiles
from reliant.daemon.workflow_save import WorkflowSaver
from reliant.daemon.workspaces import WORKSPACES_FILE, WorkspaceError
from reliant.daemon.worktrees import Worktrees
from reliant.wire import daemon_events
from reliant.wire.grpc_tls import channel_tls
from reliant.wire.tools import decode_call, encode_result

logger = logging.getLogger(__name__)

# Request handlers wait on executions without holding them; the host limits what actually runs.
MAX_PENDING_REQUESTS = 1024
MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_REPLY_BYTES = 4 * 1024 * 1024
MAX_PROCESS_READ = 512 * 1024
FLUSH_ON_SHUTDOWN = 1.0  # seconds the last events may take to leave

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _refused(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


class DaemonRouter:
    """Dispatches a request by subject to the part of the daemon that serves it."""

    def __init__(self, host: ToolHost, announce: Callable[[], Awaitable[None]] | None = None) -> None:
        self.host = host
        self._announce = announce
        self._handlers: dict[str, Handler] = {}
        self.register(self._process_controls())

    def register(self, handlers: dict[str, Handler]) -> None:
        """Serve `ctl.<name>` with each handler (a ToolFailure it raises becomes a refusal)."""
        self._handlers.update(handlers)

    async def handle(self, subject: str, payload: bytes) -> bytes:
        if len(payload) > MAX_REQUEST_BYTES:
            error = f"request of {len(payload):,} bytes refused: the limit is {MAX_REQUEST_BYTES:,}"
            return _json({"ok": False, "status": "error", "error": error})
        if subject == "tools":
            try:
                call = decode_call(payload)
            except (ValueError, TypeError) as exc:
                return _json({"status": "error", "error": f"malformed tool call: {exc}"})
            reply = encode_result(await self.host.execute(call))
            if len(reply) > MAX_REPLY_BYTES:
                error = f"the tool's result is {len(reply):,} bytes, over the {MAX_REPLY_BYTES:,}-byte limit"
                return _json({"id": call.tool_call_id, "status": "error", "error": error})
            return reply
        if subject.startswith("ctl."):
            reply = _json(await self._control(subject.removeprefix("ctl."), payload))
            if len(reply) > MAX_REPLY_BYTES:
                return _json(_refused(f"the reply is {len(reply):,} bytes, over the {MAX_REPLY_BYTES:,}-byte limit"))
            return reply
        return _json({"status": "error", "error": f"unknown daemon subject {subject!r}"})

    async def _control(self, name: str, payload: bytes) -> Any:
        try:
            body = json.loads(payload) if payload.strip() else {}
        except ValueError as exc:
            return _refused(f"malformed control request: {exc}")
        if not isinstance(body, dict):
            return _refused("a control request must be a JSON object")
        if name == "tools.list":
            workspace = body.get("workspace", "")
            tools, complete = await self.host.offered(workspace if isinstance(workspace, str) else "")
            return {"ok": True, "tools": [dataclasses.asdict(d) for d in tools], "complete": complete}
        if name == "workspace.list":
            return {"workspaces": [str(p) for p in self.host.workspaces]}
        if name == "workspace.add":
            return await self._add_workspace(body)
        if name == "workspace.remove":
            return await self._remove_workspace(body)
        if name == "tool.cancel":
            chat_id, tool_call_id = body.get("chat_id", ""), body.get("tool_call_id")
            if not isinstance(chat_id, str) or not isinstance(tool_call_id, str) or not tool_call_id:
                return _refused("tool.cancel needs a string chat_id and a non-empty string tool_call_id")
            # Only a user's stop asks for this (the api's, or the worker's when the workflow cancels).
            cancelled = await self.host.cancel(chat_id, tool_call_id, reason="cancelled by the user")
            return {"ok": True, "cancelled": cancelled}
        handler = self._handlers.get(name)
        if handler is None:
            return _refused(f"unknown control subject ctl.{name}")
        try:
            return await handler(body)
        except (ToolFailure, ProcessError) as exc:
            return _refused(str(exc))
        except (ValueError, TypeError) as exc:
            return _refused(f"malformed ctl.{name} request: {exc}")
        except OSError as exc:  # a name too long, a path that is not a directory: the request's fault
            return _refused(f"ctl.{name}: {exc.strerror or exc}")

    async def _add_workspace(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body.get("path")
        if not isinstance(path, str) or not path:
            return _refused("workspace.add needs a non-empty string path")
        try:
            added = self.host.add_workspace(path)
        except WorkspaceError as exc:
            return _refused(str(exc))
        logger.info("workspace %s added", added)
        if self.host.provider is not None:
            await self.host.provider.open(added)
        if self._announce is not None:
            await self._announce()
        return {"ok": True, "path": str(added)}

    async def _remove_workspace(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body.get("path")
        if not isinstance(path, str) or not path:
            return _refused("workspace.remove needs a non-empty string path")
        try:
            removed = self.host.remove_workspace(path)
        except WorkspaceError as exc:
            return _refused(str(exc))
        if removed is not None:
            logger.info("workspace %s removed", removed)
            if self.host.provider is not None:
                await self.host.provider.close(removed)
            if self._announce is not None:
                await self._announce()
        return {"ok": True, "removed": removed is not None}

    def _process_controls(self) -> dict[str, Handler]:
        processes = self.host.processes

        async def list_(body: dict[str, Any]) -> Any:
            workspace = body.get("workspace", "")
            return {
                "ok": True,
                "boot_id": processes.boot_id,
                "processes": [p.record() for p in processes.in_workspace(str(workspace or ""))],
            }

        async def output(body: dict[str, Any]) -> Any:
            proc = processes.get(str(body.get("id", "")))
            limit = max(1, min(int(body.get("max_bytes") or MAX_PROCESS_READ), MAX_PROCESS_READ))
            if body.get("tail"):
                offset, data = proc.output.tail(limit)
            else:
                offset, data = proc.output.read(int(body.get("offset") or 0), limit)
            return {
                "ok": True,
                "process": proc.record(),
                "offset": offset,
                "data": base64.b64encode(data).decode(),
                "end": offset + len(data),
                "total": proc.output.total,
            }

        async def kill(body: dict[str, Any]) -> Any:
            proc = await processes.kill(str(body.get("id", "")))
            return {"ok": True, "process": proc.record()}

        return {"proc.list": list_, "proc.output": output, "proc.kill": kill}


class DaemonRole:
    name = "daemon"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings
        self.events = EventSender()
        self.trust = TrustStore(s.data_path)
        self.mcp = McpManager(s.data_path, self.events, self.trust)
        self.workflow_files = WorkflowFiles(self.trust)
        self.host = ToolHost(
            s.daemon_id,
            BUILTIN_TOOLS,
            s.daemon_workspaces,
            workspace_file=s.data_path / WORKSPACES_FILE,
            data_dirs=[s.data_path],
            workspace_roots=s.daemon_workspace_roots,
            data_dir=s.data_path,
            provider=self.mcp,
            processes=BackgroundProcesses(self.events),
            project_refusal=self.workflow_files.refusal,
        )
        self.terminals = Terminals(self.events)
        self.files = FileService()
        self.worktrees = Worktrees()
        self.context = ProjectContext()
        self.directories = DirectoryBrowser([s.data_path], s.daemon_workspace_roots)
        self.router = DaemonRouter(self.host, announce=self._announce)
        trust = TrustControls(self.trust, self.mcp.trust_view, self.mcp.refresh)
        saver = WorkflowSaver(self.trust, self.mcp.refresh)
        parts = (
            self.mcp,
            trust,
            self.workflow_files,
            saver,
            self.terminals,
            self.files,
            self.worktrees,
            self.context,
            self.directories,
        )
        for part in parts:
            self.router.register(part.controls(self.host.workspace_for))
        self.connection = DaemonConnection(
            s.gateway_address,
            DaemonIdentity(s.daemon_id, s.daemon_name or socket.gethostname(), s.daemon_token, self.host.boot_id),
            self.router.handle,
            workspaces=lambda: [str(p) for p in self.host.workspaces],
            max_concurrency=MAX_PENDING_REQUESTS,
            on_connected=self._connected,
            tls=channel_tls(
                s.daemon_tls, s.daemon_tls_ca, s.daemon_tls_cert, s.daemon_tls_key, s.daemon_tls_server_name
            ),
            insecure_plaintext_token=s.daemon_insecure_plaintext_token,
            # A dead earlier run of this daemon holds its id until the gateway times it out.
            id_in_use_patience=s.heartbeat_timeout + 5.0,
        )
        self.events.publish = self.connection.publish

    async def _announce(self) -> None:
        await self.connection.announce_workspaces()

    async def _connected(self) -> None:
        """Each (re)connection: tell the recorders what runs here, so processes of an earlier run
        that are not among them can be marked lost."""
        await self.connection.publish(daemon_events.PROC_SYNC, self.host.processes.sync_payload())

    def children(self) -> list[int]:
        """Pids of the process groups this daemon runs (background processes, terminals, MCP)."""
        return [*self.host.processes.running_pids(), *self.terminals.pids(), *self.mcp.processes()]

    async def run(self, ready: asyncio.Event) -> None:
        self.host.start()
        connection = asyncio.create_task(self.connection.run(ready), name="daemon-connection")
        try:
            # asyncio.wait, not await: a cancel of this role must not cut the connection before
            # what runs here has stopped and said so (exit events for the recorders).
            await asyncio.wait({connection})
            connection.result()
        finally:
            # Calls cut short by the shutdown stay unanswered (outcome unknown to the worker, as
            # when a daemon dies); what runs here stops and says so before the stream closes.
            self.connection.stop_serving()
            await self.terminals.shutdown()
            await self.host.shutdown()
            await self.events.flush(FLUSH_ON_SHUTDOWN)
            await self.connection.close(FLUSH_ON_SHUTDOWN)
            connection.cancel()
            await asyncio.gather(connection, return_exceptions=True)
            await self.events.shutdown()
