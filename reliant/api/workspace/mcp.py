"""MCP servers of a workspace: status, restart, enable and disable; adding one to the project's own
configuration."""

from __future__ import annotations

import logging
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.workspace.daemons import (
    SLOW_TIMEOUT,
    Ctx,
    Daemons,
    guard,
)
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)


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
                trust=str(reply.get("trust") or ""),
                trust_note=str(reply.get("trust_note") or ""),
                untrusted=[_mcp(s) for s in reply.get("untrusted") or []],
            )

        return await guard(work())

    async def restart_mcp_server(self, request: pb.McpServerRequest, ctx: Ctx) -> pb.McpServer:
        return await guard(self._one("mcp.restart", request.project_id, request.worktree_id, request.name))

    async def set_mcp_server_enabled(self, request: pb.SetMcpServerEnabledRequest, ctx: Ctx) -> pb.McpServer:
        name = "mcp.enable" if request.enabled else "mcp.disable"
        return await guard(self._one(name, request.project_id, request.worktree_id, request.name))

    async def _one(self, control_name: str, project_id: str, worktree_id: str, name: str) -> pb.McpServer:
        t = await self.daemons.target(project_id, worktree_id)
        body = {"workspace": t.workspace, "name": name}
        reply = await self.daemons.ask(t.daemon_id, control_name, body, timeout=SLOW_TIMEOUT)
        return _mcp(reply["server"])

    async def add_mcp_server(self, request: pb.AddMcpServerRequest, ctx: Ctx) -> pb.AddMcpServerResponse:
        async def work() -> pb.AddMcpServerResponse:
            entry: dict[str, Any]
            if request.url and request.command:
                raise ConnectError(Code.INVALID_ARGUMENT, "give either command (stdio) or url (http), not both")
            if request.url:
                entry = {"type": "http", "url": request.url}
                if request.headers:
                    entry["headers"] = dict(request.headers)
            elif request.command.strip():
                entry = {"command": request.command.strip()}
                if request.args:
                    entry["args"] = list(request.args)
                if request.env:
                    entry["env"] = dict(request.env)
            else:
                raise ConnectError(Code.INVALID_ARGUMENT, "command is required (or url, for an http server)")
            t = await self.daemons.target(request.project_id)
            body = {"workspace": t.workspace, "name": request.name, "server": entry, "local": request.local}
            reply = await self.daemons.ask(t.daemon_id, "mcp.config.add", body, timeout=SLOW_TIMEOUT)
            return pb.AddMcpServerResponse(
                file=str(reply.get("file") or ""),
                trust=str(reply.get("trust") or ""),
                trust_note=str(reply.get("trust_note") or ""),
            )

        return await guard(work())
