"""Activities: every side effect of a workflow. Classes hold their clients; one dataclass in, one out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from temporalio import activity

from reliant.bus import Bus
from reliant.clients.daemons import call_tool
from reliant.db import Database
from reliant.db import doctor as doctor_db
from reliant.domain.doctor import doctor_result
from reliant.domain.tools import ToolCall, ToolStatus
from reliant.domain.workflows import DaemonPing
from reliant.errors import DaemonUnavailableError


@dataclass
class PingDaemonInput:
    daemon_id: str
    timeout_seconds: float = 5.0


@dataclass
class RecordDoctorInput:
    workflow_id: str
    pings: list[DaemonPing]


class DoctorActivities:
    def __init__(self, bus: Bus, db: Database) -> None:
        self.bus = bus
        self.db = db

    @activity.defn(name="ping_daemon")
    async def ping_daemon(self, inp: PingDaemonInput) -> DaemonPing:
        info = activity.info()
        scheduled = info.current_attempt_scheduled_time
        schedule_to_start = (info.started_time - scheduled).total_seconds() * 1000
        call = ToolCall(tool_call_id=f"doctor-{uuid.uuid4().hex}", tool="ping", input={"echo": "doctor"})
        try:
            reply = await call_tool(self.bus, inp.daemon_id, call, timeout=inp.timeout_seconds)
        except DaemonUnavailableError as exc:
            return DaemonPing(inp.daemon_id, ok=False, error=str(exc), schedule_to_start_ms=schedule_to_start)
        ok = reply.result.status is ToolStatus.OK and reply.result.output == "pong"
        return DaemonPing(
            inp.daemon_id,
            ok=ok,
            error="" if ok else reply.result.error or "unexpected ping answer",
            schedule_to_start_ms=schedule_to_start,
            activity_rtt_ms=reply.rtt_ms,
            gateway_ms=reply.gateway_ms,
            tool_ms=reply.result.duration_ms,
        )

    @activity.defn(name="record_doctor_run")
    async def record_doctor_run(self, inp: RecordDoctorInput) -> None:
        for ping in inp.pings:
            await doctor_db.record(self.db, inp.workflow_id, doctor_result(ping))
