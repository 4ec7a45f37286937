"""The MCP servers of every workspace on this daemon, and their tools as the ToolHost sees them.

Servers are per workspace (their configuration comes partly from the project, and stdio servers run
in the project root). A workspace's servers start when it is first used (tools listed, a tool
called, the MCP list asked for); the configuration files are read again on each of those and
servers whose entry changed are restarted. Enabling or disabling a server through the api is kept
in `<data-dir>/mcp-state.json` and wins over the files' `disabled`.

The project's own files count only while the user trusts the project (daemon/trust.py): until then
(and again as soon as they change) only the data dir's servers run, and the project's are listed
as `untrusted` with the command lines they would run. Servers of a project whose trust is revoked
or outdated are stopped at the next reading of the files.

Control subjects (payloads are JSON objects; `workspace` is a registered workspace path):

- `ctl.mcp.list {workspace}` -> `{"ok": true, "servers": [info...], "errors": [...], "files": [...],
  "trust": state, "trust_note": "not trusted: 1 server would run: ...", "untrusted": [info...]}`
- `ctl.mcp.restart {workspace, name}` -> `{"ok": true, "server": info}` once it settled
- `ctl.mcp.enable` / `ctl.mcp.disable {workspace, name}` -> `{"ok": true, "server": info}`

Events: `mcp.changed {workspace, server, status}` whenever a server's status changes (its tools
come and go with it), so tool listings cached elsewhere are dropped at once.

`info` is McpServer.info(): name, transport, target, source, status (starting | healthy |
unhealthy | disconnected | disabled), error, tools, pid, restarts, next_retry_unix, connected_unix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reliant.appliance.datadir import write_json
from reliant.daemon.events import EventSender
from reliant.daemon.mcp import config as mcp_config
from reliant.daemon.mcp.config import McpServerConfig
from reliant.daemon.mcp.server import HEALTH_EVERY, TOOL_PREFIX, McpServer, McpTool, ServerStatus
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.trust import TrustStore, TrustView, command_line, snapshot
from reliant.domain.chat import ToolDefinition
from reliant.wire import daemon_events

logger = logging.getLogger(__name__)

STATE_FILE = "mcp-state.json"
LIST_WAIT = 3.0  # how long a tool listing waits for servers that are still starting
CONFIG_CHECK_EVERY = 2.0


@dataclass
class WorkspaceServers:
    path: Path
    servers: dict[str, McpServer] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    checked: float = 0.0
    trust: TrustView | None = None


class McpManager:
    def __init__(
        self,
        data_dir: Path | None,
        events: EventSender | None = None,
        trust: TrustStore | None = None,
        *,
        health_every: float = HEALTH_EVERY,
    ) -> None:
        """`health_every`: seconds between health checks of a server that has no process to watch."""
        self.events = events
        self.health_every = health_every
        self.trust = trust if trust is not None else TrustStore(data_dir)
        self.global_file = data_dir / mcp_config.GLOBAL_FILE if data_dir is not None else None
        self.state_file = data_dir / STATE_FILE if data_dir is not None else None
        self._workspaces: dict[Path, WorkspaceServers] = {}
        self._lock = asyncio.Lock()
        self._overrides = self._load_overrides()

    # -- enable/disable state ---------------------------------------------------------------------

    def _load_overrides(self) -> dict[str, dict[str, bool]]:
        if self.state_file is None:
            return {}
        try:
            doc = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        raw = doc.get("enabled") if isinstance(doc, dict) else None
        if not isinstance(raw, dict):
            return {}
        return {
            str(ws): {str(k): bool(v) for k, v in names.items()} for ws, names in raw.items() if isinstance(names, dict)
        }

    def _save_overrides(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.state_file, {"enabled": self._overrides})

    def _disabled(self, workspace: Path, config: McpServerConfig) -> bool:
        override = self._overrides.get(str(workspace), {}).get(config.name)
        return config.disabled if override is None else not override

    # -- workspaces -------------------------------------------------------------------------------

    async def open(self, workspace: Path, *, reread: bool = False) -> WorkspaceServers:
        """The workspace's servers, with the configuration re-read (at most every 2 s, or now with
        `reread`) and every enabled server started."""
        async with self._lock:
            ws = self._workspaces.get(workspace)
            if ws is None:
                ws = self._workspaces[workspace] = WorkspaceServers(workspace)
            if reread or time.monotonic() - ws.checked > CONFIG_CHECK_EVERY:
                await self._reconcile(ws)
        for server in ws.servers.values():
            server.start()
        return ws

    async def trust_view(self, workspace: Path) -> TrustView:
        """The workspace's trust as of now, with the project servers it holds back or lets run."""
        ws = await self.open(workspace, reread=True)
        assert ws.trust is not None
        return ws.trust

    async def refresh(self, workspace: Path) -> None:
        """Follow a change of trust at once: start what is now trusted, stop what no longer is."""
        await self.open(workspace, reread=True)

    async def close(self, workspace: Path) -> None:
        """Stop the servers of a workspace the daemon no longer serves (and of its worktrees)."""
        async with self._lock:
            gone = [p for p in self._workspaces if p == workspace or p.is_relative_to(workspace)]
            closed = [self._workspaces.pop(p) for p in gone]
        servers = [s for ws in closed for s in ws.servers.values()]
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)

    async def _reconcile(self, ws: WorkspaceServers) -> None:
        snap = await asyncio.to_thread(snapshot, ws.path)
        state = self.trust.state(snap)
        full = await asyncio.to_thread(mcp_config.load, self.global_file, ws.path, None, snap.read)
        own = await asyncio.to_thread(mcp_config.load, self.global_file, None)
        project = tuple(
            replace(cfg, disabled=self._disabled(ws.path, cfg))
            for name, cfg in full.servers.items()
            if own.servers.get(name) != cfg
        )
        before = ws.trust.state if ws.trust is not None else None
        ws.trust = TrustView(
            ws.path,
            state,
            snap.fingerprint,
            tuple(snap.paths),
            project,
            tuple(snap.workflows),
            tuple(f"{ws.path / rel}: {why}" for rel, why in snap.problems.items()),
            snap.steps,
            tuple(snap.script_paths),
        )
        # Until the project is trusted, only the data dir's servers run (the files are still read,
        # to show what would run and their errors).
        loaded = full if state.allows else mcp_config.LoadedConfig(own.servers, full.errors, full.files)
        ws.errors, ws.files, ws.checked = loaded.errors, loaded.files, time.monotonic()
        if not state.allows and project and state is not before:
            logger.info("mcp servers of %s held back: the project is %s", ws.path, state.value)
        for name in [n for n in ws.servers if n not in loaded.servers]:
            logger.info("mcp server %s removed from the configuration of %s", name, ws.path)
            await ws.servers.pop(name).stop()
        for name, cfg in loaded.servers.items():
            current = ws.servers.get(name)
            disabled = self._disabled(ws.path, cfg)
            if current is not None and current.config == cfg:
                if current.disabled != disabled:
                    # Under the lock every listing waits for: a start is not waited for here.
                    await current.set_disabled(disabled, wait=False)
                continue
            if current is not None:
                logger.info("mcp server %s changed in the configuration of %s; restarting it", name, ws.path)
                await current.stop()
            ws.servers[name] = McpServer(
                cfg, disabled=disabled, on_change=self._announcer(ws.path), health_every=self.health_every
            )

    def _announcer(self, workspace: Path) -> Callable[[McpServer], None]:
        """Tells whoever caches tool listings (the worker's ToolCatalog) that a server of
        `workspace` changed status, and with it the tools it offers: `mcp.changed` events."""

        def changed(server: McpServer) -> None:
            if self.events is not None:
                doc = {"workspace": str(workspace), "server": server.name, "status": server.status.value}
                self.events.send(daemon_events.MCP_CHANGED, json.dumps(doc).encode())

        return changed

    async def _server(self, workspace: Path, name: str) -> McpServer:
        ws = await self.open(workspace)
        server = ws.servers.get(name)
        trust = ws.trust
        if server is None and trust is not None and any(s.name == name for s in trust.held()):
            raise ToolFailure(f"MCP server {name} does not run: {trust.note()}; trust the project first")
        if server is None:
            known = ", ".join(sorted(ws.servers)) or "none"
            raise ToolFailure(f"no MCP server {name!r} is configured for {workspace} (configured: {known})")
        return server

    # -- tools ------------------------------------------------------------------------------------

    async def definitions(self, workspace: Path) -> tuple[list[ToolDefinition], bool]:
        """The tools of the workspace's healthy servers, and whether every enabled server has
        settled (False: some were still starting; ask again later)."""
        ws = await self.open(workspace)
        # A first start is waited for a little; a reconnect of a server that failed or was lost is
        # not (it may take its whole startup timeout, again and again): its tools come back with it.
        starting = [
            s
            for s in ws.servers.values()
            if s.status in (ServerStatus.STARTING, ServerStatus.DISCONNECTED) and not s.retrying
        ]
        if starting:
            await asyncio.wait([asyncio.ensure_future(s.wait_settled(LIST_WAIT)) for s in starting], timeout=LIST_WAIT)
        tools: list[ToolDefinition] = []
        complete = True
        for server in ws.servers.values():
            if server.status is ServerStatus.HEALTHY:
                tools += [
                    ToolDefinition(t.name, _description(server, t), t.input_schema, t.read_only)
                    for t in server.tools.values()
                ]
            elif server.status is ServerStatus.STARTING and not server.retrying:
                complete = False
        return tools, complete

    async def resolve(self, name: str, workspace: Path | None) -> ToolSpec | None:
        """The ToolSpec that runs `mcp__<server>__<tool>` in `workspace`, or None if `name` is not
        an MCP tool name. A tool of a server that is down resolves to a spec whose run explains."""
        if not name.startswith(TOOL_PREFIX) or workspace is None:
            return None
        ws = await self.open(workspace)
        rest = name.removeprefix(TOOL_PREFIX)
        server = next(
            (s for n, s in sorted(ws.servers.items(), key=lambda i: -len(i[0])) if rest.startswith(n + "__")), None
        )
        if server is None:
            return None
        if server.status in (ServerStatus.STARTING, ServerStatus.DISCONNECTED):
            await server.wait_settled(server.config.startup_timeout + 5)
        tool = server.tools.get(name)
        if tool is None:
            return _unavailable(name, server)
        return _spec(server, tool)

    # -- control ----------------------------------------------------------------------------------

    def controls(
        self, workspace_for: Callable[[str], Path | None]
    ) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        async def resolved(body: dict[str, Any]) -> Path:
            given = body.get("workspace", "")
            path = workspace_for(given if isinstance(given, str) else "")
            if path is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return path

        def name_of(body: dict[str, Any]) -> str:
            name = body.get("name")
            if not isinstance(name, str) or not name:
                raise ToolFailure("a non-empty string name is required")
            return name

        async def list_servers(body: dict[str, Any]) -> Any:
            ws = await self.open(await resolved(body), reread=True)  # someone looks: show the files as they are
            await asyncio.gather(*(s.wait_settled(LIST_WAIT) for s in ws.servers.values()))
            trust = ws.trust
            return {
                "ok": True,
                "servers": [s.info() for s in ws.servers.values()],
                "errors": list(ws.errors),
                "files": list(ws.files),
                "trust": trust.state.value if trust is not None else "",
                "trust_note": trust.note() if trust is not None else "",
                "untrusted": [_held_info(c) for c in trust.held()] if trust is not None else [],
            }

        async def restart(body: dict[str, Any]) -> Any:
            server = await self._server(await resolved(body), name_of(body))
            if server.disabled:
                raise ToolFailure(f"MCP server {server.name} is disabled; enable it first")
            await server.restart()
            return {"ok": True, "server": server.info()}

        async def set_enabled(body: dict[str, Any], enabled: bool) -> Any:
            workspace = await resolved(body)
            server = await self._server(workspace, name_of(body))
            self._overrides.setdefault(str(workspace), {})[server.name] = enabled
            self._save_overrides()
            await server.set_disabled(not enabled)
            return {"ok": True, "server": server.info()}

        async def enable(body: dict[str, Any]) -> Any:
            return await set_enabled(body, True)

        async def disable(body: dict[str, Any]) -> Any:
            return await set_enabled(body, False)

        async def add(body: dict[str, Any]) -> Any:
            """Write a server into the project's own configuration; like any change to those files
            it runs only once the user trusts the project (again)."""
            workspace = await resolved(body)
            entry = body.get("server")
            if not isinstance(entry, dict):
                raise ToolFailure("server must be an object: the entry to write")
            try:
                written = await asyncio.to_thread(
                    mcp_config.add_server, workspace, name_of(body), entry, local=bool(body.get("local"))
                )
            except mcp_config.ConfigProblem as exc:
                raise ToolFailure(str(exc)) from None
            ws = await self.open(workspace, reread=True)
            trust = ws.trust
            return {
                "ok": True,
                "file": str(written),
                "trust": trust.state.value if trust is not None else "",
                "trust_note": trust.note() if trust is not None else "",
            }

        return {
            "mcp.list": list_servers,
            "mcp.restart": restart,
            "mcp.enable": enable,
            "mcp.disable": disable,
            "mcp.config.add": add,
        }

    async def shutdown(self) -> None:
        servers = [s for ws in self._workspaces.values() for s in ws.servers.values()]
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
        self._workspaces.clear()

    def processes(self) -> list[int]:
        """Process ids of the running stdio servers."""
        return [s.pid for ws in self._workspaces.values() for s in ws.servers.values() if s.pid]


def _held_info(config: McpServerConfig) -> dict[str, Any]:
    """A project server that does not run because the project is not trusted, as the list shows it."""
    return {
        "name": config.name,
        "transport": config.transport,
        "target": command_line(config),
        "source": config.source,
        "status": "untrusted",
        "error": config.error,
        "tools": [],
    }


def _description(server: McpServer, tool: McpTool) -> str:
    text = tool.description.strip() or f"The {tool.original} tool"
    return f"{text}\n\n(MCP server {server.name}, tool {tool.original})"


def _spec(server: McpServer, tool: McpTool) -> ToolSpec:
    async def run(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
        timeout = min(ctx.timeout or server.config.timeout, server.config.timeout)
        return await server.call(tool, args, timeout)

    return ToolSpec(
        name=tool.name,
        description=_description(server, tool),
        input_schema=tool.input_schema,
        run=run,
        read_only=tool.read_only,
        needs_workspace=True,
    )


def _unavailable(name: str, server: McpServer) -> ToolSpec:
    async def run(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
        if server.status is ServerStatus.HEALTHY:
            tools = ", ".join(sorted(server.tools)) or "none"
            raise ToolFailure(f"MCP server {server.name} has no tool {name} (it offers: {tools})")
        detail = f": {server.error}" if server.error else ""
        raise ToolFailure(f"MCP server {server.name} is {server.status.value}{detail}")

    return ToolSpec(name, "", {"type": "object"}, run, read_only=False)
