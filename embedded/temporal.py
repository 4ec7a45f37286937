"""Embedded Temporal dev server: sqlite in the data dir, WAL, loopback, namespace created at boot.

`history.transferProcessorMaxPollRPS` is raised because its default rate limit adds a flat ~50 ms
to every workflow and activity transition on the dev server. `history.timerProcessorMaxTimeShift`
is lowered because at its default (1 s) a timer task, such as an activity's retry, fires ~0.8 s
after it is due.
"""

from __future__ import annotations

import logging
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from embedded._process import ChildProcess, ChildService, http_status, spawn, wait_ready
from embedded.errors import PortInUseError, ServiceExitedError
from embedded.ports import port_is_free

logger = logging.getLogger(__name__)

SERVICE = "temporal"


def default_binary() -> Path:
    return Path(sysconfig.get_path("scripts")) / "temporal"


@dataclass(frozen=True, slots=True)
class TemporalConfig:
    db_path: Path
    log_path: Path
    port: int
    http_port: int
    metrics_port: int
    ui_port: int | None = None
    namespace: str = "reliant"
    host: str = "127.0.0.1"
    binary: Path | None = None
    start_timeout: float = 30.0


class TemporalServer(ChildService):
    def __init__(self, config: TemporalConfig, child: ChildProcess) -> None:
        super().__init__(child)
        self.config = config

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    @property
    def ui_url(self) -> str | None:
        if self.config.ui_port is None:
            return None
        return f"http://{self.config.host}:{self.config.ui_port}"


def command(cfg: TemporalConfig, binary: Path) -> list[str]:
    argv = [
        str(binary),
        "server",
        "start-dev",
        "--ip",
        cfg.host,
        "--port",
        str(cfg.port),
        "--http-port",
        str(cfg.http_port),
        "--metrics-port",
        str(cfg.metrics_port),
        "--db-filename",
        str(cfg.db_path),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=1",
        "--dynamic-config-value",
        "history.transferProcessorMaxPollRPS=10000",
        # Timer tasks, activity retries among them, fire on time instead of up to ~0.8 s late: an
        # attempt failed at start-up because its worker died is retried in ~10 ms, not ~800 ms.
        "--dynamic-config-value",
        'history.timerProcessorMaxTimeShift="1ms"',
        "--namespace",
        cfg.namespace,
        "--log-level",
        "warn",
    ]
    if cfg.ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-ip", cfg.host, "--ui-port", str(cfg.ui_port), "--ui-disable-news-fetch"]
    return argv


# The dev server picks its internal services' ports (history, matching, membership) itself: it
# finds free ones, lets them go, and binds them a moment later. Another process may take one in
# between, and the server then exits at start ("bind: address already in use"). A new start picks
# new ports.
START_ATTEMPTS = 3
LOST_PORT = "address already in use"


async def start_temporal(cfg: TemporalConfig) -> TemporalServer:
    for _ in range(START_ATTEMPTS - 1):
        try:
            return await _start(cfg)
        except ServiceExitedError as exc:
            if LOST_PORT not in exc.log_tail:
                raise
            logger.warning("temporal lost one of its own ports while starting; starting it again")
    return await _start(cfg)  # the last attempt: its error is the caller's


async def _start(cfg: TemporalConfig) -> TemporalServer:
    binary = cfg.binary or default_binary()
    ports = [cfg.port, cfg.http_port, cfg.metrics_port] + ([cfg.ui_port] if cfg.ui_port else [])
    for port in ports:  # ours are given: one taken is the user's to free, not a race to retry
        if not port_is_free(port, cfg.host):
            raise PortInUseError(SERVICE, port, cfg.host)
    cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
    child = await spawn(SERVICE, command(cfg, binary), log_path=cfg.log_path)

    async def probe() -> bool:
        # The namespace answers only once the frontend is serving and the namespace is registered.
        path = f"/api/v1/namespaces/{cfg.namespace}"
        if await http_status(cfg.host, cfg.http_port, path) != 200:
            return False
        if cfg.ui_port is not None:
            return await http_status(cfg.host, cfg.ui_port, "/") < 500
        return True

    try:
        await wait_ready(SERVICE, probe, timeout=cfg.start_timeout, log_path=cfg.log_path, child=child)
    except BaseException:
        await child.stop()
        raise
    return TemporalServer(cfg, child)
