"""A daemon given several gateways (`--gateway a,b`) fails over between them: when the one it uses
dies, when it hangs (SIGSTOP: the TCP connection stays, nothing answers), and when the first one it
dials is hung already."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from embedded.ports import free_port
from reliant.bus import Bus, subjects
from reliant.config import Settings
from reliant.daemon import connection
from reliant.daemon.role import DaemonRole
from tests.conftest import Infra
from tests.e2e.harness import Proc, clean_env
from tests.support import RoleRunner, eventually


async def _held_by(bus: Bus, daemon_id: str) -> str:
    """The gateway that holds the daemon, once a control request through it is answered."""
    reply = await bus.request(subjects.daemon_ctl(daemon_id, "workspace.list"), b"{}", timeout=3)
    assert "workspaces" in json.loads(reply.data)
    record: dict[str, Any] | None = await (await bus.presence()).get(subjects.presence_key("daemon", daemon_id))
    assert record is not None and record["online"]
    return str(record["gateway"])


async def test_a_daemon_fails_over_when_its_gateway_dies_or_hangs(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "REGISTER_TIMEOUT", 2.0)  # how long a hung gateway is waited for
    ports = [free_port(), free_port()]
    env = clean_env(
        RELIANT_NATS_URL=infra.nats_url,
        RELIANT_NATS_TOKEN=infra.nats_token,
        RELIANT_DAEMON_TOKEN="daemon-secret",
        RELIANT_HEARTBEAT_INTERVAL="0.3",
        RELIANT_HEARTBEAT_TIMEOUT="1.5",
    )
    gateways: list[Proc] = []

    def start_gateway(n: int) -> Proc:
        args = ["server", "gateway", "--port", str(ports[n]), "--data-dir", str(tmp_path / f"g{n}")]
        proc = Proc(args, tmp_path / f"gateway-{n}-{len(gateways)}.log", env=env).start()
        gateways.append(proc)
        proc.wait_for_output("reliant gateway ready")
        return proc

    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings(
        data_dir=tmp_path / "daemon",
        gateway_address=",".join(f"127.0.0.1:{p}" for p in ports),
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_workspaces=(workspace,),
    )
    ids = [f"{os.uname().nodename}:{p}" for p in ports]
    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    try:
        first, second = start_gateway(0), start_gateway(1)
        # The first gateway it would dial is hung already: it moves on to the second.
        os.kill(first.pid, signal.SIGSTOP)
        async with RoleRunner(DaemonRole(settings), timeout=30):
            assert await eventually(lambda: _held_by(bus, settings.daemon_id), timeout=20) == ids[1]
            os.kill(first.pid, signal.SIGCONT)
            # The one it uses dies: over to the other.
            second.kill()
            assert await eventually(lambda: _held_by(bus, settings.daemon_id), timeout=20) == ids[0]
            second = start_gateway(1)
            # The one it uses hangs: the heartbeats stop, and over to the other again.
            os.kill(first.pid, signal.SIGSTOP)
            assert await eventually(lambda: _held_by(bus, settings.daemon_id), timeout=20) == ids[1]
            os.kill(first.pid, signal.SIGCONT)
    finally:
        await bus.close()
        for proc in gateways:
            if proc.process is not None and proc.process.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
