"""A Debian PostgreSQL server (the `postgresql` package, not the embedded one) for tests of an
external database: its own cluster in a temporary directory, TLS only (`hostssl`, scram), started
with initdb and pg_ctl. As root, the server runs as the unprivileged system user the embedded
Postgres uses (postgres refuses root), through setpriv."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from embedded.ports import server_port
from embedded.postgres import SYSTEM_USER


def debian_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _server_account() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
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
    return entry.pw_uid, entry.pw_gid


@dataclass
class DebianPostgres:
    """One cluster with TLS (`cert` for 127.0.0.1, `key`) and a password user `reliant` owning a
    database `reliant`; plaintext connections are refused."""

    cert: Path
    key: Path
    password: str = field(default_factory=lambda: os.urandom(12).hex())
    port: int = field(default_factory=server_port)
    directory: Path | None = None

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        uid, gid = _server_account()
        prefix = [] if uid == os.geteuid() else ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120, check=False)

    def url(self, ca: Path, *, with_password: bool = False) -> str:
        secret = f":{quote(self.password, safe='')}" if with_password else ""
        query = f"sslmode=verify-full&sslrootcert={quote(str(ca))}"
        return f"postgresql://reliant{secret}@127.0.0.1:{self.port}/reliant?{query}"

    def start(self) -> DebianPostgres:
        binaries = debian_binaries()
        assert binaries is not None, "the Debian postgresql package is missing (scripts/test installs it)"
        uid, gid = _server_account()
        # Under /tmp (1777), not the test's 0700 tmp dir: the server's user must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="reliant-debian-pg-"))
        os.chown(self.directory, uid, gid)
        for name, source in (("server.crt", self.cert), ("server.key", self.key), ("pw", None)):
            target = self.directory / name
            target.write_text(source.read_text() if source else self.password + "\n")
            target.chmod(0o600)
            os.chown(target, uid, gid)
        data = self.directory / "data"
        done = self._run(
            str(binaries / "initdb"), "-D", str(data), "-U", "reliant", "--auth=scram-sha-256",
            f"--pwfile={self.directory / 'pw'}", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.directory}'\n"
                f"ssl = on\nssl_cert_file = '{self.directory / 'server.crt'}'\n"
                f"ssl_key_file = '{self.directory / 'server.key'}'\nfsync = off\nmax_connections = 200\n"
            )
        (data / "pg_hba.conf").write_text("local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
        log = self.directory / "server.log"
        done = self._run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start")
        assert done.returncode == 0, done.stdout + done.stderr + (log.read_text() if log.exists() else "")
        import psycopg

        admin = f"postgresql://reliant:{self.password}@127.0.0.1:{self.port}/postgres?sslmode=require"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE reliant")
        return self

    def stop(self) -> None:
        binaries = debian_binaries()
        if self.directory is None or binaries is None:
            return
        if (self.directory / "data" / "postmaster.pid").exists():
            self._run(str(binaries / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None
