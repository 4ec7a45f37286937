"""NATS as a deployment runs it: users and passwords, NKEYs, TLS with a private CA, client
certificates (verify), and a cluster of three joined by routes that a client rides through the death
of the server it is on. Real nats-server processes; certificates made here."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from reliant.bus import Bus, BusError, Incoming, NatsAuth
from reliant.errors import ConfigError
from tests.bus.nats_servers import NatsProcess, cluster, operator_with_user, user_nkey
from tests.certificates import CertificateAuthority
from tests.support import eventually


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def servers() -> Iterator[list[NatsProcess]]:
    started: list[NatsProcess] = []
    yield started
    for server in started:
        server.stop()


def _start(servers: list[NatsProcess], server: NatsProcess) -> NatsProcess:
    servers.append(server)
    return server.start()


async def _echo(bus: Bus, subject: str) -> None:
    async def reply(msg: Incoming) -> None:
        await bus.publish(msg.reply, b"echo:" + msg.data)

    await bus.subscribe(subject, reply)


async def _round_trip(url: str, auth: NatsAuth) -> None:
    """Connect with `auth`, answer a request on a subject of our own, close."""
    bus = await Bus.connect(url, auth=auth, connect_timeout=3)
    try:
        subject = f"test.{uuid.uuid4().hex}"
        await _echo(bus, subject)
        assert (await bus.request(subject, b"hi", timeout=5)).data == b"echo:hi"
    finally:
        await bus.close()


async def _refused(url: str, auth: NatsAuth) -> str:
    began = time.monotonic()
    with pytest.raises(BusError) as caught:
        await Bus.connect(url, auth=auth, connect_timeout=3)
    assert time.monotonic() - began < 10, "a refusal ends the connect, it does not retry for ever"
    assert f"NATS at {url}" in str(caught.value)
    return str(caught.value)


async def test_users_with_passwords_and_nkeys(servers: list[NatsProcess], tmp_path: Path) -> None:
    seed = tmp_path / "user.nk"
    public = user_nkey(seed)
    user_nkey(tmp_path / "stranger.nk")  # a well-formed key the server does not know
    server = _start(
        servers,
        NatsProcess(
            tmp_path / "nats",
            {"authorization": {"users": [{"user": "worker", "password": "s3cret-pass"}, {"nkey": public}]}},
        ),
    )
    await _round_trip(server.url, NatsAuth(user="worker", password="s3cret-pass"))
    await _round_trip(server.url, NatsAuth(nkey_file=str(seed)))
    assert "Authorization" in await _refused(server.url, NatsAuth(user="worker", password="wrong"))
    assert "Authorization" in await _refused(server.url, NatsAuth(nkey_file=str(tmp_path / "stranger.nk")))
    assert "Authorization" in await _refused(server.url, NatsAuth())
    with pytest.raises(ConfigError, match=r"nats_nkey_file: /nonexistent/user\.nk"):
        await Bus.connect(server.url, auth=NatsAuth(nkey_file="/nonexistent/user.nk"))


def _tls(ca: CertificateAuthority, *, verify: bool) -> dict[str, Any]:
    pair = ca.server("nats")
    block: dict[str, Any] = {"cert_file": str(pair.cert), "key_file": str(pair.key), "timeout": 5}
    if verify:
        block |= {"ca_file": str(ca.cert), "verify": True}
    return {"tls": block, "authorization": {"token": "tls-token"}}


async def test_tls_with_a_private_ca(servers: list[NatsProcess], ca: CertificateAuthority, tmp_path: Path) -> None:
    server = _start(servers, NatsProcess(tmp_path / "nats", _tls(ca, verify=False), scheme="tls"))
    await _round_trip(server.url, NatsAuth(token="tls-token", tls_ca=str(ca.cert)))
    other = CertificateAuthority(tmp_path / "other", "another CA")
    assert "certificate" in (await _refused(server.url, NatsAuth(token="tls-token", tls_ca=str(other.cert)))).lower()
    with pytest.raises(ConfigError, match=r"nats_tls_ca /nonexistent/ca\.crt"):
        await Bus.connect(server.url, auth=NatsAuth(tls_ca="/nonexistent/ca.crt"))


async def test_mutual_tls_needs_a_client_certificate(
    servers: list[NatsProcess], ca: CertificateAuthority, tmp_path: Path
) -> None:
    server = _start(servers, NatsProcess(tmp_path / "nats", _tls(ca, verify=True), scheme="tls"))
    client = ca.client("worker")
    auth = NatsAuth(token="tls-token", tls_ca=str(ca.cert), tls_cert=str(client.cert), tls_key=str(client.key))
    await _round_trip(server.url, auth)
    await _refused(server.url, NatsAuth(token="tls-token", tls_ca=str(ca.cert)))
    with pytest.raises(ConfigError, match="nats_tls_cert and nats_tls_key"):
        NatsAuth(tls_cert=str(client.cert)).options()


@pytest.fixture
async def three(servers: list[NatsProcess], tmp_path: Path) -> AsyncIterator[list[NatsProcess]]:
    nodes = cluster(tmp_path, authorization={"users": [{"user": "u", "password": "p"}]})
    for node in nodes:
        _start(servers, node)
    yield nodes


async def test_a_client_given_every_seed_rides_through_the_death_of_its_server(three: list[NatsProcess]) -> None:
    seeds = ",".join(node.url for node in three)
    auth = NatsAuth(user="u", password="p")
    responder = await Bus.connect(three[0].url, auth=auth)  # on a node that stays up
    client = await Bus.connect(seeds, auth=auth)
    try:
        subject = f"test.{uuid.uuid4().hex}"
        await _echo(responder, subject)
        # The routes carry the subscription to every node: wait until the client's node knows it.
        await eventually(lambda: _answers(client, subject), timeout=15)
        doomed = next(node for node in three if node.url == client.server)
        if doomed is three[0]:  # keep the responder's node: move the responder instead
            await responder.close()
            responder = await Bus.connect(three[1].url, auth=auth)
            await _echo(responder, subject)
            await eventually(lambda: _answers(client, subject), timeout=15)
        losses = client.losses
        doomed.kill()
        await eventually(lambda: client.losses > losses and client.connected, timeout=20)
        assert client.server != doomed.url
        await eventually(lambda: _answers(client, subject), timeout=15)
    finally:
        await client.close()
        await responder.close()


async def _answers(bus: Bus, subject: str) -> bool:
    try:
        return (await bus.request(subject, b"x", timeout=1)).data == b"echo:x"
    except BusError:
        return False


async def test_a_creds_file_signed_by_an_operator_and_account(servers: list[NatsProcess], tmp_path: Path) -> None:
    operator = operator_with_user(tmp_path / "auth")
    server = _start(servers, NatsProcess(tmp_path / "nats", operator.config))
    await _round_trip(server.url, NatsAuth(creds_file=str(operator.creds)))
    stranger = operator_with_user(tmp_path / "other-operator")  # a user no account here signed
    assert "Authorization" in await _refused(server.url, NatsAuth(creds_file=str(stranger.creds)))


async def test_on_a_cluster_the_presence_bucket_and_live_stream_have_a_replica_on_each_server(
    three: list[NatsProcess], tmp_path: Path
) -> None:
    for node in three:  # JetStream on the fixture's cluster
        node.stop()
        node.config["jetstream"] = {"store_dir": str(node.directory / "js")}
        node.start()
    bus = await Bus.connect(",".join(node.url for node in three), auth=NatsAuth(user="u", password="p"), replicas=3)
    try:
        await eventually(bus.presence, timeout=30)  # until the cluster has elected its JetStream leader
        await bus.live.publish("c1", 1, b"x")
        js = bus._nc.jetstream()
        for stream in ("KV_reliant_presence", "RELIANT_LIVE"):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
    finally:
        await bus.close()
