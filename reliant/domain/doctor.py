"""What the diagnostic workflow measures, hop by hop."""

from __future__ import annotations

from dataclasses import dataclass, field

from reliant.domain.workflows import DaemonPing


@dataclass(frozen=True, slots=True)
class Hop:
    name: str
    ms: float


@dataclass(frozen=True, slots=True)
class DoctorDaemonResult:
    daemon_id: str
    daemon_name: str = ""
    ok: bool = False
    error: str = ""
    hops: tuple[Hop, ...] = field(default_factory=tuple)
    total_ms: float = 0.0


def doctor_result(ping: DaemonPing, daemon_name: str = "") -> DoctorDaemonResult:
    """Split one ping's timings into hops. Each side measures only its own durations, so the
    split holds when the daemon runs on another machine with another clock."""
    hops = (
        Hop("temporal: activity scheduled -> started", ping.schedule_to_start_ms),
        Hop("nats: activity -> gateway -> activity", max(0.0, ping.activity_rtt_ms - ping.gateway_ms)),
        Hop("grpc: gateway -> daemon -> gateway", max(0.0, ping.gateway_ms - ping.tool_ms)),
        Hop("daemon: ping tool", ping.tool_ms),
    )
    return DoctorDaemonResult(
        daemon_id=ping.daemon_id,
        daemon_name=daemon_name,
        ok=ping.ok,
        error=ping.error,
        hops=hops if ping.ok else hops[:1],
        total_ms=ping.schedule_to_start_ms + ping.activity_rtt_ms,
    )
