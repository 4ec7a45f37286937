"""The probe listener of the worker and gateway: /health always, /ready as the check says, nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.appliance.probes import ProbeServer
from reliant.errors import CannotListenError, PortInUseError
from tests.e2e.harness import http_json


async def test_health_ready_and_nothing_else() -> None:
    state: dict[str, Any] = {"ready": False}

    async def check() -> bool:
        if state["ready"] == "raise":
            raise OSError("postgres went away")
        return bool(state["ready"])

    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def get(path: str, method: str = "GET") -> tuple[int, Any]:
        return http_json(method, url + path)

    async with ProbeServer("127.0.0.1", port, check, role="worker"):
        assert await asyncio.to_thread(get, "/health") == (200, {"status": "ok"})
        assert await asyncio.to_thread(get, "/ready") == (503, {"ready": False})
        state["ready"] = True
        assert await asyncio.to_thread(get, "/ready?verbose=1") == (200, {"ready": True})
        state["ready"] = "raise"
        assert await asyncio.to_thread(get, "/ready") == (503, {"ready": False})
        assert (await asyncio.to_thread(get, "/metrics"))[0] == 404
        assert (await asyncio.to_thread(get, "/health", "POST"))[0] == 405
    reader_writer = asyncio.open_connection("127.0.0.1", port)
    try:
        await reader_writer
    except OSError:
        pass
    else:
        raise AssertionError("the listener is closed after shutdown")


async def test_a_taken_port_and_an_address_not_of_this_machine_are_told_apart() -> None:
    async def check() -> bool:
        return True

    async with ProbeServer("127.0.0.1", free_port(), check, role="worker") as taken:
        with pytest.raises(PortInUseError, match=r"worker probes: port \d+ on 127.0.0.1 is already in use"):
            await ProbeServer("127.0.0.1", taken.port, check, role="worker").start()
    port = free_port()
    with pytest.raises(CannotListenError, match=rf"gateway probes: cannot listen on 192.0.2.1:{port}: .*assign"):
        await ProbeServer("192.0.2.1", port, check, role="gateway").start()
