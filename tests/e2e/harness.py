"""Drive `reliant` as a user would: as subprocesses, over HTTP and through the CLI."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded.ports import server_port
from tests.support import pid_alive, processes_mentioning, wait_until

READY_LINE = "Press Ctrl-C to stop."


def reliant_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "reliant", *args]


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        reliant_cmd(*args), capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


@dataclass
class Proc:
    """A long-running reliant subprocess whose output goes to a file we can read while it runs."""

    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            reliant_cmd(*self.args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        def seen() -> bool:
            if text in self.output():
                return True
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with {self.process.returncode} before printing {text!r}:\n{self.output()}")
            return False

        try:
            wait_until(seen, timeout=timeout, interval=0.05)
        except AssertionError:
            raise AssertionError(f"{self.args} did not print {text!r} within {timeout}s:\n{self.output()}") from None

    def stop(self, timeout: float = 30) -> int:
        """SIGINT (Ctrl-C), then wait."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@dataclass
class Appliance:
    """`reliant up` on its own data dir and api port."""

    data_dir: Path
    port: int = field(default_factory=server_port)  # kept across restarts, like the data dir's
    extra: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    proc: Proc | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return (self.data_dir / "secrets" / "api_token").read_text().strip()

    def start(self, timeout: float = 60) -> Appliance:
        self.runs += 1
        log = self.data_dir.parent / f"{self.data_dir.name}-up-{self.runs}.log"
        self.proc = Proc(
            ["up", "--data-dir", str(self.data_dir), "--port", str(self.port), *self.extra], log, env=self.env
        ).start()
        self.proc.wait_for_output(READY_LINE, timeout)
        return self

    def stop(self) -> int:
        assert self.proc is not None
        return self.proc.stop()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()

    def get(self, path: str, *, token: str | None = None, timeout: float = 10) -> tuple[int, Any]:
        return http_json("GET", self.url + path, token=self.token if token is None else token, timeout=timeout)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--data-dir", str(self.data_dir), timeout=timeout, env=self.env)

    def leftovers(self) -> list[tuple[int, str]]:
        """Processes still running from this data dir (nats, temporal, postgres)."""
        return processes_mentioning(str(self.data_dir))


def http_json(method: str, url: str, *, token: str = "", body: Any = None, timeout: float = 10) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's env without any RELIANT_* settings that would leak into the child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIANT_")}
    env.update(extra)
    return env


def shared_secrets(directory: Path) -> dict[str, str]:
    """Secret files that split replicas share (a split role never makes one up), written once into
    `directory` (0600), as the RELIANT_*_FILE variables that name them."""
    from reliant.clients.codec import CodecKey

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {}
    for name in ("codec_key", "api_token", "daemon_token"):
        path = directory / name
        if not path.exists():
            path.write_text(CodecKey.generate().to_text() if name == "codec_key" else f"{name}-{os.urandom(8).hex()}\n")
            path.chmod(0o600)
        env[f"RELIANT_{name.upper()}_FILE"] = str(path)
    return env


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    wait_until(lambda: not any(pid_alive(pid) for pid in pids), timeout=timeout)


class Follower:
    """Reads a chat's server-sent events on a thread until the connection ends (or `close`)."""

    def __init__(self, url: str, token: str) -> None:
        self.updates: list[dict[str, Any]] = []
        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.netloc, timeout=60)
        self._conn.request("GET", f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {token}"})
        self._response = self._conn.getresponse()
        if self._response.status != 200:
            raise AssertionError(f"GET {url} -> {self._response.status}")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._response:
                if line.startswith(b"data: "):
                    self.updates.append(json.loads(line[6:]))
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the server went away
        finally:
            self._conn.close()

    def kinds(self) -> list[str]:
        return [u["kind"] for u in list(self.updates)]

    def close(self) -> None:
        if self._conn.sock is not None:
            try:
                self._conn.sock.shutdown(socket.SHUT_RDWR)  # the reading thread sees the end
            except OSError:
                pass
        self._thread.join(5)


class Rest:
    """The REST JSON api of a running appliance, for tests that drive chats without the CLI."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        status, doc = http_json(method, self.url + path, token=self.token, body=body, timeout=timeout)
        if status >= 400:
            raise AssertionError(f"{method} {path} -> {status}: {doc}")
        return doc

    def project(self, path: Path) -> dict[str, Any]:
        return self.call("POST", "/api/projects", {"path": str(path)})

    def chat(self, project_id: str, model: str) -> dict[str, Any]:
        return self.call("POST", "/api/chats", {"project_id": project_id, "model": model})

    def send(self, chat_id: str, text: str) -> dict[str, Any]:
        return self.call("POST", f"/api/chats/{chat_id}/messages", {"text": text})

    def get_chat(self, chat_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/chats/{chat_id}")

    def updates(self, chat_id: str, since: int = 0) -> list[dict[str, Any]]:
        """The chat's log (not the answer being streamed: see `follow`)."""
        return self.call("GET", f"/api/chats/{chat_id}/updates?since_seq={since}")

    def follow(self, chat_id: str) -> Follower:
        """Everything a client following the chat is sent, the answer being streamed too."""
        return Follower(f"{self.url}/api/chats/{chat_id}/updates?since_seq=0&follow=true", self.token)

    def messages(self, chat_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/chats/{chat_id}/messages")

    def wait_idle(self, chat_id: str, timeout: float = 60) -> dict[str, Any]:
        def idle() -> dict[str, Any] | None:
            chat = self.get_chat(chat_id)
            if chat["status"] == "paused":
                raise AssertionError(f"chat paused: {chat['status_reason']}")
            done = (
                chat["status"] == "idle"
                and chat["queued"] == 0
                and any(u["kind"] == "chat_status" and u["payload"]["status"] == "idle" for u in self.updates(chat_id))
            )
            return chat if done else None

        return wait_until(idle, timeout=timeout, interval=0.1)
