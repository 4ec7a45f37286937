"""One MCP server's lifecycle: connect, list its tools, watch it, restart it with backoff.

A runner task owns the SDK client (the SDK's cancel scopes must be entered and left by one task): it
connects, lists the tools, reports `healthy`, and waits until the connection is lost (the process
exited or closed its output; for HTTP, a health check failed: a `tools/list`, which every protocol
revision has, where `ping` is gone since 2026-07-28). It then reports `unhealthy` with the reason
(closing an HTTP connection takes at most CLOSE_GRACE, so a server that stopped answering holds up
neither that report nor a stop) and reconnects after a backoff (1 s, 2 s, 4 s, ... up to a minute;
reset once a connection has been healthy for a while). Tool calls run on the caller's task over the
runner's client; a call cut off by a crash comes back as a tool error that says what happened to the
server, and a call that arrives while the server is down starts the restart at once and waits for it
(bounded by the startup timeout). Tools our client cannot run (those that require task-augmented
execution) are not offered. Nothing a server does can raise out of here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import math
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from reliant.daemon.connection import Backoff
from reliant.daemon.mcp.config import McpServerConfig
from reliant.daemon.tools.base import ToolFailure, ToolOutput

logger = logging.getLogger(__name__)

HEALTHY_RESET = 30.0  # a connection healthy this long resets the backoff
HEALTH_EVERY = 15.0  # HTTP servers have no process to watch: check them this often
HEALTH_TIMEOUT = 10.0
# Closing an HTTP connection may take this long. The SDK ends the session with a DELETE that would
# wait out its client's read timeout (five minutes) on a server that stopped answering, and sends it
# even while the runner is being cancelled: the connection's cancel scope cuts it off after this.
CLOSE_GRACE = 2.0
MAX_OUTPUT_CHARS = 100_000
# Images a tool returns go to the model (base64 in the result's data), up to this much per call: the
# whole result must stay under the daemon's reply limit. Larger ones stay a note in the text.
MAX_IMAGE_CHARS = 2 * 1024 * 1024
MODEL_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_TOOLS = 200
TOOL_PREFIX = "mcp__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_TOOL_NAME = 64


class ServerStatus(enum.StrEnum):
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # failed to start, or lost; a restart is scheduled
    DISCONNECTED = "disconnected"  # not running (not started yet, or stopped)
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class McpTool:
    name: str  # as offered to the model: mcp__<server>__<tool>
    original: str  # as the server calls it
    description: str
    input_schema: dict[str, Any]
    read_only: bool


def exposed_name(server: str, tool: str) -> str:
    """mcp__<server>__<tool>, with characters providers refuse replaced, at most 64 characters."""
    name = f"{TOOL_PREFIX}{server}__{_UNSAFE.sub('_', tool)}"
    if len(name) > MAX_TOOL_NAME:
        digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
        name = f"{name[: MAX_TOOL_NAME - 9]}_{digest}"
    return name


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    leaf = _leaf(exc)
    text = str(getattr(leaf, "message", "") or leaf) or type(leaf).__name__
    return text if isinstance(leaf, OSError | ToolFailure) else f"{type(leaf).__name__}: {text}"


def _content_text(result: Any) -> tuple[str, list[dict[str, Any]]]:
    """The text a model reads from a CallToolResult, and a note per non-text block (an image the
    model can take carries its base64 `data`, within MAX_IMAGE_CHARS per call)."""
    parts: list[str] = []
    extras: list[dict[str, Any]] = []
    image_budget = MAX_IMAGE_CHARS
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind in ("image", "audio"):
            data = str(getattr(block, "data", ""))
            mime_type = str(getattr(block, "mime_type", ""))
            size = len(data.rstrip("=")) * 3 // 4
            extra: dict[str, Any] = {"type": kind, "mime_type": mime_type, "bytes": size}
            note = ""
            if kind == "image" and mime_type in MODEL_IMAGE_TYPES and 0 < len(data) <= image_budget:
                extra["data"] = data
                image_budget -= len(data)
            elif kind == "image":
                note = ", not shown to the model: " + (
                    f"{mime_type or 'no type'} is not PNG, JPEG, GIF or WebP"
                    if mime_type not in MODEL_IMAGE_TYPES
                    else "over the size limit"
                )
            parts.append(f"[{kind}: {mime_type}, about {size:,} bytes{note}]")
            extras.append(extra)
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(str(text) if text is not None else f"[resource {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'name', '')}: {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    return "\n".join(parts), extras


def tool_output(server: str, tool: str, result: Any) -> ToolOutput:
    text, extras = _content_text(result)
    data: dict[str, Any] = {"server": server, "tool": tool}
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        data["structured"] = structured
    if extras:
        data["content"] = extras
    if len(text) > MAX_OUTPUT_CHARS:
        data["omitted_chars"] = len(text) - MAX_OUTPUT_CHARS
        text = text[:MAX_OUTPUT_CHARS] + f"\n[… {len(text) - MAX_OUTPUT_CHARS:,} characters omitted]"
    if getattr(result, "is_error", False):
        return ToolOutput(output=text, data=data, error=text or f"{tool} reported an error")
    return ToolOutput(output=text, data=data)


class McpServer:
    def __init__(
        self,
        config: McpServerConfig,
        *,
        disabled: bool | None = None,
        on_change: Callable[[McpServer], None] | None = None,
        health_every: float = HEALTH_EVERY,
    ) -> None:
        self.config = config
        self.health_every = health_every
        self.on_change = on_change  # called when the status (and with it the tool set) changes
        self.name = config.name
        # `disabled` given: the user's choice (`reliant mcp enable|disable`), over the file's.
        self.disabled = config.disabled if disabled is None else disabled
        self.status = ServerStatus.DISABLED if self.disabled else ServerStatus.DISCONNECTED
        self.error = config.error
        self.tools: dict[str, McpTool] = {}
        self.pid = 0
        self.restarts = 0
        self.next_retry = 0.0  # unix time of the next reconnect while unhealthy
        self.retrying = False  # this start is a reconnect after an attempt that failed or a loss
        self.connected_at = 0.0
        self.server_info = ""
        self._client: Any = None
        self._process: Any = None
        self._scope: Any = None  # the anyio cancel scope of the connection under way
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._down = asyncio.Event()  # set while the runner reports the server unhealthy
        self._healthy_since = 0.0
        self._attempts = 0  # connection attempts begun
        self._changed = asyncio.Event()  # set (and replaced) on every status change

    # -- state ------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.config.transport,
            "target": self.config.describe(),
            "source": self.config.source,
            "status": self.status.value,
            "error": self.error,
            "tools": sorted(t.name for t in self.tools.values()),
            "pid": self.pid,
            "restarts": self.restarts,
            "next_retry_unix": self.next_retry if self.status is ServerStatus.UNHEALTHY else 0.0,
            "connected_unix": self.connected_at if self.status is ServerStatus.HEALTHY else 0.0,
            "server_info": self.server_info,
        }

    def _set(self, status: ServerStatus, error: str = "") -> None:
        changed = status is not self.status
        if changed or error != self.error:
            level = logging.WARNING if status is ServerStatus.UNHEALTHY else logging.INFO
            logger.log(level, "mcp server %s: %s%s", self.name, status.value, f" ({error})" if error else "")
        self.status = status
        self.error = error
        if status is ServerStatus.UNHEALTHY:
            self._down.set()
        else:
            self._down.clear()
        if changed:
            self._changed.set()
            self._changed = asyncio.Event()
            if self.on_change is not None:
                self.on_change(self)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runner if it is not running (a no-op for a disabled server)."""
        if self.disabled or (self._task is not None and not self._task.done()):
            return
        self._settled.clear()
        if self.config.error:
            self._set(ServerStatus.UNHEALTHY, self.config.error)
            self._settled.set()
            return
        self._task = asyncio.create_task(self._run(), name=f"mcp:{self.name}")

    async def wait_settled(self, timeout: float) -> None:
        """Wait until a start attempt has succeeded or failed (or `timeout` passed)."""
        if self.status in (ServerStatus.DISABLED, ServerStatus.DISCONNECTED) and self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)

    async def stop(self, status: ServerStatus = ServerStatus.DISCONNECTED) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._close_within(CLOSE_GRACE)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._client = None
        self.pid = 0
        self.tools = {}
        self._set(status, "" if status is not ServerStatus.UNHEALTHY else self.error)
        self._settled.set()

    async def restart(self, timeout: float | None = None) -> None:
        """Stop and start again at once (no backoff); wait until it settles."""
        if self.disabled:
            return
        await self.stop()
        self.restarts += 1
        self.start()
        await self.wait_settled(timeout or self.config.startup_timeout + 5)

    async def set_disabled(self, disabled: bool, *, wait: bool = True) -> None:
        """Switch the server off (stopping it) or on (starting it, and with `wait` waiting until
        that start has succeeded or failed)."""
        self.disabled = disabled
        if disabled:
            await self.stop(ServerStatus.DISABLED)
        else:
            self._set(ServerStatus.DISCONNECTED)
            self.start()
            if wait:
                await self.wait_settled(self.config.startup_timeout + 5)

    async def _run(self) -> None:
        backoff = Backoff(first=1.0, cap=60.0)
        self.retrying = False
        while True:
            self._settled.clear()
            self._lost.clear()
            self._attempts += 1
            self._set(ServerStatus.STARTING, self.error)
            began = time.monotonic()
            healthy_since = 0.0
            try:
                problem = await self._connect_and_watch()
                healthy_since = self._healthy_since
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # any failure of a server is its status
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                healthy_since = self._healthy_since
                problem = self._loss_reason(exc)
            self._client = None
            self.tools = {} if not healthy_since else self.tools
            if healthy_since and time.monotonic() - healthy_since > HEALTHY_RESET:
                backoff.reset()
            delay = backoff.next()
            self.next_retry = time.time() + delay
            self._set(ServerStatus.UNHEALTHY, problem)
            self._settled.set()
            self.retrying = True
            logger.debug(
                "mcp server %s: attempt took %.2fs; retrying in %.1fs", self.name, time.monotonic() - began, delay
            )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self.restarts += 1

    async def _connect_and_watch(self) -> str:
        """One connection, from start to loss; returns why it ended. The start must finish within
        the startup timeout (one cancel scope around the whole connection, lifted once connected,
        as the SDK's task groups must nest inside it)."""
        import anyio

        self._healthy_since = 0.0
        timeout = self.config.startup_timeout
        problem = ""
        with anyio.CancelScope(deadline=anyio.current_time() + timeout) as scope:
            self._scope = scope
            try:
                async with self._session() as client:
                    scope.deadline = math.inf
                    self._healthy_since = time.monotonic()
                    self._client = client
                    self._set(ServerStatus.HEALTHY)
                    self._settled.set()
                    try:
                        problem = await self._watch(client)
                    finally:
                        self._close_within(CLOSE_GRACE)
            finally:
                self._scope = None
        if scope.cancelled_caught and not self._healthy_since:
            tail = self._process.stderr_tail if self._process is not None else ""
            return f"the server did not start within {timeout:g}s" + (f": {tail}" if tail else "")
        return problem or self._loss_reason()

    def _close_within(self, seconds: float) -> None:
        """Bound what is left of an HTTP connection under way (its closing, or its start) to
        `seconds`. A stdio server's closing is bounded by its transport and runs to the end: it
        stops the server's process group."""
        import anyio

        scope = self._scope
        if scope is not None and self.config.transport == "http":
            scope.deadline = min(scope.deadline, anyio.current_time() + seconds)

    def _loss_reason(self, exc: BaseException | None = None) -> str:
        process = self._process
        if process is not None and (process.returncode is not None or process.closed.is_set()):
            return str(process.exit_description())
        if exc is None:
            return "the connection to the server was lost"
        return _describe(exc)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        await asyncio.to_thread(_import_sdk)
        from mcp import Client

        c = self.config
        self._process = None
        self.pid = 0
        async with contextlib.AsyncExitStack() as stack:
            if c.transport == "http":
                from mcp.client.streamable_http import streamable_http_client
                from mcp.shared._httpx_utils import create_mcp_http_client

                http = await stack.enter_async_context(create_mcp_http_client(headers=dict(c.headers)))
                transport: Any = streamable_http_client(c.url, http_client=http)
            else:
                from reliant.daemon.mcp.transport import StdioServerProcess

                env_path = dict(c.env).get("PATH", os.environ.get("PATH", ""))
                if "/" not in c.command and shutil.which(c.command, path=env_path) is None:
                    raise ToolFailure(f"command not found: {c.command}")
                process = StdioServerProcess(c)
                self._process = process
                transport = process.connect()
            client = Client(transport, mode="auto")
            await stack.enter_async_context(client)
            self.pid = self._process.pid if self._process is not None else 0
            self.tools = await self._list_tools(client)
            info = client.server_info
            self.server_info = f"{info.name} {info.version or ''}".strip() if info is not None else ""
            self.connected_at = time.time()
            yield client

    async def _list_tools(self, client: Any) -> dict[str, McpTool]:
        tools: dict[str, McpTool] = {}
        cursor = None
        for _ in range(50):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            for tool in page.tools:
                if len(tools) >= MAX_TOOLS:
                    break
                if getattr(getattr(tool, "execution", None), "task_support", None) == "required":
                    logger.debug("mcp server %s: not offering %s (it runs only as a task)", self.name, tool.name)
                    continue
                annotations = getattr(tool, "annotations", None)
                read_only = bool(getattr(annotations, "read_only_hint", False))
                name = exposed_name(self.name, tool.name)
                schema = dict(tool.input_schema or {"type": "object"})
                tools[name] = McpTool(name, tool.name, tool.description or tool.title or "", schema, read_only)
            cursor = getattr(page, "next_cursor", None)
            if not cursor:
                break
        return tools

    async def _watch(self, client: Any) -> str:
        """Return when the connection is lost: why, if the process has not said it ("" otherwise)."""
        import anyio

        process = self._process
        if process is not None:
            closed = asyncio.create_task(process.closed.wait())
            lost = asyncio.create_task(self._lost.wait())
            try:
                await asyncio.wait({closed, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closed.cancel()
                lost.cancel()
            # Give the exit status a moment to arrive, for the reason shown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.exited.wait(), 1.0)
            return ""
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.health_every)
            if self._lost.is_set():
                return ""
            try:
                with anyio.fail_after(HEALTH_TIMEOUT):
                    await client.list_tools(cache_mode="refresh")
            except TimeoutError:
                return f"the server did not answer a health check within {HEALTH_TIMEOUT:g}s"
            except Exception as exc:  # noqa: BLE001 - a failed check is a lost connection
                logger.debug("mcp server %s: health check failed: %s", self.name, exc)
                return f"a health check failed: {_describe(exc)}"
        return ""

    # -- calls ------------------------------------------------------------------------------------

    async def call(self, tool: McpTool, arguments: dict[str, Any], timeout: float) -> ToolOutput:
        import anyio
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED

        if self.disabled:
            raise ToolFailure(f"MCP server {self.name} is disabled; enable it with `reliant mcp enable {self.name}`")
        self.start()
        if self.status is not ServerStatus.HEALTHY:
            await self._until_up(self.config.startup_timeout + 5)
        client = self._client
        if self.status is not ServerStatus.HEALTHY or client is None:
            raise ToolFailure(f"MCP server {self.name} is {self.status.value}: {self.error or 'not connected'}")
        try:
            with anyio.fail_after(timeout):
                result = await client.call_tool(tool.original, arguments)
        except TimeoutError:
            raise ToolFailure(f"MCP server {self.name}: {tool.original} did not answer within {timeout:g}s") from None
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED or self._connection_gone():
                self._lost.set()
                await self._await_exit()
                raise ToolFailure(
                    f"MCP server {self.name} stopped during the call to {tool.original}: {self._loss_reason(exc)}"
                ) from None
            raise ToolFailure(f"MCP server {self.name} refused {tool.original}: {exc.message}") from None
        except (OSError, anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            self._lost.set()
            await self._await_exit()
            raise ToolFailure(
                f"MCP server {self.name}: connection lost during {tool.original}: {_describe(exc)}"
            ) from None
        return tool_output(self.name, tool.original, result)

    async def _until_up(self, timeout: float) -> None:
        """Wait until the server is healthy, or until the connection attempt under way (or the one
        started here, skipping the backoff of a server that is down) has failed; at most `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self.status is ServerStatus.UNHEALTHY:
            before = self._attempts
            self._wake.set()  # a caller waits: restart now rather than after the backoff
        else:
            before = self._attempts - 1  # the attempt under way counts
        while self.status is not ServerStatus.HEALTHY and not self.disabled:
            if self._task is None or self._task.done():
                return
            if self.status is ServerStatus.UNHEALTHY and self._attempts > before:
                return  # the restart failed
            changed = self._changed
            left = deadline - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return

    def _connection_gone(self) -> bool:
        process = self._process
        return process is not None and process.closed.is_set()

    async def _await_exit(self) -> None:
        """After a lost connection: wait (briefly) for the exit status and for the runner to report
        the server unhealthy, so the error and the status say the same thing."""
        process = self._process
        if process is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.exited.wait(), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._down.wait(), 2.0)


def _import_sdk() -> None:
    """Import the MCP SDK, which costs a second or more of CPU: called in a thread, so the daemon's
    event loop (its heartbeats to the gateway among them) keeps running while the first server of
    a workspace starts. Later calls find the modules loaded."""
    import mcp
    import mcp.client.streamable_http
    import mcp.shared._httpx_utils
    import mcp.shared.exceptions  # noqa: F401
    import mcp_types  # noqa: F401
