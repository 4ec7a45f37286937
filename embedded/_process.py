"""Child processes: spawn with a log file, probe until ready, stop with terminate then kill."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from embedded.errors import BinaryNotFoundError, EmbeddedError, ServiceExitedError, StartTimeoutError

_DIE_WITH_PARENT = Path(__file__).with_name("_die_with_parent.py")


def tied_to_this_process(argv: Sequence[str | os.PathLike[str]]) -> list[str]:
    """`argv` behind the exec wrapper that makes it get SIGTERM when this process dies, even by
    SIGKILL (see _die_with_parent.py for why a wrapper and not a preexec hook)."""
    return [sys.executable, "-I", "-S", str(_DIE_WITH_PARENT), str(os.getpid()), *(os.fspath(a) for a in argv)]


# The line that opens each start's part of a service log (the data dir's logs grow run after run).
_START_MARK = re.compile(r"^--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d starting \S+$", re.MULTILINE)


def mark_start(log_path: Path, service: str) -> None:
    """Open this start's part of the service's (private) log."""
    private_file(log_path)
    with log_path.open("ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {service}\n".encode())


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines the latest start wrote to a log file (never an earlier run's, which would
    pass for this one's reason to fail), or "" if it cannot be read."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 8192))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    marks = list(_START_MARK.finditer(data))
    if marks:
        data = data[marks[-1].start() :]
    return "\n".join(data.splitlines()[-lines:])


def require_binary(service: str, path: Path) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BinaryNotFoundError(
            service,
            f"executable not found at {path}; reinstall reliant (pip install --force-reinstall reliant) "
            "so its bundled service binaries are present",
        )
    return path


def private_file(path: Path) -> None:
    """Make sure `path` exists and only its owner can read or write it (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    path.chmod(0o600)


class ServiceHandle:
    """A running service; as an async context manager it stops the service on exit."""

    async def stop(self, timeout: float = 5.0) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class ChildProcess:
    """A service process we started and own; stops with SIGTERM, then SIGKILL."""

    def __init__(self, service: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.service = service
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def exited_error(self) -> ServiceExitedError:
        return ServiceExitedError(
            self.service,
            f"exited with code {self.process.returncode} while starting",
            log_path=self.log_path,
            log_tail=log_tail(self.log_path),
        )

    async def stop(self, timeout: float = 5.0) -> None:
        if self.process.returncode is not None:
            return
        try:
            self.process.terminate()
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            try:
                self.process.kill()
            except ProcessLookupError:
                return
            await self.process.wait()


class ChildService(ServiceHandle):
    """A service that is our own child process (nats-server, temporal)."""

    def __init__(self, child: ChildProcess) -> None:
        self.child = child

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def running(self) -> bool:
        return self.child.running

    async def stop(self, timeout: float = 5.0) -> None:
        await self.child.stop(timeout)


async def spawn(
    service: str,
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> ChildProcess:
    """Start `argv` in its own session, logging to `log_path`; it dies with this process.

    Spawn from the event loop's thread: the kernel's parent-death signal follows the thread that
    forked, not the process."""
    require_binary(service, Path(argv[0]))
    mark_start(log_path, service)
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *tied_to_this_process(argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
            # Own session: a Ctrl-C in the terminal reaches only the supervisor, which stops
            # services in order instead of having them all die at once.
            start_new_session=True,
            umask=0o077,  # what the service writes in the data dir is its owner's alone
        )
    return ChildProcess(service, process, log_path)


async def wait_ready(
    service: str,
    probe: Callable[[], Awaitable[bool]],
    *,
    timeout: float,
    log_path: Path,
    child: ChildProcess | None = None,
    is_alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `probe` until it returns True; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if child is not None and not child.running:
            raise child.exited_error()
        if is_alive is not None and not is_alive():
            raise ServiceExitedError(service, "exited while starting", log_path=log_path, log_tail=log_tail(log_path))
        try:
            if await probe():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StartTimeoutError(
                service,
                f"not ready after {timeout:.0f}s",
                log_path=log_path,
                log_tail=log_tail(log_path),
            )
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.05)


async def http_status(host: str, port: int, path: str, timeout: float = 1.0) -> int:
    """Status code of a plain HTTP/1.0 GET, for readiness probes (no client library needed)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    parts = line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise EmbeddedError("probe", f"bad HTTP status line from {host}:{port}: {line!r}")
    return int(parts[1])


async def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on host:port."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    return True
