"""The supervisor's role runner: a role that fails ends the run with its error, in seconds, even
when another role lost the cancel that should stop it."""

from __future__ import annotations

import asyncio
import time

import pytest

from reliant.appliance import supervisor
from reliant.appliance.supervisor import run_roles
from reliant.errors import PortInUseError


class Serving:
    """A role that serves until cancelled; `deaf_once` swallows its first cancel the way Python
    3.11's `asyncio.wait_for` does when the cancel lands as its awaitable finishes."""

    def __init__(self, name: str, *, deaf_once: bool = False, ready_after: float = 0.0) -> None:
        self.name = name
        self.deaf_once = deaf_once
        self.ready_after = ready_after
        self.stopped = False

    async def run(self, ready: asyncio.Event) -> None:
        try:
            if self.deaf_once:
                try:
                    await asyncio.sleep(self.ready_after)
                except asyncio.CancelledError:
                    pass  # lost: the role goes on as if nothing had been asked
            else:
                await asyncio.sleep(self.ready_after)
            ready.set()
            await asyncio.Event().wait()
        finally:
            self.stopped = True


class FailsToBind:
    name = "gateway"

    async def run(self, ready: asyncio.Event) -> None:
        await asyncio.sleep(0.05)
        raise PortInUseError("gateway", "127.0.0.1", 1)


@pytest.fixture
def quick_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "ROLE_STOP_TIMEOUT", 0.5)
    monkeypatch.setattr(supervisor, "ROLE_RECANCEL_GRACE", 0.5)


async def test_a_role_that_fails_to_start_ends_the_run_with_its_error_though_another_lost_its_cancel(
    quick_stops: None,
) -> None:
    api = Serving("api", deaf_once=True, ready_after=0.2)  # still starting when the gateway fails
    began = time.monotonic()
    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(run_roles([api, FailsToBind()], on_ready=lambda: None, stop=asyncio.Event()), 10)
    assert [type(e) for e in raised.value.exceptions] == [PortInUseError]
    assert api.stopped
    assert time.monotonic() - began < 3


async def test_a_stop_reaches_every_role_in_order_and_a_clean_stop_raises_nothing(quick_stops: None) -> None:
    order: list[str] = []

    class Recorded(Serving):
        async def run(self, ready: asyncio.Event) -> None:
            try:
                await super().run(ready)
            finally:
                order.append(self.name)

    roles = [Recorded(n) for n in ("gateway", "daemon", "worker", "api")]
    stop = asyncio.Event()
    readied: list[bool] = []

    def on_ready() -> None:
        readied.append(True)
        stop.set()

    await asyncio.wait_for(run_roles(roles, on_ready=on_ready, stop=stop), 10)
    assert readied == [True]
    assert order == ["api", "worker", "daemon", "gateway"]


async def test_a_role_that_ends_while_serving_ends_the_run_with_an_error(quick_stops: None) -> None:
    class Quits(Serving):
        async def run(self, ready: asyncio.Event) -> None:
            ready.set()
            await asyncio.sleep(0.05)

    api = Serving("api")
    with pytest.raises(ExceptionGroup, match="roles failed") as raised:
        await asyncio.wait_for(run_roles([api, Quits("worker")], on_ready=lambda: None, stop=asyncio.Event()), 10)
    assert "role worker stopped on its own" in str(raised.value.exceptions[0])
    assert api.stopped


async def test_a_role_that_ignores_both_cancels_is_left_with_an_error_and_the_run_ends(
    quick_stops: None, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    class Deaf(Serving):
        async def run(self, ready: asyncio.Event) -> None:
            ready.set()
            for _ in range(2):
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    pass
            await release.wait()  # what a third cancel (asyncio.run's, at exit) would end

    deaf = Deaf("worker")
    stop = asyncio.Event()
    began = time.monotonic()
    await asyncio.wait_for(run_roles([deaf], on_ready=stop.set, stop=stop), 10)
    assert time.monotonic() - began < 3
    assert "role worker ignores its cancel; leaving it" in caplog.text
    release.set()


DEAF_PROCESS = """
import asyncio
import importlib

from reliant.appliance import supervisor

app = importlib.import_module("reliant.cli.app")  # the package's `app` is the typer app

supervisor.ROLE_STOP_TIMEOUT = 0.3
supervisor.ROLE_RECANCEL_GRACE = 0.3
app.LEFTOVER_TIMEOUT = 0.5


class Deaf:
    name = "worker"

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass


app.run_async(supervisor.run_roles([Deaf()], on_ready=lambda: print("ready", flush=True)))
"""


def test_a_role_that_swallows_every_cancel_cannot_keep_the_process_from_exiting_on_sigterm() -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", DEAF_PROCESS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - began < 5
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == "error: role worker would not stop; exiting without it"
