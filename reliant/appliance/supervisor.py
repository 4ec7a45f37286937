"""`reliant up`, `reliant services` and `reliant server ...`: start what is needed, run the roles as
asyncio tasks in one TaskGroup, and shut everything down in reverse order on SIGINT/SIGTERM.

The roles only ever reach each other through Postgres, NATS, Temporal and the gateway's gRPC port,
so the same role classes run here together or split across processes and machines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import embedded
from embedded.ports import bind_error
from reliant.appliance.datadir import DataDir, write_private
from reliant.appliance.preflight import preflight
from reliant.appliance.probes import ProbeServer
from reliant.clients.codec import CodecKey
from reliant.config import DEFAULT_API_PORT, Settings, host_port
from reliant.errors import listen_error
from reliant.wire.grpc_tls import is_loopback

logger = logging.getLogger(__name__)

ROLE_START_TIMEOUT = 60.0
ROLE_STOP_TIMEOUT = 5.0


class Role(Protocol):
    name: str

    async def run(self, ready: asyncio.Event) -> None: ...


@dataclass(frozen=True, slots=True)
class RunningInfo:
    """What `reliant up` / `reliant services` report once everything is ready."""

    settings: Settings
    roles: tuple[str, ...]
    services: dict[str, str] = field(default_factory=dict)  # name -> address
    service_pids: dict[str, int] = field(default_factory=dict)
    reused_postgres: bool = False
    started_in: float = 0.0

    @property
    def api_url(self) -> str:
        return self.settings.api_address

    @property
    def ui_url(self) -> str:
        return f"{self.api_url}/?token={self.settings.api_token}"


OnReady = Callable[[RunningInfo], None]

SERVICE_PORTS = ["postgres", "nats", "temporal", "temporal_http", "temporal_metrics"]
CODEC_KEY = "codec_key"
POSTGRES_PASSWORD = "postgres_password"


def with_codec_key(settings: Settings, datadir: DataDir) -> Settings:
    """The settings' codec key, or else the data dir's (made by `settle_codec_key` once Postgres
    runs, with the moment it was made: Temporal runs older than that may hold plaintext payloads)."""
    if settings.codec_key or settings.codec_key_file:
        return settings
    return dataclasses.replace(settings, codec_key_file=str(datadir.secrets_dir / CODEC_KEY))


async def settle_codec_key(settings: Settings, datadir: DataDir) -> None:
    """Make the data dir's codec key if it is missing, unless the database recorded a key: then the
    file was lost, and a new key would leave every sealed payload unreadable (CodecKeyLostError),
    unless `replace_codec_key` names the recorded key."""
    from reliant.clients.codec_record import CodecKeyLostError
    from reliant.db import Database
    from reliant.db import codec_key as codec_key_db

    path = datadir.secrets_dir / CODEC_KEY
    if settings.codec_key or settings.codec_key_file != str(path) or datadir.has_secret(CODEC_KEY):
        return
    db = await Database.open(settings.database_url, min_size=1)
    try:
        recorded = await codec_key_db.recorded(db)
    finally:
        await db.close()
    if recorded is not None and settings.replace_codec_key != recorded:
        raise CodecKeyLostError(str(path), recorded)
    datadir.secret_file(CODEC_KEY, lambda: CodecKey.generate().to_text())


def resolve_embedded(
    settings: Settings, datadir: DataDir
) -> tuple[Settings, embedded.PostgresConfig, embedded.NatsConfig, embedded.TemporalConfig]:
    """Ports, secrets and service configs for the embedded services, from the data dir. A Postgres
    cluster whose password was lost gets a new one, kept once the cluster has it (`keep_secrets`):
    a start that fails before then leaves it lost, and the next start sets it again."""
    lost_password = (datadir.postgres_dir / "PG_VERSION").exists() and not datadir.has_secret(POSTGRES_PASSWORD)
    secrets = datadir.ensure_secrets(pending=frozenset({POSTGRES_PASSWORD}))
    names = ["api", "gateway", *SERVICE_PORTS]
    names += (["nats_monitor"] if settings.nats_monitor else []) + (["temporal_ui"] if settings.temporal_ui else [])
    keep = {"api", "gateway"}  # user-facing: a taken port is an error, not a silent change
    if (datadir.postgres_dir / "postmaster.pid").exists():
        keep.add("postgres")  # possibly our own postmaster left running by a killed parent
    given = frozenset(port for port in (settings.api_port, settings.gateway_port) if port)
    ports = datadir.allocate_ports(
        names,
        host="127.0.0.1",
        preferred={"api": DEFAULT_API_PORT},
        keep_if_taken=frozenset(keep),
        reserved=given,
    )
    api_port = settings.api_port or ports["api"]
    gateway_port = settings.gateway_port or ports["gateway"]
    svc_host = "127.0.0.1"
    pg = embedded.PostgresConfig(
        cluster_dir=datadir.postgres_dir,
        log_path=datadir.logs / "postgres.log",
        port=ports["postgres"],
        password=secrets[POSTGRES_PASSWORD],
        host=svc_host,
        new_password=lost_password,
    )
    nats = embedded.NatsConfig(
        store_dir=datadir.nats_dir,
        config_path=datadir.secrets_dir / "nats.conf",
        log_path=datadir.logs / "nats.log",
        port=ports["nats"],
        monitor_port=ports.get("nats_monitor"),
        token=settings.nats_token or secrets["nats_token"],
        host=svc_host,
    )
    tc = embedded.TemporalConfig(
        db_path=datadir.temporal_db,
        log_path=datadir.logs / "temporal.log",
        port=ports["temporal"],
        http_port=ports["temporal_http"],
        metrics_port=ports["temporal_metrics"],
        ui_port=ports.get("temporal_ui"),
        namespace=settings.temporal_namespace,
        host=svc_host,
    )
    resolved = dataclasses.replace(
        with_codec_key(settings, datadir),
        api_port=api_port,
        gateway_port=gateway_port,
        gateway_address=host_port(settings.host, gateway_port),
        # The appliance's daemon dials its own gateway, in this process: whatever --host says, the
        # address is this machine's and the token crosses no network.
        daemon_insecure_plaintext_token=settings.daemon_insecure_plaintext_token
        or not is_loopback(host_port(settings.host, gateway_port)),
        api_token=settings.api_token or secrets["api_token"],
        daemon_token=settings.daemon_token or secrets["daemon_token"],
        nats_token=nats.token,
        daemon_id=settings.daemon_id or datadir.identity("daemon_id", "d-"),
        database_url=f"postgresql://{pg.user}:{pg.password}@{svc_host}:{pg.port}/{pg.database}",
        nats_url=f"nats://{svc_host}:{nats.port}",
        temporal_address=f"{svc_host}:{tc.port}",
        temporal_ui_url=f"http://{svc_host}:{tc.ui_port}" if tc.ui_port else "",
    )
    return resolved, pg, nats, tc


# What serves plaintext unless given a certificate: its name, and the settings that give it one.
PLAINTEXT_LISTENERS = {
    "api": ("the api", "api_tls_cert", "api_tls_cert + api_tls_key ([api] tls_cert, RELIANT_API_TLS_CERT...)"),
    "gateway": (
        "the daemon gateway",
        "gateway_tls_cert",
        "gateway_tls_cert + gateway_tls_key ([gateway] tls_cert, RELIANT_GATEWAY_TLS_CERT...)",
    ),
}


def plaintext_on_network(settings: Settings, roles: Sequence[str]) -> str:
    """A warning when the api or the gateway listens beyond this machine without TLS: the api token
    and the daemon token would cross the network readable by anyone on the path. "" when they stay
    on loopback or serve TLS."""
    if is_loopback(host_port(settings.host, 1)):
        return ""
    plain = [
        (what, how)
        for role, (what, setting, how) in PLAINTEXT_LISTENERS.items()
        if role in roles and not getattr(settings, setting)
    ]
    if not plain:
        return ""
    names, hows = " and ".join(what for what, _ in plain), " and ".join(how for _, how in plain)
    return (
        f"{names} listen{'s' if len(plain) == 1 else ''} on {settings.host} without TLS: the tokens and all "
        f"they carry cross the network in the clear. Serve TLS with {hows}, or keep --host 127.0.0.1"
    )


def warn_of_plaintext(settings: Settings, roles: Sequence[str]) -> None:
    """Log `plaintext_on_network`'s warning, if any, as the roles start (`reliant up`, and the split
    `reliant server api|gateway`, which have no banner)."""
    if warning := plaintext_on_network(settings, roles):
        logger.warning("%s", warning)


def keep_secrets(datadir: DataDir, pg: embedded.PostgresConfig) -> None:
    """Once the services run: write the secrets `resolve_embedded` made but did not write."""
    if not datadir.has_secret(POSTGRES_PASSWORD):
        datadir.keep_secret(POSTGRES_PASSWORD, pg.password)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _wait_ready(
    tasks: Sequence[asyncio.Task[None]], events: Sequence[asyncio.Event], stop: asyncio.Event
) -> bool:
    """Wait until every role is ready (True), or a stop was asked for (False)."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    stopper = asyncio.create_task(stop.wait())
    try:
        deadline = time.monotonic() + ROLE_START_TIMEOUT
        pending = set(waiters)
        while pending:
            done, _ = await asyncio.wait(
                {*pending, stopper, *tasks},
                timeout=deadline - time.monotonic(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                raise TimeoutError(f"roles not ready after {ROLE_START_TIMEOUT:.0f}s")
            if stopper in done:
                return False
            for task in tasks:
                if task.done():
                    task.result()  # raises the role's error
                    raise RuntimeError(f"role {task.get_name()} exited while starting")
            pending -= done
        return True
    finally:
        for w in (*waiters, stopper):
            w.cancel()


async def run_roles(
    roles: Sequence[Role],
    *,
    on_ready: Callable[[], None],
    stop: asyncio.Event | None = None,
    stop_order: Sequence[str] = ("api", "worker", "daemon", "gateway"),
    start_after: dict[str, str] | None = None,
) -> None:
    """Run roles side by side until SIGINT/SIGTERM or one of them fails; then cancel them one by
    one, in order, and raise what failed (an ExceptionGroup of the roles' errors).

    `start_after` delays a role until another one (run here too) is ready: in one process, a daemon
    that starts after its gateway connects at once instead of backing off.

    Not a TaskGroup: its exit waits for every task however long, and a role can lose a cancel (on
    Python 3.11 `asyncio.wait_for` drops one that lands as its awaitable finishes, and libraries
    use it while a role starts). Such a role went on serving and `reliant up` never ended, deaf to
    SIGTERM. Here a role still running when its time to stop is over is cancelled once more, and
    one that ignores that too is left behind with an error in the log."""
    stop = stop or _stop_event()
    events = [asyncio.Event() for _ in roles]
    ready = {role.name: ev for role, ev in zip(roles, events, strict=True)}
    after = start_after or {}

    async def launch(role: Role, event: asyncio.Event) -> None:
        if role.name in after and after[role.name] in ready:
            await ready[after[role.name]].wait()
        await role.run(event)

    tasks = [asyncio.create_task(launch(role, ev), name=role.name) for role, ev in zip(roles, events, strict=True)]
    # A role may need longer to stop gracefully (the worker lets running tool calls finish).
    allowed = {role.name: float(getattr(role, "stop_timeout", ROLE_STOP_TIMEOUT)) for role in roles}
    not_of_a_role: list[Exception] = []  # a role that stopped on its own, a start timeout
    try:
        if await _wait_ready(tasks, events, stop):
            on_ready()
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            not_of_a_role = [
                RuntimeError(f"role {t.get_name()} stopped on its own")
                for t in tasks
                if t.done() and not t.cancelled() and t.exception() is None
            ]
    except Exception as exc:  # noqa: BLE001 - _wait_ready's timeout, or a role's error while starting
        if not any(t.done() and not t.cancelled() and t.exception() is exc for t in tasks):
            not_of_a_role.append(exc)
    finally:
        by_name = {t.get_name(): t for t in tasks}
        ordered = [by_name[n] for n in stop_order if n in by_name]
        ordered += [t for t in tasks if t.get_name() not in stop_order]
        for task in ordered:
            # A role that is still starting has no graceful stop to wait for.
            timeout = allowed.get(task.get_name(), ROLE_STOP_TIMEOUT)
            await _stop_role(task, timeout if ready[task.get_name()].is_set() else min(timeout, ROLE_RECANCEL_GRACE))
    errors = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    failures = [e for e in (*errors, *not_of_a_role) if isinstance(e, Exception)]
    if failures:
        raise ExceptionGroup("roles failed", failures)


ROLE_RECANCEL_GRACE = 1.0


async def _stop_role(task: asyncio.Task[None], timeout: float) -> None:
    """Cancel a role and wait up to `timeout`; cancel a role still running then once more (its
    first cancel may have been lost) and wait ROLE_RECANCEL_GRACE; then leave it."""
    if task.done():
        return
    began = time.monotonic()
    task.cancel()
    _, pending = await asyncio.wait({task}, timeout=timeout)
    if pending:
        logger.warning("role %s did not stop within %.0fs; cancelling it again", task.get_name(), timeout)
        task.cancel()
        _, pending = await asyncio.wait({task}, timeout=ROLE_RECANCEL_GRACE)
    if pending:
        logger.error("role %s ignores its cancel; leaving it", task.get_name())
    else:
        logger.debug("role %s stopped in %.3fs", task.get_name(), time.monotonic() - began)


class ServiceWatch:
    """Runs beside the roles: restarts an embedded service that dies (same ports, same data) and
    ends the run with ServiceKeepsDyingError if one keeps dying."""

    name = "services"

    def __init__(self, services: embedded.Services, *, on_restart: Callable[[], None]) -> None:
        self.supervisor = embedded.ServiceSupervisor(services, on_restart=lambda _name, _handle: on_restart())

    async def run(self, ready: asyncio.Event) -> None:
        ready.set()
        await self.supervisor.run()


def build_roles(settings: Settings, names: Sequence[str], *, peers_ready: asyncio.Event | None = None) -> list[Role]:
    """Import and construct the named roles (imports are deferred: they are the heavy part).
    `peers_ready`: run in one process, the event set once all of them are ready."""
    roles: list[Role] = []
    for name in names:
        if name == "api":
            from reliant.api.role import ApiRole

            roles.append(ApiRole(settings, peers_ready=peers_ready))
        elif name == "worker":
            from reliant.worker.role import WorkerRole

            roles.append(WorkerRole(settings))
        elif name == "gateway":
            from reliant.gateway.role import GatewayRole

            roles.append(GatewayRole(settings))
        elif name == "daemon":
            from reliant.daemon.role import DaemonRole

            roles.append(DaemonRole(settings))
        else:
            raise ValueError(f"unknown role {name!r}")
    return roles


ALL_ROLES = ("api", "worker", "gateway", "daemon")


async def run_up(settings: Settings, on_ready: OnReady, *, roles: Sequence[str] = ALL_ROLES) -> None:
    """The appliance: embedded services + every role in this process."""
    started = time.monotonic()
    datadir = DataDir(settings.data_dir)
    datadir.ensure()
    stop = _stop_event()
    with datadir.lock():
        resolved, pg, nats, tc = resolve_embedded(settings, datadir)
        _check_role_ports(resolved, roles)
        warn_of_plaintext(resolved, roles)
        # Import the roles while the services boot: both take a few hundred milliseconds.
        services_task = asyncio.create_task(embedded.start_services(pg, nats, tc))
        everyone_ready = asyncio.Event()  # the api's /ready waits for the other roles too
        role_objects = await asyncio.to_thread(build_roles, resolved, roles, peers_ready=everyone_ready)
        services = await services_task
        keep_secrets(datadir, pg)
        async with services:
            await settle_codec_key(resolved, datadir)
            if stop.is_set():  # asked while the services started: no role to start only to cancel it
                return
            info = _info(resolved, services, tuple(roles), started)

            def ready() -> None:
                datadir.write_run_info(_run_record(info, mode="up"))
                everyone_ready.set()
                on_ready(info)

            def restarted() -> None:
                datadir.write_run_info(_run_record(_info(resolved, services, tuple(roles), started), mode="up"))

            # The service watch is one more task beside the roles; it stops last.
            watch = ServiceWatch(services, on_restart=restarted)
            try:
                await run_roles([*role_objects, watch], on_ready=ready, stop=stop, start_after={"daemon": "gateway"})
            finally:
                datadir.clear_run_info()


def _check_role_ports(settings: Settings, roles: Sequence[str]) -> None:
    """Fail before starting anything if the api or gateway cannot listen: its port is taken, or
    the host is not an address of this machine."""
    for role, port in (("api", settings.api_port), ("gateway", settings.gateway_port)):
        error = bind_error(port, settings.host) if role in roles else None
        if error is not None:
            raise listen_error(role, settings.host, port, error)


async def run_services(settings: Settings, on_ready: OnReady) -> None:
    """Only the embedded infrastructure, for split mode and CI environments."""
    started = time.monotonic()
    datadir = DataDir(settings.data_dir)
    datadir.ensure()
    stop = _stop_event()
    with datadir.lock():
        resolved, pg, nats, tc = resolve_embedded(dataclasses.replace(settings, host="127.0.0.1"), datadir)
        services = await embedded.start_services(pg, nats, tc)
        keep_secrets(datadir, pg)
        async with services:
            await settle_codec_key(resolved, datadir)
            info = _info(resolved, services, (), started)
            write_private(datadir.path / "services.env", services_env(resolved))
            datadir.write_run_info(_run_record(info, mode="services"))

            def restarted() -> None:
                datadir.write_run_info(_run_record(_info(resolved, services, (), started), mode="services"))

            watch = ServiceWatch(services, on_restart=restarted)
            try:
                on_ready(info)
                await run_roles([watch], on_ready=lambda: None, stop=stop)
            finally:
                datadir.clear_run_info()


async def run_split(
    settings: Settings, role_names: Sequence[str], on_ready: Callable[[], None], *, create_namespace: bool = False
) -> None:
    """One or more roles against external Postgres / NATS / Temporal (`reliant server`, `daemon start`).
    Each service they need must answer within `connect_timeout` first (the namespace exist, or be
    made with `create_namespace`)."""
    warn_of_plaintext(settings, role_names)
    await preflight(settings, role_names, create_namespace=create_namespace)
    roles = build_roles(settings, role_names)
    if not settings.probe_port:
        await run_roles(roles, on_ready=on_ready)
        return
    started = asyncio.Event()

    def ready() -> None:
        started.set()
        on_ready()

    async def check() -> bool:
        probes = [role.probe() for role in roles if isinstance(role, Probed)]
        return started.is_set() and all([await probe for probe in probes])

    async with ProbeServer(settings.host, settings.probe_port, check, role="/".join(role_names)):
        await run_roles(roles, on_ready=ready)


@runtime_checkable
class Probed(Protocol):
    """A role that can tell whether it is ready to work right now (for the probe listener)."""

    async def probe(self) -> bool: ...


def services_env(settings: Settings) -> str:
    """What split roles need to reach these services, as RELIANT_* variables. The shared secrets go
    as files of the data dir's secrets/ (every replica reads the same one)."""
    secrets_dir = DataDir(settings.data_dir).secrets_dir
    lines = {
        "RELIANT_DATABASE_URL": settings.database_url,
        "RELIANT_NATS_URL": settings.nats_url,
        "RELIANT_TEMPORAL_ADDRESS": settings.temporal_address,
        "RELIANT_TEMPORAL_NAMESPACE": settings.temporal_namespace,
    }
    for name in ("nats_token", "api_token", "daemon_token"):
        path = secrets_dir / name
        if name != "nats_token" or _holds(path, settings.nats_token):
            lines[f"RELIANT_{name.upper()}_FILE"] = str(path)
        else:  # a token given in the settings, not the data dir's
            lines["RELIANT_NATS_TOKEN"] = settings.nats_token
    if settings.codec_key_file:
        lines["RELIANT_CODEC_KEY_FILE"] = settings.codec_key_file
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def _holds(path: Path, value: str) -> bool:
    try:
        return path.read_text().strip() == value
    except OSError:
        return False


def _info(settings: Settings, services: embedded.Services, roles: tuple[str, ...], started: float) -> RunningInfo:
    return RunningInfo(
        settings=settings,
        roles=roles,
        services={
            "postgres": f"{services.postgres.config.host}:{services.postgres.config.port}",
            "nats": services.nats.url,
            "temporal": services.temporal.address,
            **({"temporal-ui": services.temporal.ui_url} if services.temporal.ui_url else {}),
        },
        service_pids={
            "postgres": services.postgres.pid,
            "nats": services.nats.pid,
            "temporal": services.temporal.pid,
        },
        reused_postgres=services.postgres.reused,
        started_in=time.monotonic() - started,
    )


def _run_record(info: RunningInfo, *, mode: str) -> dict[str, object]:
    s = info.settings
    return {
        "mode": mode,
        "pid": os.getpid(),
        "started_at": time.time(),
        "api_url": info.api_url if info.roles else "",
        "gateway_address": s.gateway_address if info.roles else "",
        "temporal_address": s.temporal_address,
        "temporal_ui_url": s.temporal_ui_url,
        "nats_url": s.nats_url,
        "service_pids": info.service_pids,
        "roles": list(info.roles),
    }
