"""The ReliantError tree. Every error carries the context needed to act on it, as fields."""

from __future__ import annotations

import errno
from pathlib import Path

MAX_ECHO_CHARS = 80


def quoted(value: str) -> str:
    """A client's value as an error message repeats it: quoted, and past MAX_ECHO_CHARS cut, with
    its length said, so that the refusal of a 1 MB id or name is not itself a megabyte."""
    if len(value) <= MAX_ECHO_CHARS:
        return repr(value)
    return f"{value[:MAX_ECHO_CHARS]!r}… ({len(value):,} characters)"


class ReliantError(Exception):
    """Base of every error reliant raises on purpose."""


class ConfigError(ReliantError):
    """A setting could not be read or is invalid."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class DataDirError(ReliantError):
    """The data dir cannot be used (not writable, not a directory, ...)."""

    def __init__(self, data_dir: Path, message: str) -> None:
        self.data_dir = data_dir
        super().__init__(f"data dir {data_dir}: {message}")


class AlreadyRunningError(DataDirError):
    """Another reliant process holds the data dir's lock."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            data_dir,
            f"reliant is already running here ({who}); stop it first, or pass a different --data-dir",
        )


class NotRunningError(ReliantError):
    """A CLI command needs a running reliant and found none."""

    def __init__(self, data_dir: Path, detail: str = "") -> None:
        self.data_dir = data_dir
        msg = f"no running reliant found for data dir {data_dir}; start it with `reliant up`"
        super().__init__(msg + (f" ({detail})" if detail else ""))


class PortInUseError(ReliantError):
    def __init__(self, role: str, host: str, port: int) -> None:
        self.role = role
        self.host = host
        self.port = port
        super().__init__(
            f"{role}: port {port} on {host} is already in use; pick another with --port "
            "or stop the process that holds it"
        )


class CannotListenError(ReliantError):
    """A role cannot listen on its address, its port being free: the address is not one of this
    machine's, the name does not resolve, or the port is not allowed."""

    def __init__(self, role: str, host: str, port: int, reason: str) -> None:
        self.role = role
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"{role}: cannot listen on {host}:{port}: {reason}")


def listen_error(role: str, host: str, port: int, exc: OSError) -> ReliantError:
    """The error for a bind of host:port that failed with `exc`: a taken port only when it is one."""
    if exc.errno == errno.EADDRINUSE:
        return PortInUseError(role, host, port)
    return CannotListenError(role, host, port, exc.strerror or str(exc))


class DaemonUnavailableError(ReliantError):
    """No daemon answered a tool request (offline, or never connected).

    `maybe_reached` is False when the request provably never reached the daemon (nobody listens
    for it, or the gateway refused it for not holding the daemon), True when it may have (no
    answer in time, or the daemon's stream broke after the request was forwarded)."""

    def __init__(self, daemon_id: str, detail: str = "", *, maybe_reached: bool = False) -> None:
        self.daemon_id = daemon_id
        self.detail = detail
        self.maybe_reached = maybe_reached
        super().__init__(f"daemon {daemon_id} is offline" + (f": {detail}" if detail else ""))


class AuthError(ReliantError):
    """A token was missing or wrong."""
