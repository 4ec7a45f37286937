"""A daemon pointed at an address where something other than a reliant gateway answers (the api's
HTTP port, another gRPC server, another protocol) stops at once, saying what it found there (after a
session, only once nothing else answered for a while); an address where nothing answers is retried,
as a gateway that restarts would be."""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.daemon.connection import DaemonConnection, DaemonIdentity, NotAGatewayError
from reliant.daemon.role import DaemonRole
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
from tests.support import RoleRunner, eventually


def _daemon(tmp_path: Path, gateway: str) -> DaemonRole:
    return DaemonRole(
        Settings(
            data_dir=tmp_path / "daemon-data",
            gateway_address=gateway,
            daemon_token="daemon-secret",
            daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        )
    )


@pytest.fixture
def ssh_like() -> Iterator[str]:
    """A TCP server that greets every connection with a line of its own protocol."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                conn.recv(1024)

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


async def test_the_api_port_stops_reliant_daemon_start_at_once_naming_what_answered(
    infra: Infra, tmp_path: Path
) -> None:
    port = free_port()
    api = Settings(
        data_dir=tmp_path / "api-data",
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        api_port=port,
        api_token="api-token",
    )
    token = tmp_path / "daemon_token"
    token.write_text("daemon-secret\n")
    token.chmod(0o600)
    args = ["daemon", "start", "--gateway", f"127.0.0.1:{port}", "--token-file", str(token)]
    async with RoleRunner(ApiRole(api)):
        began = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "reliant", *args, "--data-dir", str(tmp_path / "daemon-data")),
            env={k: v for k, v in os.environ.items() if not k.startswith("RELIANT_")},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    said = err.decode()
    assert proc.returncode == 1, said
    assert f"error: 127.0.0.1:{port} is not a reliant gateway: an HTTP/1 server answered (HTTP status 401)" in said
    assert "Pass the gateway's address to --gateway" in said
    assert time.monotonic() - began < 20, "at once, not after retrying"


async def test_another_grpc_server_or_protocol_is_not_a_gateway(infra: Infra, tmp_path: Path, ssh_like: str) -> None:
    # The Temporal frontend: gRPC, without reliant's daemon service.
    with pytest.raises(NotAGatewayError, match="a gRPC server without reliant's daemon service") as caught:
        await asyncio.wait_for(_daemon(tmp_path, infra.temporal_address).run(asyncio.Event()), 15)
    assert infra.temporal_address in str(caught.value)
    with pytest.raises(NotAGatewayError, match="does not speak gRPC: its first bytes are not HTTP/2") as caught:
        await asyncio.wait_for(_daemon(tmp_path, ssh_like).run(asyncio.Event()), 15)
    assert ssh_like in str(caught.value) and 'it says "SSH-2.0-OpenSSH_9.2"' in str(caught.value)
    # A plain HTTP/1.0 server (grpc names only HTTP/1.1 ones): its status line says what it is.
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NotAGatewayError) as caught:
            await asyncio.wait_for(_daemon(tmp_path, f"127.0.0.1:{web.server_address[1]}").run(asyncio.Event()), 15)
        assert 'it says "HTTP/1.0 501 ' in str(caught.value), caught.value
    finally:
        web.shutdown()
        web.server_close()


async def test_nothing_listening_is_tried_again(tmp_path: Path) -> None:
    """A gateway that restarts refuses connections for a while: the daemon keeps trying."""
    task = asyncio.create_task(_daemon(tmp_path, f"127.0.0.1:{free_port()}").run(asyncio.Event()))
    try:
        await asyncio.sleep(3)
        assert not task.done(), task.exception()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass


async def _nothing(subject: str, payload: bytes) -> bytes:
    return b""


async def test_after_a_session_a_stranger_is_tried_again_for_a_while_then_stops_it(
    infra: Infra, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once connected, a web server where the gateway was (a proxy, say, while the gateway
    behind it restarts) is tried again, said once rather than on every attempt; an address that
    answers so for as long as the daemon's patience stops it as before its first session (it was
    tried again forever, with a warning every two seconds)."""
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        daemon_token="daemon-secret",
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )
    identity = DaemonIdentity(f"d-{uuid.uuid4().hex[:8]}", "proxied", "daemon-secret")
    connection = DaemonConnection(f"127.0.0.1:{port}", identity, _nothing, workspaces=list, not_a_gateway_patience=3.0)
    task = asyncio.create_task(connection.run(asyncio.Event()))
    web: http.server.ThreadingHTTPServer | None = None
    try:
        async with RoleRunner(GatewayRole(settings)):
            await eventually(lambda: connection.sessions == 1, timeout=20)
        web = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Quiet)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        caplog.set_level(logging.WARNING, logger="reliant.daemon.connection")
        caplog.clear()
        began = time.monotonic()
        with pytest.raises(NotAGatewayError) as caught:
            await asyncio.wait_for(asyncio.shield(task), 20)
        lasted = time.monotonic() - began
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if web is not None:
            web.shutdown()
            web.server_close()
    assert 3.0 <= lasted < 15, lasted
    said = str(caught.value)
    assert said.startswith(f"127.0.0.1:{port} is not a reliant gateway: what answered does not speak gRPC"), said
    assert 'it says "HTTP/1.1 501' in said and re.search(r"\(every answer for \d+s since a session\)", said), said
    warned = [r.getMessage() for r in caplog.records if r.name == "reliant.daemon.connection"]
    assert len(warned) == 1 and "trying again, and stopping once that lasts 3s" in warned[0], warned
