"""Inputs and results of the workflows the api starts and the worker runs (Temporal payloads)."""

from __future__ import annotations

from dataclasses import dataclass, field

DOCTOR_WORKFLOW = "Doctor"


@dataclass
class DoctorInput:
    daemon_ids: list[str]
    timeout_seconds: float = 5.0


@dataclass
class DaemonPing:
    daemon_id: str
    ok: bool = False
    error: str = ""
    schedule_to_start_ms: float = 0.0
    activity_rtt_ms: float = 0.0
    gateway_ms: float = 0.0
    tool_ms: float = 0.0


@dataclass
class DoctorResult:
    pings: list[DaemonPing] = field(default_factory=list)
