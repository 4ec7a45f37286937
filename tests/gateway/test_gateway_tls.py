"""TLS and mTLS on the daemon stream, and the daemon's refusal to send its token in plaintext to a
gateway off this machine: real gRPC, real NATS, certificates made here."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.bus import Bus
from reliant.clients.daemons import call_tool
from reliant.config import Settings
from reliant.daemon.connection import GatewayTlsError, PlaintextTokenRefusedError
from reliant.daemon.role import DaemonRole
from reliant.domain.tools import ToolCall
from reliant.errors import ConfigError
from reliant.gateway.role import GatewayRole
from reliant.wire.grpc_tls import is_loopback
from tests.certificates import CertificateAuthority
from tests.conftest import Infra
from tests.network import non_loopback_address
from tests.support import RoleRunner, eventually


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def settings(infra: Infra, tmp_path: Path, ca: CertificateAuthority) -> Settings:
    port = free_port()
    server = ca.server("gateway")
    return Settings(
        data_dir=tmp_path / "data",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        gateway_tls_cert=str(server.cert),
        gateway_tls_key=str(server.key),
        daemon_tls_ca=str(ca.cert),
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_name="tls-daemon",
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )


@pytest.fixture
async def bus(infra: Infra) -> Any:
    b = await Bus.connect(infra.nats_url, infra.nats_token)
    yield b
    await b.close()


async def _ping(bus: Bus, daemon_id: str) -> str:
    reply = await call_tool(bus, daemon_id, ToolCall(f"t-{uuid.uuid4().hex[:6]}", "ping"), timeout=5)
    return reply.result.output


async def test_daemon_dials_a_tls_gateway_trusting_its_ca(settings: Settings, bus: Bus) -> None:
    async with RoleRunner(GatewayRole(settings)), RoleRunner(DaemonRole(settings)):
        assert await _ping(bus, settings.daemon_id) == "pong"


async def test_daemon_trusting_another_ca_fails_fast_naming_the_gateway(settings: Settings, tmp_path: Path) -> None:
    stranger = CertificateAuthority(tmp_path / "other", "another CA")
    async with RoleRunner(GatewayRole(settings)):
        daemon = DaemonRole(dataclasses.replace(settings, daemon_tls_ca=str(stranger.cert)))
        with pytest.raises(GatewayTlsError) as caught:
            await asyncio.wait_for(daemon.run(asyncio.Event()), 10)
        assert settings.gateway_address in str(caught.value)
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


async def test_a_gateway_certificate_for_another_name_needs_the_server_name(
    settings: Settings, ca: CertificateAuthority, bus: Bus
) -> None:
    named = ca.server("gateway-internal", hosts=("gateway.internal",), loopback=False)
    gateway = dataclasses.replace(settings, gateway_tls_cert=str(named.cert), gateway_tls_key=str(named.key))
    async with RoleRunner(GatewayRole(gateway)):
        with pytest.raises(GatewayTlsError, match=r"not for this host name.*--tls-server-name"):
            await asyncio.wait_for(DaemonRole(gateway).run(asyncio.Event()), 10)  # dials 127.0.0.1
        async with RoleRunner(DaemonRole(dataclasses.replace(gateway, daemon_tls_server_name="gateway.internal"))):
            assert await _ping(bus, settings.daemon_id) == "pong"


async def test_plaintext_daemon_against_a_tls_gateway_fails_fast(settings: Settings) -> None:
    async with RoleRunner(GatewayRole(dataclasses.replace(settings, gateway_tls_cert="", gateway_tls_key=""))):
        daemon = DaemonRole(settings)  # TLS, against a gateway that does not serve it
        with pytest.raises(GatewayTlsError, match="does the gateway serve TLS"):
            await asyncio.wait_for(daemon.run(asyncio.Event()), 10)


async def test_mtls_gateway_accepts_a_client_certificate_and_refuses_a_daemon_without_one(
    settings: Settings, ca: CertificateAuthority, bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    client = ca.client("daemon")
    mtls = dataclasses.replace(settings, gateway_tls_client_ca=str(ca.cert))
    with_cert = dataclasses.replace(mtls, daemon_tls_cert=str(client.cert), daemon_tls_key=str(client.key))
    async with RoleRunner(GatewayRole(mtls)):
        async with RoleRunner(DaemonRole(with_cert)):
            assert await _ping(bus, settings.daemon_id) == "pong"

        caplog.set_level(logging.WARNING, logger="reliant.daemon.connection")
        without = DaemonRole(dataclasses.replace(mtls, daemon_id=f"d-{uuid.uuid4().hex[:8]}"))
        task = asyncio.create_task(without.run(asyncio.Event()))
        try:
            await eventually(lambda: "requires a client certificate" in caplog.text, timeout=20)
            assert without.connection.sessions == 0 and not task.done()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_half_a_tls_pair_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="gateway_tls_cert and gateway_tls_key"):
        await GatewayRole(dataclasses.replace(settings, gateway_tls_key="")).run(asyncio.Event())
    with pytest.raises(ConfigError, match="daemon_tls_cert and daemon_tls_key"):
        DaemonRole(dataclasses.replace(settings, daemon_tls_cert=settings.gateway_tls_cert))
    with pytest.raises(ConfigError, match="gateway_tls_key: cannot read /nonexistent"):
        await GatewayRole(dataclasses.replace(settings, gateway_tls_key="/nonexistent/key.pem")).run(asyncio.Event())


def test_which_gateway_addresses_are_loopback() -> None:
    local = ["127.0.0.1:7421", "127.3.4.5:1", "localhost:7421", "LOCALHOST.:1", "gw.localhost:1", "[::1]:7421"]
    for address in [*local, "unix:/tmp/gw.sock"]:
        assert is_loopback(address), address
    remote = ["10.0.0.5:7421", "192.0.2.2:1", "gateway.example.com:443", "[fd00::2]:7421", "0.0.0.0:7421"]
    for address in [*remote, "localhost.evil.com:1"]:
        assert not is_loopback(address), address


async def test_the_token_is_not_sent_in_plaintext_off_this_machine_unless_told_to(settings: Settings, bus: Bus) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    plain = dataclasses.replace(
        settings,
        host=address,
        gateway_address=f"{address}:{settings.gateway_port}",
        gateway_tls_cert="",
        gateway_tls_key="",
        daemon_tls_ca="",
    )
    async with RoleRunner(GatewayRole(plain)):
        refused = DaemonRole(plain)
        with pytest.raises(PlaintextTokenRefusedError, match=f"gateway {address}:.* without TLS.*--insecure"):
            await asyncio.wait_for(refused.run(asyncio.Event()), 5)
        assert refused.connection.sessions == 0
        # The same gateway is reachable: only the refusal stopped the daemon.
        async with RoleRunner(DaemonRole(dataclasses.replace(plain, daemon_insecure_plaintext_token=True))):
            assert await _ping(bus, settings.daemon_id) == "pong"


def test_the_appliance_daemon_dials_its_own_gateway_whatever_the_host(tmp_path: Path) -> None:
    from reliant.appliance.datadir import DataDir
    from reliant.appliance.supervisor import resolve_embedded

    for name in ("a", "b"):
        DataDir(tmp_path / name).ensure()
    on_loopback, *_ = resolve_embedded(Settings(data_dir=tmp_path / "a"), DataDir(tmp_path / "a"))
    assert not on_loopback.daemon_insecure_plaintext_token
    everywhere, *_ = resolve_embedded(Settings(data_dir=tmp_path / "b", host="0.0.0.0"), DataDir(tmp_path / "b"))
    assert everywhere.daemon_insecure_plaintext_token  # `reliant up --host 0.0.0.0` keeps working
