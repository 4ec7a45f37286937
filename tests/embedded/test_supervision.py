"""The service supervisor against the real binaries: a killed service comes back on the same port
with the same data, its clients reconnect, and one that keeps dying ends supervision with an error."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

import embedded
from tests.conftest import service_configs
from tests.support import eventually, pid_alive, processes_mentioning


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[embedded.Services]:
    services = await embedded.start_services(*service_configs(tmp_path))
    try:
        yield services
    finally:
        await services.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


async def _supervised(supervisor: embedded.ServiceSupervisor) -> asyncio.Task[None]:
    task = asyncio.create_task(supervisor.run())
    await asyncio.sleep(0)
    return task


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_killed_nats_comes_back_on_its_port_and_clients_reconnect(
    services: embedded.Services, caplog: pytest.LogCaptureFixture
) -> None:
    import nats as nats_client

    caplog.set_level(logging.WARNING, "embedded.supervision")
    restarted: list[tuple[str, int]] = []
    supervisor = embedded.ServiceSupervisor(services, on_restart=lambda name, h: restarted.append((name, h.pid)))
    task = await _supervised(supervisor)
    nc = await nats_client.connect(services.nats.url, token="test-nats-token", reconnect_time_wait=0.1)
    try:
        old = services.nats.pid
        os.kill(old, signal.SIGKILL)
        await eventually(lambda: services.nats.pid != old and services.nats.running, timeout=15)
        assert restarted == [("nats", services.nats.pid)]
        assert f"nats (pid {old}) died: killed by SIGKILL; restarting it in" in caplog.text
        await eventually(lambda: nc.is_connected, timeout=10)
        sub = await nc.subscribe("after.restart")
        await nc.publish("after.restart", b"hello")
        assert (await sub.next_msg(timeout=5)).data == b"hello"
    finally:
        await nc.close()
        await _cancel(task)


async def test_a_killed_temporal_comes_back_and_its_client_reconnects(services: embedded.Services) -> None:
    client = await Client.connect(services.temporal.address, namespace="default")
    task = await _supervised(embedded.ServiceSupervisor(services))
    try:
        old = services.temporal.pid
        os.kill(old, signal.SIGKILL)
        await eventually(lambda: services.temporal.pid != old and services.temporal.running, timeout=30)
        await eventually(client.service_client.check_health, timeout=30)
    finally:
        await _cancel(task)


async def test_a_killed_postmaster_comes_back_with_its_data(services: embedded.Services) -> None:
    url = services.postgres.url
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')")
    task = await _supervised(embedded.ServiceSupervisor(services))
    try:
        old = services.postgres.pid
        os.kill(old, signal.SIGKILL)
        await eventually(lambda: services.postgres.pid != old and services.postgres.running, timeout=30)
        assert services.postgres.url == url, "same port, same password"

        async def kept() -> list[tuple[object, ...]]:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                return await (await conn.execute("SELECT v FROM kept")).fetchall()

        assert await eventually(kept, timeout=15) == [("before",)]
    finally:
        await _cancel(task)
    assert not pid_alive(old)


async def test_a_service_that_keeps_dying_ends_supervision_with_a_clear_error(services: embedded.Services) -> None:
    supervisor = embedded.ServiceSupervisor(services, max_deaths=3, window=60, first_delay=0.05)
    task = await _supervised(supervisor)
    try:
        for _ in range(2):
            old = services.nats.pid
            os.kill(old, signal.SIGKILL)
            await eventually(lambda: services.nats.pid != old and services.nats.running, timeout=15)  # noqa: B023
        os.kill(services.nats.pid, signal.SIGKILL)
        with pytest.raises(embedded.ServiceKeepsDyingError) as info:
            await asyncio.wait_for(task, 15)
    finally:
        await _cancel(task)
    error = info.value
    assert error.service == "nats" and error.deaths == 3
    assert "nats: died 3 times within 60s (last: killed by SIGKILL); not restarting it again" in str(error)
    assert not services.nats.running
