"""Launchers for the services reliant embeds: PostgreSQL, NATS and the Temporal dev server.

A leaf package: it never imports `reliant`. Each launcher's `start_*` waits for real readiness and
returns a handle that is an async context manager; `start_services` starts all three at once and
stops the ones already running if another fails; `ServiceSupervisor` restarts one that dies.
"""

from __future__ import annotations

from embedded._process import ServiceHandle
from embedded.errors import (
    BinaryNotFoundError,
    EmbeddedError,
    PortInUseError,
    ServiceExitedError,
    StartTimeoutError,
)
from embedded.nats import NatsConfig, NatsServer, start_nats
from embedded.postgres import PostgresConfig, PostgresServer, start_postgres
from embedded.services import Services, start_services
from embedded.supervision import ServiceKeepsDyingError, ServiceSupervisor
from embedded.temporal import TemporalConfig, TemporalServer, start_temporal

__all__ = [
    "BinaryNotFoundError",
    "EmbeddedError",
    "NatsConfig",
    "NatsServer",
    "PortInUseError",
    "PostgresConfig",
    "PostgresServer",
    "ServiceExitedError",
    "ServiceHandle",
    "ServiceKeepsDyingError",
    "ServiceSupervisor",
    "Services",
    "StartTimeoutError",
    "TemporalConfig",
    "TemporalServer",
    "start_nats",
    "start_postgres",
    "start_services",
    "start_temporal",
]
