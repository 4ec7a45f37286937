"""Embedded NATS server: JetStream on, store in the data dir, token auth, loopback only."""

from __future__ import annotations

import json
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from embedded._process import ChildProcess, ChildService, http_status, spawn, wait_ready
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
    monitor_port: int
    token: str
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
    conf = {
        "server_name": "reliant",
        "listen": f"{cfg.host}:{cfg.port}",
        "http": f"{cfg.host}:{cfg.monitor_port}",
        "jetstream": {"store_dir": str(cfg.store_dir)},
        "authorization": {"token": cfg.token},
        "max_payload": 8 * 1024 * 1024,
    }
    cfg.config_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(cfg.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(conf, f, indent=2)  # the NATS config format accepts JSON


async def start_nats(cfg: NatsConfig) -> NatsServer:
    binary = cfg.binary or default_binary()
    for port in (cfg.port, cfg.monitor_port):
        if not port_is_free(port, cfg.host):
            raise PortInUseError(SERVICE, port, cfg.host)
    cfg.store_dir.mkdir(parents=True, exist_ok=True)
    _write_config(cfg)
    child = await spawn(SERVICE, [str(binary), "-c", str(cfg.config_path)], log_path=cfg.log_path)

    async def probe() -> bool:
        return await http_status(cfg.host, cfg.monitor_port, "/healthz?js-enabled-only=true") == 200

    try:
        await wait_ready(SERVICE, probe, timeout=cfg.start_timeout, log_path=cfg.log_path, child=child)
    except BaseException:
        await child.stop()
        raise
    return NatsServer(cfg, child)
