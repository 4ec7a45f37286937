"""Calling a tool on a daemon from a worker: NATS request -> gateway -> gRPC -> daemon."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reliant.bus import Bus, NoRespondersError, RequestTimeoutError, subjects
from reliant.domain.tools import ToolCall, ToolResult
from reliant.errors import DaemonUnavailableError
from reliant.wire.grpc_options import HEADER_ERROR, HEADER_GATEWAY_MS
from reliant.wire.tools import decode_result, encode_call


@dataclass(frozen=True, slots=True)
class DaemonReply:
    result: ToolResult
    rtt_ms: float
    gateway_ms: float


async def call_tool(bus: Bus, daemon_id: str, call: ToolCall, *, timeout: float) -> DaemonReply:
    """Raises DaemonUnavailableError when no daemon answers (offline, disconnected, timed out)."""
    started = time.perf_counter()
    try:
        reply = await bus.request(subjects.daemon_tools(daemon_id), encode_call(call), timeout=timeout)
    except NoRespondersError:
        raise DaemonUnavailableError(daemon_id, "not connected to any gateway") from None
    except RequestTimeoutError:
        raise DaemonUnavailableError(daemon_id, f"no answer within {timeout:.0f}s") from None
    rtt = (time.perf_counter() - started) * 1000
    if reply.headers.get(HEADER_ERROR):
        raise DaemonUnavailableError(daemon_id, reply.headers[HEADER_ERROR])
    gateway_ms = float(reply.headers.get(HEADER_GATEWAY_MS, 0.0))
    return DaemonReply(decode_result(reply.data), rtt, gateway_ms)
