"""The engine `reliant test` runs scenarios against, by default: `reliant up` on a data dir of its own
in a temporary directory, for as long as the scenarios run. Offline and isolated (its own Postgres,
NATS, Temporal and daemon; nothing of the user's reliant is touched), so it suits CI. Its environment
holds no reliant settings and no provider keys: scenarios use scripted models and spend nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from embedded.ports import free_port

READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
PROVIDER_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
# Postgres listens on a unix socket in the data dir too: its path must fit in 107 bytes.
SOCKET_IN_DATA_DIR = "data/postgres/.s.PGSQL.65535"
MAX_SOCKET_PATH = 107


class EngineError(Exception):
    """The temporary engine did not start; the message holds the end of its log."""


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RELIANT_") and k not in PROVIDER_KEYS}


def short_directory() -> Path:
    """A new temporary directory whose path leaves room for Postgres's socket: under TMPDIR when that
    is short enough, else under /tmp."""
    for base in dict.fromkeys((tempfile.gettempdir(), "/tmp")):
        path = Path(tempfile.mkdtemp(prefix="reliant-engine-", dir=base))
        if len(str(path / SOCKET_IN_DATA_DIR)) <= MAX_SOCKET_PATH:
            return path
        path.rmdir()
    raise EngineError(f"no temporary directory with a path short enough for Postgres's socket (TMPDIR is {base})")


class TemporaryEngine:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else short_directory()
        self.data_dir = self.root / "data"
        self.log = self.root / "reliant-up.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.data_dir / "secrets" / "api_token").read_text(encoding="utf-8").strip()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "reliant", "up", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_environment()
            )
        deadline = time.monotonic() + timeout
        while READY_LINE not in self._output():
            if self.process.poll() is not None:
                raise EngineError(f"reliant up exited with {self.process.returncode}:\n{self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise EngineError(f"reliant up was not ready within {timeout:g}s:\n{self._tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def _output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self._output().splitlines()[-lines:])

    def __enter__(self) -> TemporaryEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
