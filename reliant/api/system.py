"""System status, readiness and the doctor: shared by REST and the ConnectRPC SystemService."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from temporalio.client import WorkflowFailureError

import reliant
from reliant.api.context import ApiContext
from reliant.bus import subjects
from reliant.clients import temporal
from reliant.db import current_version, latest_version
from reliant.domain.doctor import doctor_result
from reliant.domain.workflows import DOCTOR_WORKFLOW, DoctorInput, DoctorResult
from reliant.wire.v1 import system_pb2 as pb

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    address: str
    error: str = ""
    latency_ms: float = 0.0


def _host_port(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)


async def _timed(name: str, address: str, probe: Any, timeout: float = 2.0) -> Check:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return Check(name, False, address, f"no answer within {timeout:.0f}s")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; reported by name
        return Check(name, False, address, str(exc) or type(exc).__name__)
    elapsed = (time.perf_counter() - started) * 1000
    if isinstance(detail, str) and detail:
        return Check(name, False, address, detail, elapsed)
    return Check(name, True, address, "", elapsed)


async def readiness(ctx: ApiContext) -> list[Check]:
    """Probe Postgres (and its schema), NATS and Temporal concurrently."""

    async def postgres() -> str:
        await ctx.db.ping()
        have, want = await current_version(ctx.db), latest_version()
        return "" if have >= want else f"schema at version {have}, waiting for migrations to {want}"

    async def nats() -> str:
        await ctx.bus.ping()
        return ""

    async def temporal_check() -> str:
        healthy = await ctx.temporal.service_client.check_health(timeout=timedelta(seconds=2))
        return "" if healthy else "health check failed"

    s = ctx.settings
    return list(
        await asyncio.gather(
            _timed("postgres", _host_port(s.database_url), postgres),
            _timed("nats", _host_port(s.nats_url), nats),
            _timed("temporal", s.temporal_address, temporal_check),
        )
    )


async def presence(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    """Every presence record; empty when NATS cannot be read (status must answer even then).

    One failed read is tried again, then the last read that succeeded is used if it is younger than
    the heartbeat timeout: a slow KV round trip on a busy machine must not read as "no daemon is
    online".
    """
    for attempt in range(2):
        try:
            entries = await (await ctx.bus.presence()).entries()
        except Exception as exc:  # noqa: BLE001 - status must answer even with NATS down
            logger.warning("could not read presence (attempt %d): %r", attempt + 1, exc)
            continue
        ctx.last_presence.at, ctx.last_presence.entries = time.monotonic(), entries
        return entries
    if time.monotonic() - ctx.last_presence.at <= ctx.settings.heartbeat_timeout:
        return ctx.last_presence.entries
    return {}


def fresh(record: dict[str, Any], timeout: float) -> bool:
    """Whether a presence record was refreshed within `timeout` seconds."""
    return time.time() - float(record.get("last_seen", 0)) <= timeout


async def status(ctx: ApiContext) -> pb.GetStatusResponse:
    s = ctx.settings
    checks, entries = await asyncio.gather(readiness(ctx), presence(ctx))
    timeout = s.heartbeat_timeout
    response = pb.GetStatusResponse(version=reliant.__version__, api_url=ctx.api_url)
    for key, record in sorted(entries.items()):
        if key.startswith("role."):
            response.roles.append(
                pb.RoleStatus(
                    role=record.get("role", ""),
                    instance=record.get("instance", ""),
                    host=record.get("host", ""),
                    pid=int(record.get("pid", 0)),
                    online=fresh(record, timeout),
                    started_unix=float(record.get("started_at", 0)),
                    last_seen_unix=float(record.get("last_seen", 0)),
                    detail={k: str(v) for k, v in (record.get("detail") or {}).items()},
                )
            )
        elif key.startswith("daemon."):
            response.daemons.append(_daemon_status(record, timeout))
    for check in checks:
        response.services.append(
            pb.ServiceStatus(
                name=check.name,
                ok=check.ok,
                address=check.address,
                error=check.error,
                latency_ms=check.latency_ms,
            )
        )
    ports = {"api": urlsplit(ctx.api_url).port or 0}
    for check in checks:
        if ":" in check.address:
            ports[check.name] = int(check.address.rsplit(":", 1)[1])
    for role in response.roles:
        if role.role == "gateway" and ":" in role.detail.get("address", ""):
            ports["gateway"] = int(role.detail["address"].rsplit(":", 1)[1])
    response.ports.update(ports)
    response.temporal_ui_url = s.temporal_ui_url
    return response


def _daemon_status(record: dict[str, Any], timeout: float) -> pb.DaemonStatus:
    return pb.DaemonStatus(
        id=record.get("id", ""),
        name=record.get("name", ""),
        workspaces=list(record.get("workspaces") or []),
        online=bool(record.get("online")) and fresh(record, timeout),
        gateway=record.get("gateway", ""),
        connected_unix=float(record.get("connected_at", 0)),
        last_seen_unix=float(record.get("last_seen", 0)),
        version=record.get("version", ""),
        hostname=record.get("hostname", ""),
    )


async def online_daemons(ctx: ApiContext, entries: dict[str, dict[str, Any]] | None = None) -> list[pb.DaemonStatus]:
    if entries is None:
        entries = await presence(ctx)
    return online_in(entries, ctx.settings.heartbeat_timeout)


def online_in(entries: dict[str, dict[str, Any]], timeout: float) -> list[pb.DaemonStatus]:
    """The daemons the presence records show online (seen within `timeout`)."""
    daemons = [_daemon_status(r, timeout) for k, r in entries.items() if k.startswith("daemon.")]
    return [d for d in daemons if d.online]


async def run_doctor(ctx: ApiContext, daemon_id: str = "") -> pb.RunDoctorResponse:
    daemons = await online_daemons(ctx)
    names = {d.id: d.name for d in daemons}
    targets = [daemon_id] if daemon_id else sorted(names)
    workflow_id = temporal.doctor_workflow_id()
    if not targets:
        return pb.RunDoctorResponse(ok=False, workflow_id="", error="no daemon is online")
    started = time.perf_counter()
    try:
        result: DoctorResult = await ctx.temporal.execute_workflow(
            DOCTOR_WORKFLOW,
            DoctorInput(daemon_ids=targets),
            id=workflow_id,
            task_queue=ctx.settings.temporal_task_queue,
            result_type=DoctorResult,
            execution_timeout=timedelta(seconds=60),
        )
    except WorkflowFailureError as exc:
        return pb.RunDoctorResponse(ok=False, workflow_id=workflow_id, error=f"doctor workflow failed: {exc.cause}")
    total = (time.perf_counter() - started) * 1000
    response = pb.RunDoctorResponse(ok=True, workflow_id=workflow_id)
    for ping in result.pings:
        measured = doctor_result(ping, names.get(ping.daemon_id, ""))
        response.ok = response.ok and measured.ok
        hops = [pb.DoctorHop(name=h.name, ms=h.ms) for h in measured.hops]
        inside = sum(h.ms for h in measured.hops)
        hops.insert(
            0,
            pb.DoctorHop(name="api -> temporal -> workflow (start, schedule, result)", ms=max(0.0, total - inside)),
        )
        response.results.append(
            pb.DoctorDaemonResult(
                daemon_id=measured.daemon_id,
                daemon_name=measured.daemon_name,
                ok=measured.ok,
                error=measured.error,
                hops=hops,
                total_ms=total,
            )
        )
    return response


class SystemService:
    """reliant.v1.SystemService over ConnectRPC."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def get_status(self, request: pb.GetStatusRequest, ctx: RequestContext[Any, Any]) -> pb.GetStatusResponse:
        return await status(self.ctx)

    async def run_doctor(self, request: pb.RunDoctorRequest, ctx: RequestContext[Any, Any]) -> pb.RunDoctorResponse:
        if request.daemon_id and not subjects.valid_token(request.daemon_id):
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid daemon id {request.daemon_id!r}")
        return await run_doctor(self.ctx, request.daemon_id)
