"""The three services together: started concurrently, stopped in reverse dependency order."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from embedded._process import ServiceHandle
from embedded.nats import NatsConfig, NatsServer, start_nats
from embedded.postgres import PostgresConfig, PostgresServer, start_postgres
from embedded.temporal import TemporalConfig, TemporalServer, start_temporal

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Services(ServiceHandle):
    postgres: PostgresServer
    nats: NatsServer
    temporal: TemporalServer

    async def stop(self, timeout: float = 5.0) -> None:
        """Reverse dependency order: Temporal, then NATS, then Postgres."""
        for name, service in (("temporal", self.temporal), ("nats", self.nats), ("postgres", self.postgres)):
            began = time.monotonic()
            await service.stop()
            logger.debug("%s stopped in %.3fs", name, time.monotonic() - began)


class _Stoppable(Protocol):
    async def stop(self, timeout: float = ...) -> None: ...


async def start_services(pg: PostgresConfig, nats: NatsConfig, temporal: TemporalConfig) -> Services:
    """Start the three services concurrently; on any failure stop those that did start."""
    pg_task = asyncio.create_task(start_postgres(pg), name="start-postgres")
    nats_task = asyncio.create_task(start_nats(nats), name="start-nats")
    temporal_task = asyncio.create_task(start_temporal(temporal), name="start-temporal")
    tasks: list[asyncio.Task[Any]] = [pg_task, nats_task, temporal_task]
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        await _stop_started(tasks)
        raise
    failures = [exc for t in tasks if (exc := t.exception()) is not None]
    if failures:
        await _stop_started(tasks)
        raise failures[0]
    return Services(pg_task.result(), nats_task.result(), temporal_task.result())


async def _stop_started(tasks: list[asyncio.Task[Any]]) -> None:
    for task in reversed(tasks):
        if task.done() and not task.cancelled() and task.exception() is None:
            handle: _Stoppable = task.result()
            await handle.stop()
