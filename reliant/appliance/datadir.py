"""The data dir: lock, persisted ports, generated secrets, run info and service locations.

Layout:
    reliant.toml        optional settings (see config.py)
    reliant.lock        exclusive flock held by `reliant up` / `reliant services`; holds the pid
    ports.json          ports chosen on the first run
    secrets/            one file per generated token, password or key (codec_key)
    run.json            written by a running appliance: pid and URLs (no secrets)
    logs/               reliant.log and one log per embedded service
    postgres/ nats/ temporal.db

It is private: the data dir and every directory in it are 0700, every file reliant or its services
write there 0600 (the services run with umask 077; postgres sets its own). When run as root,
postgres runs as its own user and passes through with CAP_DAC_READ_SEARCH (embedded/postgres.py),
so no directory needs to open up for it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from embedded.ports import ephemeral_range, port_is_free, server_port
from reliant.errors import AlreadyRunningError, DataDirError
from reliant.redaction import remember

logger = logging.getLogger(__name__)

SECRET_NAMES = ("api_token", "daemon_token", "nats_token", "postgres_password")


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` via a temporary file and rename, so readers never see half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: Path, text: str) -> None:
    """Atomically write a file readable only by its owner (mode 0600)."""
    write_atomic(path, text, 0o600)


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


class DataDirLock:
    """An exclusive flock on <data-dir>/reliant.lock. The kernel drops it when the holder dies,
    so a lock left by a `kill -9` is recovered by simply taking it again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise AlreadyRunningError(self.path.parent, holder) from None
            raise DataDirError(self.path.parent, f"cannot lock {self.path}: {exc.strerror}") from None
        previous = _read_pid(fd)
        if previous and previous != os.getpid():
            logger.info("recovered the lock left by pid %d, which is no longer running", previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class DataDir:
    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()

    # -- locations ------------------------------------------------------------------------------
    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.path / "secrets"

    @property
    def postgres_dir(self) -> Path:
        return self.path / "postgres"

    @property
    def nats_dir(self) -> Path:
        return self.path / "nats"

    @property
    def temporal_db(self) -> Path:
        return self.path / "temporal.db"

    @property
    def run_file(self) -> Path:
        return self.path / "run.json"

    def lock(self) -> DataDirLock:
        return DataDirLock(self.path / "reliant.lock")

    # -- setup ----------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the data dir, private (0700); fail clearly if it is not writable. A data dir made
        before it was private is tightened: its dirs to 0700, what reliant wrote there to 0600."""
        if self.path.exists() and not self.path.is_dir():
            raise DataDirError(self.path, "is a file, not a directory; pass --data-dir with a directory")
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            for directory in (self.path, self.logs, self.secrets_dir):
                directory.mkdir(mode=0o700, exist_ok=True)
                directory.chmod(0o700)
            self._tighten()
            probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".write-test-")  # noqa: SIM115
            probe.close()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DataDirError(
                self.path, f"not writable ({reason}); pass --data-dir with a directory you can write to"
            ) from None

    def _tighten(self) -> None:
        """Files at the top and in logs/ and secrets/, the NATS store and Temporal's database; not
        postgres/ (postgres keeps it 0700/0600 itself) nor a project kept here (demo-project)."""
        nats = [self.nats_dir, *self.nats_dir.rglob("*")] if self.nats_dir.is_dir() else []
        for path in [*self.path.iterdir(), *self.logs.iterdir(), *self.secrets_dir.iterdir(), *nats]:
            mode = path.lstat().st_mode
            if stat.S_ISREG(mode) and mode & 0o077:
                path.chmod(0o600)
            elif stat.S_ISDIR(mode) and mode & 0o077 and path.is_relative_to(self.nats_dir):
                path.chmod(0o700)

    # -- secrets --------------------------------------------------------------------------------
    def secret(self, name: str) -> str:
        """The named secret, generated (and stored with mode 0600) on first use."""
        path = self.secret_file(name, lambda: self.new_secret() + "\n")
        value = path.read_text().strip()
        remember(value)  # kept out of logs from now on
        return value

    def secret_file(self, name: str, make: Callable[[], str]) -> Path:
        """The file of a secret under secrets/ (mode 0600), written with `make()` if it is missing or
        empty. Processes racing to make it all end up with the first one's content."""
        path = self.secrets_dir / name
        try:
            if path.read_text().strip():
                if path.stat().st_mode & 0o077:
                    path.chmod(0o600)
                return path
            path.unlink()  # empty: made again below
        except FileNotFoundError:
            pass
        fd, tmp = tempfile.mkstemp(dir=self.secrets_dir, prefix=f".{name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(make())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return path

    def ensure_secrets(self, *, pending: frozenset[str] = frozenset()) -> dict[str, str]:
        """Every secret, generated if missing; those named in `pending` are generated but not
        written when missing (see `keep_secret`)."""
        return {
            name: self.new_secret() if name in pending and not self.has_secret(name) else self.secret(name)
            for name in SECRET_NAMES
        }

    def has_secret(self, name: str) -> bool:
        try:
            return bool((self.secrets_dir / name).read_text().strip())
        except FileNotFoundError:
            return False

    @staticmethod
    def new_secret() -> str:
        value = secrets.token_urlsafe(32)
        remember(value)  # kept out of logs from now on
        return value

    def keep_secret(self, name: str, value: str) -> None:
        """Write a secret made by `ensure_secrets(pending=...)` once it is in use."""
        self.secret_file(name, lambda: value + "\n")

    def identity(self, name: str, prefix: str) -> str:
        """A stable, non-secret id kept in the data dir (e.g. this machine's daemon id)."""
        path = self.path / name
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            value = ""
        if not value:
            value = f"{prefix}{secrets.token_hex(6)}"
            write_private(path, value + "\n")
        return value

    # -- ports ----------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        try:
            data = json.loads((self.path / "ports.json").read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable %s: %s", self.path / "ports.json", exc)
            return {}
        return {k: int(v) for k, v in data.items() if isinstance(v, int)}

    def save_ports(self, ports: dict[str, int]) -> None:
        write_json(self.path / "ports.json", ports)

    def allocate_ports(
        self,
        names: list[str],
        *,
        host: str,
        preferred: dict[str, int] | None = None,
        keep_if_taken: frozenset[str] = frozenset(),
        reserved: frozenset[int] = frozenset(),
    ) -> dict[str, int]:
        """Ports for `names`, persisted on first use (outside the ephemeral range: `server_port`),
        never one of `reserved` (ports the user gave, bound only later by our own roles).

        A persisted port that another process took since is replaced (and the change saved),
        except for names in `keep_if_taken`, whose owner may be our own leftover process; so is one
        an older reliant chose in the ephemeral range, or one now reserved.
        """
        preferred = preferred or {}
        ports = self.ports()
        changed = False
        chosen: set[int] = set(reserved)
        low, high = ephemeral_range()
        for name in names:
            port = ports.get(name)
            if port is not None and name in keep_if_taken:
                chosen.add(port)
                continue
            ephemeral = port is not None and low <= port <= high
            if port is not None and not ephemeral and port not in chosen and port_is_free(port, host):
                chosen.add(port)
                continue
            if ephemeral:
                logger.info("port %d for %s is one outgoing connections may take; choosing a new one", port, name)
            elif port in reserved:
                logger.warning("port %d for %s is the one given for the api or gateway; choosing a new one", port, name)
            elif port is not None:
                logger.warning("port %d for %s is now taken by another process; choosing a new one", port, name)
            want = preferred.get(name, 0)
            usable = want and want not in chosen and port_is_free(want, host)
            port = want if usable else server_port(host, avoid=chosen)
            ports[name] = port
            chosen.add(port)
            changed = True
        if changed:
            self.save_ports(ports)
        return {name: ports[name] for name in names}

    # -- run info -------------------------------------------------------------------------------
    def write_run_info(self, info: dict[str, Any]) -> None:
        write_json(self.run_file, info)

    def read_run_info(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.run_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def clear_run_info(self) -> None:
        self.run_file.unlink(missing_ok=True)

    @contextlib.contextmanager
    def running(self, info: dict[str, Any]) -> Iterator[None]:
        self.write_run_info(info)
        try:
            yield
        finally:
            self.clear_run_info()
