"""Reaching daemons from the api and the worker: NATS request -> gateway -> gRPC -> daemon."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from reliant.bus import Bus, BusError, Incoming, NoRespondersError, Reply, RequestTimeoutError, subjects
from reliant.domain.chat import ToolDefinition
from reliant.domain.tools import ToolCall, ToolResult
from reliant.errors import DaemonUnavailableError
from reliant.wire import daemon_events
from reliant.wire.grpc_options import ERROR_DISCONNECTED, ERROR_NOT_HELD, HEADER_ERROR, HEADER_GATEWAY_MS
from reliant.wire.tools import decode_result, encode_call


@dataclass(frozen=True, slots=True)
class DaemonReply:
    result: ToolResult
    rtt_ms: float
    gateway_ms: float


async def call_tool(bus: Bus, daemon_id: str, call: ToolCall, *, timeout: float) -> DaemonReply:
    """One request. Raises DaemonUnavailableError when no daemon answers (offline, disconnected,
    timed out), saying whether the request may have reached it."""
    started = time.perf_counter()
    reply = await _request(bus, daemon_id, subjects.daemon_tools(daemon_id), encode_call(call), timeout)
    rtt = (time.perf_counter() - started) * 1000
    gateway_ms = float(reply.headers.get(HEADER_GATEWAY_MS, 0.0))
    return DaemonReply(decode_result(reply.data), rtt, gateway_ms)


async def _request(bus: Bus, daemon_id: str, subject: str, data: bytes, timeout: float) -> Reply:
    try:
        reply = await bus.request(subject, data, timeout=timeout)
    except NoRespondersError:
        raise DaemonUnavailableError(daemon_id, "not connected to any gateway") from None
    except RequestTimeoutError:
        detail = f"no answer within {timeout:.0f}s (its gateway or NATS may be down)"
        raise DaemonUnavailableError(daemon_id, detail, maybe_reached=True) from None
    except BusError as exc:  # NATS trouble: whether the request left is not known
        raise DaemonUnavailableError(daemon_id, str(exc), maybe_reached=True) from None
    error = reply.headers.get(HEADER_ERROR)
    if error:
        detail = _GATEWAY_ERRORS.get(error, error)
        raise DaemonUnavailableError(daemon_id, detail, maybe_reached=error != ERROR_NOT_HELD)
    return reply


_GATEWAY_ERRORS = {
    ERROR_DISCONNECTED: f"its connection to the gateway broke while the request was out ({ERROR_DISCONNECTED})",
    ERROR_NOT_HELD: f"the gateway no longer holds its connection ({ERROR_NOT_HELD})",
}


class ToolCatalog:
    """The tools each daemon offers the model for a workspace (asked with ctl.tools.list: the
    built-in tools and those of the workspace's MCP servers), cached briefly. A listing the daemon
    marks incomplete (MCP servers still starting) is not cached, and once started the catalog drops
    a daemon's listings as soon as one of its MCP servers changes status or it comes back online,
    so enabling, disabling or restarting a server reaches the model's next turn."""

    def __init__(self, bus: Bus, ttl: float = 30.0) -> None:
        self._bus = bus
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, tuple[ToolDefinition, ...]]] = {}
        self._subscriptions: list[Any] = []

    async def start(self) -> None:
        """Listen for the events that make a cached listing stale (every instance, no queue group)."""

        async def stale(msg: Incoming) -> None:
            self.forget(subjects.daemon_of(msg.subject))

        for subject in (subjects.all_daemon_events(daemon_events.MCP_CHANGED), subjects.ALL_DAEMONS_ONLINE):
            self._subscriptions.append(await self._bus.subscribe(subject, stale))

    async def shutdown(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    async def definitions(self, daemon_id: str, workspace: str = "") -> tuple[ToolDefinition, ...]:
        key = (daemon_id, workspace)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        body = {"workspace": workspace} if workspace else {}
        reply = await control(self._bus, daemon_id, "tools.list", body, timeout=10.0)
        items = reply if isinstance(reply, list) else reply.get("tools", [])
        tools = tuple(
            ToolDefinition(
                name=str(t["name"]),
                description=str(t.get("description", "")),
                input_schema=dict(t.get("input_schema") or {"type": "object"}),
                read_only=bool(t.get("read_only", False)),
            )
            for t in items
        )
        if isinstance(reply, list) or reply.get("complete", True):
            self._cache[key] = (time.monotonic(), tools)
        return tools

    def forget(self, daemon_id: str) -> None:
        """Drop the cached listings of a daemon (its MCP servers changed)."""
        for key in [k for k in self._cache if k[0] == daemon_id]:
            del self._cache[key]


async def control(bus: Bus, daemon_id: str, name: str, body: dict[str, Any], *, timeout: float) -> Any:
    """A control request to a daemon (ctl.<name>); returns its JSON answer."""
    reply = await _request(bus, daemon_id, subjects.daemon_ctl(daemon_id, name), json.dumps(body).encode(), timeout)
    return reply.json()
