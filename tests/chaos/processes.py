"""Processes as the operating system sees them: reliant commands started in sessions of their own,
signals sent to a process group or a process tree, services found by their command line, and
processes a run left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil


class StartFailed(Exception):
    def __init__(self, name: str, why: str, log_tail: str) -> None:
        super().__init__(f"{name} {why}:\n{log_tail}")
        self.name = name
        self.why = why
        self.log_tail = log_tail


def log_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Command:
    """A `reliant ...` command run in a session of its own (so that its process group is its own),
    each incarnation logging to a file of its own."""

    name: str
    args: list[str]
    logs: Path
    env: dict[str, str]
    ready_text: str
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None
    incarnation: int = 0
    started_at: float = 0.0
    history: list[int] = field(default_factory=list)  # pids of every incarnation

    @property
    def log(self) -> Path:
        return self.logs / f"{self.name}-{self.incarnation}.log"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        self.incarnation += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "reliant", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self.started_at = time.time()
        self.history.append(self.popen.pid)

    async def wait_ready(self, timeout: float) -> float:
        """Poll the log for the ready line; the time it was seen. StartFailed if the command exits
        or stays silent too long."""
        deadline = time.monotonic() + timeout
        while True:
            if self.ready_text in self.log.read_text(errors="replace"):
                return time.time()
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise StartFailed(
                    self.name, f"exited with {self.popen.returncode} before it was ready", log_tail(self.log)
                )
            if time.monotonic() > deadline:
                raise StartFailed(self.name, f"not ready within {timeout:.0f}s", log_tail(self.log))
            await asyncio.sleep(0.05)

    async def start_ready(self, timeout: float) -> float:
        self.start()
        return await self.wait_ready(timeout)

    async def wait_exit(self, timeout: float) -> int | None:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return self.popen.returncode

    async def stop(self, timeout: float = 60.0) -> int | None:
        """Ctrl-C and wait: the exit code, or None if it had to be killed."""
        if not self.running:
            return self.popen.returncode if self.popen is not None else 0
        signal_group(self.pid, signal.SIGCONT)  # a frozen command cannot stop
        os.kill(self.pid, signal.SIGINT)
        code = await self.wait_exit(timeout)
        if code is None:
            self.kill()
            await self.wait_exit(10)
        return code

    def kill(self) -> None:
        """SIGKILL the command's process group (only what did not leave it)."""
        if self.running:
            signal_group(self.pid, signal.SIGKILL)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and every process below it, gathered before any is signalled."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def signal_all(processes: Iterable[psutil.Process], sig: int) -> None:
    for proc in processes:
        try:
            proc.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_gone(processes: Iterable[psutil.Process], timeout: float = 15.0) -> bool:
    """Until every process has died (a zombie counts as dead: init reaps it in its own time)."""
    pending = list(processes)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [p for p in pending if not gone(p)]
        if not pending:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- services, found by their command line -------------------------------------------------------


def service_pid(service: str, data_dir: Path) -> int | None:
    """The live pid of `service` (postgres, nats, temporal) running for the data dir, or None."""
    if service == "postgres":
        cluster = data_dir / "postgres"
        try:
            pid = int((cluster / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _live_cmdline(pid, str(cluster)) else None
    needle = {"nats": str(data_dir / "secrets" / "nats.conf"), "temporal": str(data_dir / "temporal.db")}[service]
    binary = {"nats": "nats-server", "temporal": "temporal"}[service]
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE or not cmdline:
            continue
        if Path(cmdline[0]).name == binary and any(needle in arg for arg in cmdline):
            return int(proc.info["pid"])
    return None


def _live_cmdline(pid: int, needle: str) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and any(needle in arg for arg in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


# -- what a run left behind ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stray:
    pid: int
    cmdline: str
    why: str  # "runs in the workspace" | "names the run's directory"

    def describe(self) -> str:
        return f"pid {self.pid} ({self.why}): {self.cmdline[:160]}"


def strays(root: Path, workspace: Path, expected: set[int]) -> list[Stray]:
    """Live processes of this run that should not be there: any process working in the workspace
    (a tool, when no chat runs), and any process naming the run's directory that is not one of
    `expected`."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status", "cwd"]):
        info = proc.info
        if info["pid"] in mine or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        cwd = info["cwd"] or ""
        if cwd == str(workspace) or cwd.startswith(f"{workspace}/"):
            found.append(Stray(info["pid"], cmdline, "runs in the workspace"))
        elif str(root) in cmdline and info["pid"] not in expected:
            found.append(Stray(info["pid"], cmdline, "names the run's directory"))
    return found


async def wait_no_strays(root: Path, workspace: Path, expected: Callable[[], set[int]], timeout: float) -> list[Stray]:
    """Strays still there after `timeout` (processes that die with their parent take a moment);
    `expected` is asked afresh each time, as supervisors may start processes meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        found = strays(root, workspace, expected())
        if not found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def kill_strays(found: Iterable[Stray]) -> None:
    """Strays were started by this run (under it): end them, by pid, so later rounds start clean."""
    for stray in found:
        try:
            psutil.Process(stray.pid).kill()
        except psutil.NoSuchProcess:
            pass
