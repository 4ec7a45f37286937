"""Embedded NATS server: JetStream on, store in the data dir, token auth, loopback only.

The HTTP monitor answers without auth (it lists clients and subjects), so it is served only when a
monitor port is given; readiness is probed over the client protocol itself: the server's INFO says
JetStream is on, and a PING with the token gets its PONG.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from embedded._process import ChildProcess, ChildService, spawn, wait_ready
from embedded.errors import PortInUseError
from embedded.ports import port_is_free

SERVICE = "nats"


def default_binary() -> Path:
    return Path(sysconfig.get_path("scripts")) / "nats-server"


@dataclass(frozen=True, slots=True)
class NatsConfig:
    store_dir: Path
    config_path: Path
    log_path: Path
    port: int
    token: str
    monitor_port: int | None = None
    host: str = "127.0.0.1"
    binary: Path | None = None
    start_timeout: float = 15.0


class NatsServer(ChildService):
    def __init__(self, config: NatsConfig, child: ChildProcess) -> None:
        super().__init__(child)
        self.config = config

    @property
    def url(self) -> str:
        return f"nats://{self.config.host}:{self.config.port}"


def _write_config(cfg: NatsConfig) -> None:
    """The token goes in a 0600 config file, never on the command line where `ps` shows it."""
    conf: dict[str, object] = {
        "server_name": "reliant",
        "listen": f"{cfg.host}:{cfg.port}",
        "jetstream": {"store_dir": str(cfg.store_dir)},
        "authorization": {"token": cfg.token},
        "max_payload": 8 * 1024 * 1024,
    }
    if cfg.monitor_port is not None:
        conf["http"] = f"{cfg.host}:{cfg.monitor_port}"
    cfg.config_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cfg.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(conf, f, indent=2)  # the NATS config format accepts JSON


async def start_nats(cfg: NatsConfig) -> NatsServer:
    binary = cfg.binary or default_binary()
    for port in (cfg.port, cfg.monitor_port):
        if port is not None and not port_is_free(port, cfg.host):
            raise PortInUseError(SERVICE, port, cfg.host)
    cfg.store_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_config(cfg)
    child = await spawn(SERVICE, [str(binary), "-c", str(cfg.config_path)], log_path=cfg.log_path)

    async def probe() -> bool:
        return await client_ready(cfg.host, cfg.port, cfg.token)

    try:
        await wait_ready(SERVICE, probe, timeout=cfg.start_timeout, log_path=cfg.log_path, child=child)
    except BaseException:
        await child.stop()
        raise
    return NatsServer(cfg, child)


async def client_ready(host: str, port: int, token: str, timeout: float = 1.0) -> bool:
    """True when the server speaks the client protocol with JetStream on and accepts `token`."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line.startswith(b"INFO "):
            return False
        if not json.loads(line[5:]).get("jetstream"):
            return False
        connect = json.dumps({"auth_token": token, "verbose": False, "pedantic": False, "name": "reliant-probe"})
        writer.write(f"CONNECT {connect}\r\nPING\r\n".encode())
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout) == b"PONG\r\n"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
