"""Embedded PostgreSQL, driven through the initdb / pg_ctl / postgres binaries that pgserver ships.

We own the whole lifecycle instead of using pgserver's helpers: pg_ctl daemonizes the postmaster, so
it outlives a SIGKILLed parent; at boot we find such a postmaster through `postmaster.pid` and either
reuse it (same port, answering) or stop it.

Postgres refuses to run as root. When we are root, every server binary runs as the unprivileged
system user `reliant-pg` via `setpriv`. If that user cannot traverse the directories leading to the
cluster or the binaries (a 0700 home, say), it is granted only CAP_DAC_READ_SEARCH for those paths,
instead of loosening the permissions of directories outside the data dir.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from embedded._process import ServiceHandle, private_file, require_binary, tcp_open, wait_ready
from embedded.errors import EmbeddedError, PortInUseError, ServiceExitedError
from embedded.ports import port_is_free

logger = logging.getLogger(__name__)

SERVICE = "postgres"
SYSTEM_USER = "reliant-pg"


def bin_dir() -> Path:
    """Where pgserver's PostgreSQL binaries live (found without importing pgserver)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(SERVICE, "the pgserver package is not installed; pip install pgserver")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    cluster_dir: Path
    log_path: Path
    port: int
    password: str
    host: str = "127.0.0.1"
    user: str = "reliant"
    database: str = "reliant"
    start_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class _Account:
    """Who the server binaries run as: ourselves, or the system user when we are root."""

    uid: int
    gid: int
    name: str
    search_cap: bool = False

    def wrap(self, argv: list[str]) -> list[str]:
        if self.uid == os.geteuid():
            return argv
        prefix = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        if self.search_cap:
            prefix += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        return [*prefix, "--", *argv]

    def own(self, path: Path) -> None:
        if self.uid != os.geteuid():
            os.chown(path, self.uid, self.gid)


def _reachable_by_others(path: Path) -> bool:
    """True if a user with no special rights can traverse every directory above `path`."""
    for parent in path.resolve().parents:
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return True


def _account(cfg: PostgresConfig, binaries: Path) -> _Account:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return _Account(me.pw_uid, me.pw_gid, me.pw_name)
    if shutil.which("setpriv") is None:
        raise EmbeddedError(SERVICE, "running as root needs `setpriv` (util-linux) to drop privileges")
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            raise EmbeddedError(
                SERVICE, f"running as root needs a system user {SYSTEM_USER!r}, and useradd is missing"
            ) from None
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    search_cap = not (_reachable_by_others(cfg.cluster_dir) and _reachable_by_others(binaries))
    return _Account(entry.pw_uid, entry.pw_gid, SYSTEM_USER, search_cap)


def _process_alive(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/stat").open("rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _read_pidfile(cluster: Path) -> list[str] | None:
    try:
        return (cluster / "postmaster.pid").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None


class PostgresServer(ServiceHandle):
    """A running postmaster; an async context manager that stops it on exit."""

    def __init__(self, config: PostgresConfig, pid: int, *, reused: bool) -> None:
        self.config = config
        self.pid = pid
        self.reused = reused

    @property
    def socket_dir(self) -> Path:
        return self.config.cluster_dir

    @property
    def url(self) -> str:
        c = self.config
        return f"postgresql://{c.user}:{quote(c.password, safe='')}@{c.host}:{c.port}/{c.database}"

    @property
    def running(self) -> bool:
        return _process_alive(self.pid)

    async def stop(self, timeout: float = 10.0) -> None:
        await _stop_postmaster(self.pid, timeout)


async def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _process_alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _stop_postmaster(pid: int, timeout: float) -> None:
    """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if await _wait_gone(pid, wait):
            return
    raise EmbeddedError(SERVICE, f"postmaster pid {pid} did not exit after SIGKILL")


async def _run(argv: list[str], *, log_path: Path, env: dict[str, str], stdin: bytes | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    out, _ = await proc.communicate(stdin)
    with log_path.open("ab") as log:
        log.write(out)
    if proc.returncode != 0:
        name = Path(argv[argv.index("--") + 1] if "--" in argv else argv[0]).name
        raise EmbeddedError(
            SERVICE,
            f"{name} failed with exit code {proc.returncode}",
            log_path=log_path,
            log_tail=out.decode("utf-8", "replace")[-2000:],
        )


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}


async def _initdb(cfg: PostgresConfig, binaries: Path, account: _Account) -> None:
    """Create the cluster and its database in a scratch dir, then rename it into place.

    A crash half-way leaves only the scratch dir, which the next attempt removes, never a
    half-initialized cluster.
    """
    scratch = cfg.cluster_dir.with_name(cfg.cluster_dir.name + ".init")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(mode=0o700)
    account.own(scratch)
    pwfile = scratch.with_name(cfg.cluster_dir.name + ".pwfile")
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(cfg.password + "\n")
    account.own(pwfile)
    env = _env()
    try:
        await _run(
            account.wrap(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(scratch),
                    "-U",
                    cfg.user,
                    "-A",
                    "scram-sha-256",
                    "--pwfile",
                    str(pwfile),
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-instructions",
                ]
            ),
            log_path=cfg.log_path,
            env=env,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    await _run(
        account.wrap([str(binaries / "postgres"), "--single", "-D", str(scratch), "postgres"]),
        log_path=cfg.log_path,
        env=env,
        stdin=f"CREATE DATABASE {cfg.database}\n".encode(),
    )
    scratch.rename(cfg.cluster_dir)


async def _reuse_or_stop_leftover(cfg: PostgresConfig) -> int | None:
    """Handle a postmaster left running by a killed parent. Returns its pid if we can reuse it."""
    lines = _read_pidfile(cfg.cluster_dir)
    if not lines or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    if not _process_alive(pid):
        return None  # a stale pid file; postgres itself clears it on start
    port_ok = len(lines) > 3 and lines[3].strip() == str(cfg.port)
    ready = len(lines) > 7 and lines[7].strip() == "ready"
    if port_ok and ready:
        try:
            await tcp_open(cfg.host, cfg.port)
        except OSError:
            pass
        else:
            logger.warning("reusing postgres (pid %d) left running by a previous run", pid)
            return pid
    logger.warning("stopping postgres (pid %d) left running by a previous run", pid)
    await _stop_postmaster(pid, timeout=10.0)
    return None


async def start_postgres(cfg: PostgresConfig) -> PostgresServer:
    """Initialize the cluster if needed, start the postmaster and wait until it accepts connections."""
    binaries = bin_dir()
    for name in ("initdb", "pg_ctl", "postgres"):
        require_binary(SERVICE, binaries / name)
    cfg.cluster_dir.parent.mkdir(parents=True, exist_ok=True)
    private_file(cfg.log_path)
    account = _account(cfg, binaries)
    account.own(cfg.log_path)
    if account.uid != os.geteuid():
        note = f"running as root: postgres runs as the unprivileged user {account.name!r} (uid {account.uid})" + (
            ", with CAP_DAC_READ_SEARCH to reach its data and binaries" if account.search_cap else ""
        )
        logger.info("%s", note)
        with cfg.log_path.open("a") as log:
            log.write(note + "\n")

    if not (cfg.cluster_dir / "PG_VERSION").exists():
        await _initdb(cfg, binaries, account)
    else:
        reused = await _reuse_or_stop_leftover(cfg)
        if reused is not None:
            return PostgresServer(cfg, reused, reused=True)

    if not port_is_free(cfg.port, cfg.host):
        raise PortInUseError(SERVICE, cfg.port, cfg.host)
    options = (
        f"-c listen_addresses={cfg.host} -p {cfg.port} -k {cfg.cluster_dir} "
        "-c max_connections=200 -c log_min_messages=warning -c log_checkpoints=off"
    )
    await _run(
        account.wrap(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(cfg.cluster_dir),
                "-l",
                str(cfg.log_path),
                "-o",
                options,
                "-W",
                "start",
            ]
        ),
        log_path=cfg.log_path,
        env=_env(),
    )
    pid = await _wait_postmaster(cfg)
    return PostgresServer(cfg, pid, reused=False)


async def _wait_postmaster(cfg: PostgresConfig) -> int:
    """Wait for postmaster.pid to say "ready" and the port to accept; return the postmaster pid."""
    started = time.monotonic()
    pid: int | None = None

    def alive() -> bool:
        # Until the pid file appears we can only give it time; once known, the pid must stay alive.
        return (pid is None and time.monotonic() - started < 5.0) or (pid is not None and _process_alive(pid))

    async def probe() -> bool:
        nonlocal pid
        lines = _read_pidfile(cfg.cluster_dir)
        if lines and lines[0].strip().isdigit():
            pid = int(lines[0])
        if not lines or len(lines) < 8 or lines[7].strip() != "ready":
            return False
        return await tcp_open(cfg.host, cfg.port)

    try:
        await wait_ready(SERVICE, probe, timeout=cfg.start_timeout, log_path=cfg.log_path, is_alive=alive)
    except ServiceExitedError:
        raise
    except EmbeddedError:
        if pid is not None:
            await _stop_postmaster(pid, timeout=5.0)
        raise
    assert pid is not None
    return pid


__all__ = ["SYSTEM_USER", "PostgresConfig", "PostgresServer", "bin_dir", "start_postgres"]
