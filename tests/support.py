"""Small test helpers: polling instead of sleeping, and process bookkeeping."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]] | Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Call `probe` until it returns a truthy value (or stops raising), then return that value."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
            last_error = None
        except AssertionError as exc:
            last_error = exc
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")
        await asyncio.sleep(interval)


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Synchronous `eventually`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")
        time.sleep(interval)


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state not in ("Z", "X"):
            found.append((int(entry.name), cmdline.strip()))
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class RoleRunner:
    """Run a role's `run(ready)` as a task; `async with` waits for ready and cancels on exit."""

    def __init__(self, role: object, timeout: float = 30.0) -> None:
        self.role = role
        self.timeout = timeout
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RoleRunner:
        self.task = asyncio.create_task(self.role.run(self.ready))  # type: ignore[attr-defined]
        waiter = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({waiter, self.task}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self.task in done:
            self.task.result()
            raise AssertionError("role exited before it was ready")
        if not done:
            self.task.cancel()
            raise AssertionError(f"role not ready within {self.timeout}s")
        return self

    async def stop(self, timeout: float = 30.0) -> None:
        """Cancel the role; one that has not stopped `timeout` seconds later fails the test, naming
        where each of its tasks waits (instead of a bare pytest-timeout much later)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            done, _ = await asyncio.wait({self.task}, timeout=timeout)
            if not done:
                raise AssertionError(f"{type(self.role).__name__} did not stop within {timeout}s:\n{task_stacks()}")
            if not self.task.cancelled():
                self.task.exception()  # retrieved, as gather(return_exceptions=True) did

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def task_stacks() -> str:
    """Where each pending asyncio task waits: its innermost frame (for a hang's failure message)."""
    lines = []
    for task in asyncio.all_tasks():
        frames = task.get_stack()
        where = f"{frames[-1].f_code.co_filename}:{frames[-1].f_lineno}" if frames else "?"
        lines.append(f"  {task.get_name()}: {where}")
    return "\n".join(sorted(lines))


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (from /proc: its socket inodes in the LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def git(cwd: Path, *args: str) -> str:
    """Runs git in `cwd` (failing the test on an error); its output."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def committed_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at `path` (branch main) whose one commit holds `files`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "base")
    return path
