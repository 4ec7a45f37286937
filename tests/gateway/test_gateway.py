"""Gateway and daemon over a real gRPC stream and a real NATS server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from embedded.ports import free_port
from reliant.bus import Bus, Incoming, subjects
from reliant.clients.daemons import call_tool
from reliant.config import Settings
from reliant.daemon.connection import DaemonRejectedError
from reliant.daemon.role import DaemonRole
from reliant.daemon.tools import ToolContext, ToolOutput, ToolSpec
from reliant.domain.tools import ToolCall, ToolStatus
from reliant.errors import DaemonUnavailableError
from reliant.gateway.role import GatewayRole
from reliant.gateway.servicer import DaemonSession, GatewayServicer
from reliant.wire.v1 import daemon_pb2 as pb
from reliant.wire.v1 import daemon_pb2_grpc
from tests.conftest import Infra
from tests.e2e.harness import Proc, clean_env
from tests.support import RoleRunner, eventually


@pytest.fixture
def settings(infra: Infra) -> Settings:
    port = free_port()
    return Settings(
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_name="test-daemon",
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )


@pytest.fixture
async def bus(infra: Infra) -> Any:
    b = await Bus.connect(infra.nats_url, infra.nats_token)
    yield b
    await b.close()


async def _daemon_record(bus: Bus, daemon_id: str) -> dict[str, Any]:
    entries = await (await bus.presence()).entries("daemon.")
    return entries.get(f"daemon.{daemon_id}", {})


async def test_a_tool_call_travels_nats_gateway_grpc_daemon_and_back(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        call = ToolCall(tool_call_id="t1", tool="ping", input={"echo": "hi"})
        reply = await call_tool(bus, settings.daemon_id, call, timeout=5)
        assert reply.result.status is ToolStatus.OK and reply.result.output == "pong"
        assert reply.result.data["daemon_id"] == settings.daemon_id and reply.result.data["echo"] == "hi"
        assert 0 < reply.gateway_ms <= reply.rtt_ms
        record = await _daemon_record(bus, settings.daemon_id)
        assert record["online"] and record["name"] == "test-daemon"


async def test_bad_input_comes_back_as_a_tool_error_not_a_crash(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        bad = await call_tool(bus, settings.daemon_id, ToolCall("t2", "ping", {"echo": 5}), timeout=5)
        assert bad.result.status is ToolStatus.ERROR and "invalid input for ping" in bad.result.error
        unknown = await call_tool(bus, settings.daemon_id, ToolCall("t3", "nope"), timeout=5)
        assert unknown.result.status is ToolStatus.ERROR and "unknown tool 'nope'" in unknown.result.error
        raw = await bus.request(subjects.daemon_tools(settings.daemon_id), b"{not json", timeout=5)
        assert raw.json()["status"] == "error" and "malformed" in raw.json()["error"]
        ok = await call_tool(bus, settings.daemon_id, ToolCall("t4", "ping"), timeout=5)
        assert ok.result.status is ToolStatus.OK


async def test_wrong_daemon_token_is_rejected_with_a_clear_status(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)):
        intruder = DaemonRole(dataclasses.replace(settings, daemon_token="wrong"))
        with pytest.raises(DaemonRejectedError, match="daemon token rejected"):
            await asyncio.wait_for(intruder.run(asyncio.Event()), 10)
        with pytest.raises(DaemonUnavailableError, match="not connected"):
            await call_tool(bus, settings.daemon_id, ToolCall("t", "ping"), timeout=2)


async def test_gateway_subscribes_only_for_daemons_it_holds(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        with pytest.raises(DaemonUnavailableError, match="not connected"):
            await call_tool(bus, "d-somebody-else", ToolCall("t", "ping"), timeout=2)


async def test_daemon_reconnects_after_the_gateway_restarts(settings: Settings, bus: Bus) -> None:
    daemon = DaemonRole(settings)
    gateway = RoleRunner(GatewayRole(settings))
    await gateway.__aenter__()
    async with RoleRunner(daemon):
        await gateway.stop()
        with pytest.raises(DaemonUnavailableError):
            await call_tool(bus, settings.daemon_id, ToolCall("t", "ping"), timeout=2)
        async with RoleRunner(GatewayRole(settings)):
            await eventually(lambda: daemon.connection.sessions >= 2, timeout=15)
            reply = await call_tool(bus, settings.daemon_id, ToolCall("t", "ping"), timeout=5)
            assert reply.result.output == "pong"


async def test_daemon_disconnect_is_reported_offline_and_fails_requests_in_flight(settings: Settings, bus: Bus) -> None:
    started = asyncio.Event()

    async def slow(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
        started.set()
        await asyncio.sleep(30)
        return ToolOutput(output="too late")

    daemon = DaemonRole(settings)
    daemon.host.tools["slow"] = ToolSpec("slow", "sleeps", {"type": "object"}, slow, needs_workspace=False)
    async with RoleRunner(GatewayRole(settings)):
        runner = RoleRunner(daemon)
        await runner.__aenter__()
        pending = asyncio.create_task(call_tool(bus, settings.daemon_id, ToolCall("s", "slow"), timeout=20))
        await asyncio.wait_for(started.wait(), 5)
        began = time.monotonic()
        await runner.stop()
        with pytest.raises(DaemonUnavailableError, match="daemon-disconnected"):
            await pending
        assert time.monotonic() - began < 5
        record = await eventually(lambda: _offline(bus, settings.daemon_id))
        assert record["online"] is False


async def _offline(bus: Bus, daemon_id: str) -> dict[str, Any] | None:
    record = await _daemon_record(bus, daemon_id)
    return record if record and not record["online"] else None


async def test_a_silent_daemon_is_marked_offline_after_the_heartbeat_timeout(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)):
        async with grpc.aio.insecure_channel(settings.gateway_address) as channel:
            call = daemon_pb2_grpc.DaemonGatewayStub(channel).Connect()  # type: ignore[no-untyped-call]
            await call.write(
                pb.DaemonMessage(
                    register=pb.Register(daemon_id=settings.daemon_id, name="silent", token=settings.daemon_token)
                )
            )
            first = await call.read()
            assert first.HasField("registered")
            assert (await _daemon_record(bus, settings.daemon_id))["online"]
            began = time.monotonic()
            # Never answer: the gateway's heartbeats go unanswered until it gives up on us.
            while (message := await call.read()) is not grpc.aio.EOF:
                assert message.HasField("heartbeat")
            elapsed = time.monotonic() - began
            assert settings.heartbeat_timeout - 0.5 <= elapsed < settings.heartbeat_timeout + 5
        await eventually(lambda: _offline(bus, settings.daemon_id))


async def test_register_must_come_first(settings: Settings) -> None:
    async with RoleRunner(GatewayRole(settings)):
        async with grpc.aio.insecure_channel(settings.gateway_address) as channel:
            call = daemon_pb2_grpc.DaemonGatewayStub(channel).Connect()  # type: ignore[no-untyped-call]
            await call.write(pb.DaemonMessage(heartbeat=pb.Heartbeat(sent_unix_ms=1)))
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call.read()
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "Register" in (info.value.details() or "")


class CleanupRacedByAReconnect(GatewayServicer):
    """Marks a closed stream's daemon offline only once a newer stream of it has registered (or
    after 2 s): the moment a reconnect races the old stream's cleanup, held open."""

    async def _mark_offline(self, session: DaemonSession) -> None:
        async def replaced() -> bool:
            return self.sessions.get(session.daemon_id) not in (None, session)

        try:
            await eventually(replaced, timeout=2.0, interval=0.01)
        except AssertionError:
            pass  # the reconnect waits for this cleanup to end
        await super()._mark_offline(session)


async def _register(settings: Settings, channel: grpc.aio.Channel) -> Any:
    call = daemon_pb2_grpc.DaemonGatewayStub(channel).Connect()  # type: ignore[no-untyped-call]
    await call.write(
        pb.DaemonMessage(register=pb.Register(daemon_id=settings.daemon_id, name="d", token=settings.daemon_token))
    )
    assert (await call.read()).HasField("registered")
    return call


async def test_a_daemon_reconnecting_during_its_old_streams_cleanup_is_not_marked_offline_by_it(
    settings: Settings, bus: Bus
) -> None:
    servicer = CleanupRacedByAReconnect(
        bus, daemon_token=settings.daemon_token, gateway_id="g", heartbeat_interval=0.2, heartbeat_timeout=5.0
    )
    server = grpc.aio.server()
    daemon_pb2_grpc.add_DaemonGatewayServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    server.add_insecure_port(settings.gateway_address)
    await server.start()
    events: list[bool] = []

    async def seen(msg: Incoming) -> None:
        events.append(bool(json.loads(msg.data)["online"]))

    watch = await bus.subscribe(subjects.daemon_online(settings.daemon_id), seen)
    try:
        async with grpc.aio.insecure_channel(settings.gateway_address) as first_channel:
            old = await _register(settings, first_channel)
            await eventually(lambda: events == [True])
            old.cancel()  # the daemon drops its stream (it saw no heartbeat, say) ...
            await eventually(lambda: settings.daemon_id not in servicer.sessions)
            async with grpc.aio.insecure_channel(settings.gateway_address) as channel:
                new = await _register(settings, channel)  # ... and reconnects during the old one's cleanup
                await eventually(lambda: len(events) >= 3, timeout=10)
                assert events == [True, False, True], "the old stream's offline must come before the new online"
                assert (await _daemon_record(bus, settings.daemon_id))["online"] is True
                # Requests reach the new stream.
                asked = asyncio.create_task(call_tool(bus, settings.daemon_id, ToolCall("t", "ping"), timeout=5))
                while not (message := await new.read()).HasField("request"):
                    pass
                assert message.request.subject == "tools"
                asked.cancel()
                await asyncio.gather(asked, return_exceptions=True)
    finally:
        await watch.unsubscribe()
        await servicer.close_all()
        await server.stop(grace=1.0)


async def test_a_frozen_gateway_once_resumed_fails_the_requests_it_held(
    settings: Settings, bus: Bus, infra: Infra, tmp_path: Path
) -> None:
    env = clean_env(RELIANT_DAEMON_TOKEN=settings.daemon_token, RELIANT_HEARTBEAT_INTERVAL="0.2")
    env["RELIANT_HEARTBEAT_TIMEOUT"] = "1"
    args = ["server", "gateway", "--port", str(settings.gateway_port), "--nats-url", infra.nats_url]
    args += ["--nats-token", infra.nats_token, "--data-dir", str(tmp_path / "gw")]
    gateway = Proc(args, tmp_path / "gateway.log", env=env).start()
    try:
        await asyncio.to_thread(gateway.wait_for_output, "reliant gateway ready", 60)
        async with grpc.aio.insecure_channel(settings.gateway_address) as channel:
            daemon = await _register(settings, channel)
            asked = asyncio.create_task(call_tool(bus, settings.daemon_id, ToolCall("t", "ping"), timeout=30))
            while not (await daemon.read()).HasField("request"):
                pass  # forwarded: the gateway now holds the request
            os.kill(gateway.pid, signal.SIGSTOP)
            try:
                daemon.cancel()  # the daemon gives up on the silent gateway meanwhile
                await asyncio.sleep(2.0)  # the length of the freeze, longer than the heartbeat timeout
            finally:
                os.kill(gateway.pid, signal.SIGCONT)
            resumed = time.monotonic()
            with pytest.raises(DaemonUnavailableError) as failed:
                await asyncio.wait_for(asyncio.shield(asked), 10)
            assert failed.value.maybe_reached, "it was forwarded: it may have reached the daemon"
            assert time.monotonic() - resumed < 5
    finally:
        gateway.kill()
