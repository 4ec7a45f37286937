"""The daemon role: executes tools on this machine for whichever worker asks, via the gateway.

Requests arrive by subject (what follows `reliant.daemon.<id>.`):

- `tools`: a ToolCall (reliant/wire/tools.py) -> a ToolResult.
- `ctl.tools.list` `{}` -> `[{"name", "description", "input_schema", "read_only"}, ...]`, the tools
  offered to the model.
- `ctl.workspace.add` `{"path": "/abs/dir"}` -> `{"ok": true, "path": "/real/dir"}`, or
  `{"ok": false, "error": "..."}` when the path is not an existing directory. The new list is then
  announced to the gateway and kept in the data dir for the next start.
- `ctl.workspace.list` `{}` -> `{"workspaces": ["/real/dir", ...]}`.
- `ctl.tool.cancel` `{"chat_id", "tool_call_id"}` -> `{"ok": true, "cancelled": bool}` once the
  execution has stopped; `cancelled` is false when no such call was running.

A malformed control request, or an unknown control subject, gets `{"ok": false, "error": "..."}`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from reliant.config import Settings
from reliant.daemon.connection import DaemonConnection, DaemonIdentity
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.workspaces import WORKSPACES_FILE, WorkspaceError
from reliant.wire.tools import decode_call, encode_result

logger = logging.getLogger(__name__)

# Request handlers wait on executions without holding them; the host limits what actually runs.
MAX_PENDING_REQUESTS = 1024


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _refused(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


class DaemonRouter:
    """Dispatches a request by subject to the part of the daemon that serves it."""

    def __init__(self, host: ToolHost, announce: Callable[[], Awaitable[None]] | None = None) -> None:
        self.host = host
        self._announce = announce

    async def handle(self, subject: str, payload: bytes) -> bytes:
        if subject == "tools":
            try:
                call = decode_call(payload)
            except (ValueError, TypeError) as exc:
                return _json({"status": "error", "error": f"malformed tool call: {exc}"})
            return encode_result(await self.host.execute(call))
        if subject.startswith("ctl."):
            return _json(await self._control(subject.removeprefix("ctl."), payload))
        return _json({"status": "error", "error": f"unknown daemon subject {subject!r}"})

    async def _control(self, name: str, payload: bytes) -> Any:
        try:
            body = json.loads(payload) if payload.strip() else {}
        except ValueError as exc:
            return _refused(f"malformed control request: {exc}")
        if not isinstance(body, dict):
            return _refused("a control request must be a JSON object")
        if name == "tools.list":
            return [dataclasses.asdict(d) for d in self.host.definitions()]
        if name == "workspace.list":
            return {"workspaces": [str(p) for p in self.host.workspaces]}
        if name == "workspace.add":
            return await self._add_workspace(body)
        if name == "tool.cancel":
            chat_id, tool_call_id = body.get("chat_id", ""), body.get("tool_call_id")
            if not isinstance(chat_id, str) or not isinstance(tool_call_id, str) or not tool_call_id:
                return _refused("tool.cancel needs a string chat_id and a non-empty string tool_call_id")
            cancelled = await self.host.cancel(chat_id, tool_call_id, reason="cancelled on request")
            return {"ok": True, "cancelled": cancelled}
        return _refused(f"unknown control subject ctl.{name}")

    async def _add_workspace(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body.get("path")
        if not isinstance(path, str) or not path:
            return _refused("workspace.add needs a non-empty string path")
        try:
            added = self.host.add_workspace(path)
        except WorkspaceError as exc:
            return _refused(str(exc))
        logger.info("workspace %s added", added)
        if self._announce is not None:
            await self._announce()
        return {"ok": True, "path": str(added)}


class DaemonRole:
    name = "daemon"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings
        self.host = ToolHost(
            s.daemon_id,
            BUILTIN_TOOLS,
            s.daemon_workspaces,
            workspace_file=s.data_path / WORKSPACES_FILE,
        )
        self.router = DaemonRouter(self.host, announce=self._announce)
        self.connection = DaemonConnection(
            s.gateway_address,
            DaemonIdentity(s.daemon_id, s.daemon_name or socket.gethostname(), s.daemon_token),
            self.router.handle,
            workspaces=lambda: [str(p) for p in self.host.workspaces],
            max_concurrency=MAX_PENDING_REQUESTS,
        )

    async def _announce(self) -> None:
        await self.connection.announce_workspaces()

    async def run(self, ready: asyncio.Event) -> None:
        self.host.start()
        try:
            await self.connection.run(ready)
        finally:
            await self.host.shutdown()
