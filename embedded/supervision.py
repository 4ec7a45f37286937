"""Keep the embedded services running: one that dies is started again, with backoff, on the same
ports and data, so the clients that lost it reconnect by themselves. One that keeps dying (by
default 5 deaths within a minute) ends supervision with an error that says so.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn

from embedded._process import ChildService, log_tail
from embedded.errors import EmbeddedError
from embedded.nats import NatsServer, start_nats
from embedded.postgres import PostgresServer, start_postgres
from embedded.services import Services
from embedded.temporal import TemporalServer, start_temporal

logger = logging.getLogger(__name__)

Handle = PostgresServer | NatsServer | TemporalServer
OnRestart = Callable[[str, Handle], None]

POLL_INTERVAL = 0.1  # how often a postmaster (not our child: pg_ctl daemonizes it) is checked


class ServiceKeepsDyingError(EmbeddedError):
    """A service died too often in too short a time; restarting it again would not help."""

    def __init__(self, service: str, deaths: int, window: float, last: str, *, log_path: Path | None = None) -> None:
        self.deaths = deaths
        self.window = window
        self.last = last
        super().__init__(
            service,
            f"died {deaths} times within {window:.0f}s (last: {last}); not restarting it again",
            log_path=log_path,
            log_tail=log_tail(log_path) if log_path is not None else "",
        )


def how_it_ended(returncode: int | None) -> str:
    """ "exit code 3", "killed by SIGKILL" or "exited" (a process that is not our child)."""
    if returncode is None:
        return "exited"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


async def _death(handle: Handle) -> str:
    """Wait for the service to die; say how."""
    if isinstance(handle, ChildService):
        return how_it_ended(await handle.child.process.wait())
    while handle.running:  # noqa: ASYNC110 - nothing signals the death of a process that is not our child
        await asyncio.sleep(POLL_INTERVAL)
    return how_it_ended(None)


def _starter(handle: Handle) -> Callable[[], Awaitable[Handle]]:
    if isinstance(handle, PostgresServer):
        cfg_pg = handle.config
        return lambda: start_postgres(cfg_pg)
    if isinstance(handle, NatsServer):
        cfg_nats = handle.config
        return lambda: start_nats(cfg_nats)
    cfg_temporal = handle.config
    return lambda: start_temporal(cfg_temporal)


def _log_path(handle: Handle) -> Path:
    return handle.config.log_path


class ServiceSupervisor:
    """Watches the three services of `services` and restarts any that dies, replacing its handle
    in `services` (so `services.stop()` stops the new process). `run()` returns only by raising
    ServiceKeepsDyingError; cancel it before stopping the services."""

    NAMES = ("postgres", "nats", "temporal")

    def __init__(
        self,
        services: Services,
        *,
        on_restart: OnRestart | None = None,
        max_deaths: int = 5,
        window: float = 60.0,
        first_delay: float = 0.25,
        max_delay: float = 10.0,
    ) -> None:
        self.services = services
        self.on_restart = on_restart
        self.max_deaths = max_deaths
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._deaths: dict[str, collections.deque[float]] = {n: collections.deque() for n in self.NAMES}

    async def run(self) -> NoReturn:
        try:
            async with asyncio.TaskGroup() as tg:
                for name in self.NAMES:
                    tg.create_task(self._keep(name), name=f"supervise-{name}")
        except ExceptionGroup as group:
            dying = group.subgroup(ServiceKeepsDyingError)
            if dying is None:
                raise
            raise dying.exceptions[0] from None
        raise AssertionError("supervision ended without an error")  # _keep never returns

    def _handle(self, name: str) -> Handle:
        handle: Handle = getattr(self.services, name)
        return handle

    async def _keep(self, name: str) -> None:
        while True:
            handle = self._handle(name)
            how = await _death(handle)
            delay = self._count_death(name, how, handle)
            logger.warning("%s (pid %d) died: %s; restarting it in %.2gs", name, handle.pid, how, delay)
            while True:
                await asyncio.sleep(delay)
                try:
                    handle = await self._start(_starter(handle))
                    break
                except EmbeddedError as exc:
                    how = f"did not start again: {exc.message}"
                    delay = self._count_death(name, how, handle)
                    logger.warning("%s %s; trying again in %.2gs", name, how, delay)
            setattr(self.services, name, handle)
            logger.info("%s is running again (pid %d)", name, handle.pid)
            if self.on_restart is not None:
                self.on_restart(name, handle)

    def _count_death(self, name: str, how: str, handle: Handle) -> float:
        """Record a death; the delay before the next start, or raise if it dies too often."""
        now = time.monotonic()
        deaths = self._deaths[name]
        deaths.append(now)
        while deaths and deaths[0] < now - self.window:
            deaths.popleft()
        if len(deaths) >= self.max_deaths:
            raise ServiceKeepsDyingError(name, len(deaths), self.window, how, log_path=_log_path(handle))
        return float(min(self.max_delay, self.first_delay * 2 ** (len(deaths) - 1)))

    @staticmethod
    async def _start(start: Callable[[], Awaitable[Handle]]) -> Handle:
        """Start the service; if cancelled meanwhile, let the start finish and stop what it started
        (a postmaster is not our child: abandoned half-way it would keep running)."""
        task = asyncio.ensure_future(start())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            try:
                handle = await task
            except EmbeddedError:
                raise asyncio.CancelledError from None
            await handle.stop()
            raise
