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

import psutil

from embedded._process import ServiceHandle, mark_start, private_file, require_binary, tcp_open, wait_ready
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
    # The cluster exists but the password it was made with is lost: `password` is a new one, set on
    # the cluster (in single-user mode, as its owner) before the server starts.
    new_password: bool = False


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
    """True while `pid` runs; a zombie (dead, waiting to be reaped) does not count."""
    try:
        with Path(f"/proc/{pid}/stat").open("rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _serves(proc: psutil.Process, cluster: Path) -> bool:
    """True if `proc` is a running postgres process of the cluster in `cluster`: its program is
    postgres and its data dir (`-D` on its command line, else its working directory, which every
    postgres process sets to the data dir) is `cluster`."""
    try:
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
        argv = proc.cmdline()
        if "-D" in argv[:-1]:
            return Path(argv[argv.index("-D") + 1]).resolve() == cluster.resolve()
        return Path(proc.cwd()).resolve() == cluster.resolve()
    except (psutil.Error, OSError):
        return False  # gone, a zombie, or not ours to inspect: never treat it as our postgres


def _postmaster(pid: int, cluster: Path) -> psutil.Process | None:
    """The live postmaster `pid` of this cluster, or None: gone, a zombie, or a recycled pid that
    now belongs to another program (which must never be signalled)."""
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return None
    return proc if _serves(proc, cluster) else None


def _process_or_none(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _cluster_processes(cluster: Path) -> list[psutil.Process]:
    """Live postgres processes working in `cluster`: backends of a postmaster that died, which
    still hold its shared memory until they notice."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.name() == "postgres" and _serves(proc, cluster):
                found.append(proc)
        except psutil.Error:
            continue
    return found


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
        # Held by identity (pid and start time), so stop() never signals a recycled pid. A
        # postmaster we have just started or checked is ours even if it cannot be inspected.
        self._process = _postmaster(pid, config.cluster_dir) or _process_or_none(pid)

    @property
    def socket_dir(self) -> Path:
        return self.config.cluster_dir

    @property
    def url(self) -> str:
        c = self.config
        return f"postgresql://{c.user}:{quote(c.password, safe='')}@{c.host}:{c.port}/{c.database}"

    @property
    def running(self) -> bool:
        return self._process is not None and _running(self._process)

    async def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            await _stop_postmaster(self._process, timeout)


def _running(proc: psutil.Process) -> bool:
    """Still the same process (not a recycled pid), and not a zombie."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _running(proc):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _stop_postmaster(proc: psutil.Process, timeout: float) -> None:
    """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL. psutil signals only the
    process it inspected: a pid recycled meanwhile is left alone."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 3.0), (signal.SIGKILL, 3.0)):
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            return
        if await _wait_gone(proc, wait):
            return
    raise EmbeddedError(SERVICE, f"postmaster pid {proc.pid} did not exit after SIGKILL")


async def _run(argv: list[str], *, log_path: Path, env: dict[str, str], stdin: bytes | None = None) -> str:
    """Run a server binary to its end, its output appended to the log; return that output."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        # Not in the terminal's process group: a Ctrl-C there reaches only the supervisor, which lets
        # initdb or pg_ctl finish and then stops in order, instead of their failing the start.
        start_new_session=True,
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
    return out.decode("utf-8", "replace")


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


async def _set_password(cfg: PostgresConfig, binaries: Path, account: _Account) -> None:
    """Give the cluster's user `cfg.password`, with the server stopped: single-user mode needs no
    password, only the cluster's files."""
    logger.warning("the postgres password of %s was lost; setting a new one", cfg.cluster_dir)
    quoted = cfg.password.replace("'", "''")
    # A failed statement is logged with its text unless told otherwise: never the password.
    argv = [str(binaries / "postgres"), "--single", "-c", "log_min_error_statement=panic"]
    out = await _run(
        account.wrap([*argv, "-D", str(cfg.cluster_dir), "postgres"]),
        log_path=cfg.log_path,
        env=_env(),
        stdin=f"ALTER ROLE {cfg.user} PASSWORD '{quoted}'\n".encode(),
    )
    errors = [line.split("ERROR:", 1)[1].strip() for line in out.splitlines() if "ERROR:" in line]
    if errors:  # single-user mode exits 0 whatever its statements did
        raise EmbeddedError(SERVICE, f"could not set the new password: {errors[0]}", log_path=cfg.log_path)


async def _reuse_or_stop_leftover(cfg: PostgresConfig) -> int | None:
    """Handle a postmaster.pid left by a previous run. Returns the pid of a postmaster we can reuse.

    The pid file is acted on only after checking that its pid is a live postgres of this cluster
    (a pid is recycled, and an unrelated program must never be signalled). Otherwise the file is
    stale: its postmaster died, perhaps by SIGKILL with everything else in a power cut, and may
    still be a zombie that the system reaps only later (Postgres then takes the file for a live
    postmaster and refuses to start). A zombie runs nothing and holds no memory; what could still
    hold the cluster is a backend of the dead postmaster, so we wait for those to exit and then
    remove the stale file."""
    lines = _read_pidfile(cfg.cluster_dir)
    if not lines or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    postmaster = _postmaster(pid, cfg.cluster_dir)
    if postmaster is not None:
        port_ok = len(lines) > 3 and lines[3].strip() == str(cfg.port)
        ready = len(lines) > 7 and lines[7].strip() == "ready"
        if port_ok and ready and not cfg.new_password:  # it knows only the lost password
            try:
                await tcp_open(cfg.host, cfg.port)
            except OSError:
                pass
            else:
                logger.warning("reusing postgres (pid %d) left running by a previous run", pid)
                return pid
        logger.warning("stopping postgres (pid %d) left running by a previous run", pid)
        await _stop_postmaster(postmaster, timeout=10.0)
    await _wait_for_backends(cfg.cluster_dir)
    # Removed even when the pid is gone (reaped): until the new postmaster rewrites the file, its
    # start would read the dead pid as the new server's and report it exited.
    _remove_stale_lock_files(cfg.cluster_dir, pid)
    return None


def _remove_stale_lock_files(cluster: Path, pid: int) -> None:
    """Remove postmaster.pid and the socket lock files (.s.PGSQL.<port>.lock, in the cluster dir
    where we put the socket) that still name the dead postmaster `pid`."""
    for lock in (cluster / "postmaster.pid", *cluster.glob(".s.PGSQL.*.lock")):
        try:
            first = lock.read_text().split("\n", 1)[0].strip()
        except (OSError, UnicodeDecodeError):
            continue
        if first == str(pid):
            logger.warning("removing the stale %s: its pid %d is no longer a postgres of this cluster", lock, pid)
            lock.unlink(missing_ok=True)


async def _wait_for_backends(cluster: Path, timeout: float = 10.0) -> None:
    """Wait for the backends of a dead postmaster to exit; SIGKILL those still there at `timeout`."""
    deadline = time.monotonic() + timeout
    while left := _cluster_processes(cluster):
        if time.monotonic() > deadline:
            logger.warning("killing %d postgres processes left by a dead postmaster", len(left))
            for proc in left:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(left, timeout=3.0)
            return
        await asyncio.sleep(0.02)


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
        if cfg.new_password:
            await _set_password(cfg, binaries, account)

    if not port_is_free(cfg.port, cfg.host):
        raise PortInUseError(SERVICE, cfg.port, cfg.host)
    options = (
        f"-c listen_addresses={cfg.host} -p {cfg.port} -k {cfg.cluster_dir} "
        "-c max_connections=200 -c log_min_messages=warning -c log_checkpoints=off"
    )
    mark_start(cfg.log_path, SERVICE)
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
        started_postmaster = _postmaster(pid, cfg.cluster_dir) if pid is not None else None
        if started_postmaster is not None:
            await _stop_postmaster(started_postmaster, timeout=5.0)
        raise
    assert pid is not None
    return pid


__all__ = ["SYSTEM_USER", "PostgresConfig", "PostgresServer", "bin_dir", "start_postgres"]
