"""Two daemons with one id: the second is refused with a message that says so, whether it dials the
same gateway or another one, and the first stays connected (no flapping between the two)."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
import uuid
from pathlib import Path

from embedded.ports import free_port
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
from tests.e2e.harness import clean_env, run_cli
from tests.support import RoleRunner


async def test_a_second_daemon_with_the_same_id_is_refused_and_the_first_stays(infra: Infra, tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    base = Settings(
        data_dir=tmp_path / "first",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_name="first",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    gateways = [dataclasses.replace(base, gateway_port=port, gateway_address=f"127.0.0.1:{port}") for port in ports]
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = clean_env(
        RELIANT_DAEMON_ID=base.daemon_id,
        RELIANT_DAEMON_TOKEN="daemon-secret",
        RELIANT_HEARTBEAT_INTERVAL="0.5",
        RELIANT_HEARTBEAT_TIMEOUT="2",
    )

    def second(gateway: str, n: int) -> tuple[subprocess.CompletedProcess[str], float]:
        began = time.monotonic()
        args = ["daemon", "start", "--gateway", gateway, "--workspace", str(workspace), "--name", "second"]
        done = run_cli(*args, "--data-dir", str(tmp_path / f"second-{n}"), env=env, timeout=90)
        return done, time.monotonic() - began

    async with RoleRunner(GatewayRole(gateways[0])), RoleRunner(GatewayRole(gateways[1])):
        first = DaemonRole(gateways[0])
        async with RoleRunner(first):
            results = await asyncio.gather(
                *(asyncio.to_thread(second, g.gateway_address, n) for n, g in enumerate(gateways))
            )
            for (done, took), gateway in zip(results, (g.gateway_address for g in gateways), strict=True):
                assert done.returncode == 1, done.stdout + done.stderr
                assert (
                    f"error: gateway {gateway} refused this daemon: daemon id {base.daemon_id} is already connected"
                    in done.stderr
                )
                assert "every daemon needs its own id" in done.stderr and "name first" in done.stderr
                assert took < 60, f"refused for good after {took:.0f}s"
            assert first.connection.connected.is_set() and first.connection.sessions == 1, "never displaced"
