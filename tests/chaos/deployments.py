"""reliant as the chaos run deploys it, and how each piece is hit and comes back.

`Appliance` is `reliant up`; `Split` is `reliant services` plus `reliant server worker|gateway|api`
and `reliant daemon start`, each a process (group) of its own. A killed command is started again
the same way, at once, as an init system or a user would; a killed service must be brought back by
its supervisor (`reliant up` or `reliant services`): if it is not, that is reported and the
supervisor itself is restarted, so the run can go on.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from embedded.ports import server_port
from tests.chaos import processes
from tests.chaos.client import Api
from tests.chaos.plan import FREEZE, KILL, Hit
from tests.chaos.processes import Command, StartFailed
from tests.e2e.harness import clean_env

READY = "Press Ctrl-C to stop."
START_TIMEOUT = 90.0  # a loaded two-core machine starts slowly
RESTART_ATTEMPTS = 3
SERVICES = ("postgres", "nats", "temporal")


@dataclass
class HitOutcome:
    hit_at: float  # wall clock, like the updates' created_unix
    back_at: float  # the piece is back: its command printed ready, its service listens, or SIGCONT
    daemon_restarted: bool  # the daemon's process was among the dead (its tools' fate is unknown)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (violation kind, detail)


class DeploymentBroken(Exception):
    """A piece could not be brought back: the mode cannot go on."""


@dataclass
class Options:
    service_restart_seconds: float = 20.0  # how long a supervisor may take to revive a killed service


class Deployment(ABC):
    mode: str

    def __init__(self, root: Path, options: Options) -> None:
        self.root = root
        self.workspace = root / "workspace"
        self.logs = root / "logs"
        self.options = options
        self.api = Api("", "")

    @abstractmethod
    def commands(self) -> list[Command]:
        """In start order."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    def data_dirs(self) -> list[Path]:
        """Data dirs holding a postgres cluster."""

    @abstractmethod
    async def hit(self, hit: Hit) -> HitOutcome: ...

    def expected_pids(self) -> set[int]:
        """Every process that belongs here now: the commands and what runs under them, and the
        postmasters (pg_ctl puts them in sessions of their own) with their backends."""
        pids: set[int] = set()
        for command in self.commands():
            if command.running:
                pids |= {p.pid for p in processes.tree(command.pid)}
        for data_dir in self.data_dirs():
            postmaster = processes.service_pid("postgres", data_dir)
            if postmaster is not None:
                pids |= {p.pid for p in processes.tree(postmaster)}
        return pids

    async def healthy(self, within: float) -> str | None:
        """None once the api is ready and a daemon online; else what is not."""
        deadline = time.monotonic() + within
        why = ""
        while time.monotonic() < deadline:
            down = [c.name for c in self.commands() if not c.running]
            if down:
                why = f"not running: {', '.join(down)}"
            elif not await self.api.ready():
                why = "the api is not ready"
            else:
                try:
                    online = await self.api.daemons_online()
                except Exception as exc:  # noqa: BLE001 - report whatever it is
                    online, why = 0, f"status: {exc}"
                else:
                    why = "no daemon online"
                if online:
                    return None
            await asyncio.sleep(0.25)
        return why

    async def shutdown(self) -> list[tuple[str, str]]:
        """Ctrl-C every command, last started first; problems if one does not exit cleanly."""
        problems = []
        for command in reversed(self.commands()):
            if command.popen is None or not command.running:
                continue
            code = await command.stop()
            if code != 0:
                what = "had to be killed" if code is None else f"exited with {code}"
                problems.append(
                    ("unclean_stop", f"{command.name} {what} on Ctrl-C:\n{processes.log_tail(command.log)}")
                )
        return problems

    def kill_everything(self) -> None:
        """When the run itself fails: leave nothing running."""
        doomed = []
        for command in self.commands():
            if command.running:
                doomed += processes.tree(command.pid)
        for data_dir in self.data_dirs():
            for service in SERVICES:
                pid = processes.service_pid(service, data_dir)
                if pid is not None:
                    doomed += processes.tree(pid)
        processes.signal_all(doomed, signal.SIGCONT)
        processes.signal_all(doomed, signal.SIGKILL)

    async def redeploy(self) -> None:
        await self.shutdown()
        self.kill_everything()
        await self.start()

    # -- hitting ----------------------------------------------------------------------------------

    async def _hit_command(self, command: Command, hit: Hit, *, daemon: bool) -> HitOutcome:
        """A command's own process group: SIGKILL and start it again, or freeze it."""
        hit_at = time.time()
        if hit.kind == FREEZE:
            processes.signal_group(command.pid, signal.SIGSTOP)
            await asyncio.sleep(hit.freeze_seconds)
            processes.signal_group(command.pid, signal.SIGCONT)
            return HitOutcome(hit_at, time.time(), daemon_restarted=False)
        command.kill()
        await command.wait_exit(15)
        outcome = HitOutcome(hit_at, 0.0, daemon_restarted=daemon)
        outcome.back_at = await self._restart(command, outcome.problems)
        return outcome

    async def _hit_processes(self, victims: list[psutil.Process], hit: Hit) -> tuple[float, float | None]:
        """Processes (a tree, or several): freeze them (returns when they run again), or SIGKILL
        them all at once and wait until they are dead."""
        hit_at = time.time()
        if hit.kind == FREEZE:
            processes.signal_all(victims, signal.SIGSTOP)
            await asyncio.sleep(hit.freeze_seconds)
            processes.signal_all(victims, signal.SIGCONT)
            return hit_at, time.time()
        assert hit.kind == KILL
        processes.signal_all(victims, signal.SIGKILL)
        await processes.wait_gone(victims)
        return hit_at, None

    async def _restart(self, command: Command, problems: list[tuple[str, str]]) -> float:
        """Start a command that died, as a user would: at once, and again if it fails."""
        for attempt in range(1, RESTART_ATTEMPTS + 1):
            try:
                return await command.start_ready(START_TIMEOUT)
            except StartFailed as exc:
                tail = "\n".join(exc.log_tail.splitlines()[-4:])
                problems.append(("restart_failed", f"{command.name} (attempt {attempt}) {exc.why}:\n{tail}"))
                command.kill()
                await command.wait_exit(15)
                await asyncio.sleep(1.0)
        raise DeploymentBroken(f"{command.name} did not start again after {RESTART_ATTEMPTS} attempts")

    async def _hit_service(self, service: str, data_dir: Path, supervisor: Command, hit: Hit) -> HitOutcome:
        """A service's process tree: its supervisor must revive it on the same port."""
        pid = processes.service_pid(service, data_dir)
        if pid is None:
            raise DeploymentBroken(f"{service} of {data_dir} is not running before the hit")
        hit_at, back_at = await self._hit_processes(processes.tree(pid), hit)
        outcome = HitOutcome(hit_at, back_at or 0.0, daemon_restarted=False)
        if back_at is not None:
            return outcome
        port = _ports(data_dir)[service]
        deadline = time.monotonic() + self.options.service_restart_seconds
        while time.monotonic() < deadline:
            again = processes.service_pid(service, data_dir)
            if again is not None and again != pid and _listening(port):
                outcome.back_at = time.time()
                return outcome
            await asyncio.sleep(0.1)
        outcome.problems.append(
            (
                "not_restarted",
                f"{service} (pid {pid}) was not running again on port {port} "
                f"{self.options.service_restart_seconds:.0f}s after it was killed; restarting {supervisor.name}",
            )
        )
        await supervisor.stop(timeout=30)
        outcome.back_at = await self._restart(supervisor, outcome.problems)
        outcome.daemon_restarted = supervisor.name == "up"
        return outcome


def _ports(data_dir: Path) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads((data_dir / "ports.json").read_text()).items()}


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Appliance(Deployment):
    """`reliant up` on one data dir; the local daemon works in the workspace."""

    mode = "appliance"

    def __init__(self, root: Path, options: Options) -> None:
        super().__init__(root, options)
        self.data_dir = root / "appliance"
        self.port = server_port()
        self.up = Command(
            "up",
            ["up", "--data-dir", str(self.data_dir), "--port", str(self.port), "--workspace", str(self.workspace)],
            self.logs,
            clean_env(),
            READY,
            root,
        )

    def commands(self) -> list[Command]:
        return [self.up]

    def data_dirs(self) -> list[Path]:
        return [self.data_dir]

    async def start(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        await self.up.start_ready(START_TIMEOUT)
        token = (self.data_dir / "secrets" / "api_token").read_text().strip()
        self.api = Api(f"http://127.0.0.1:{self.port}", token)

    async def hit(self, hit: Hit) -> HitOutcome:
        if hit.victim == "appliance":
            return await self._hit_command(self.up, hit, daemon=True)
        if hit.victim == "power-cut":
            return await self._power_cut(hit)
        service = hit.victim.removeprefix("up-")
        return await self._hit_service(service, self.data_dir, self.up, hit)

    async def _power_cut(self, hit: Hit) -> HitOutcome:
        """Every process of the appliance at once: reliant, its services (postgres too, which
        pg_ctl put in a session of its own) and the tools its daemon runs."""
        victims = processes.tree(self.up.pid)
        postmaster = processes.service_pid("postgres", self.data_dir)
        if postmaster is not None:
            victims += processes.tree(postmaster)
        hit_at, back_at = await self._hit_processes(victims, hit)
        if back_at is not None:
            return HitOutcome(hit_at, back_at, daemon_restarted=False)
        await self.up.wait_exit(15)
        outcome = HitOutcome(hit_at, 0.0, daemon_restarted=True)
        outcome.back_at = await self._restart(self.up, outcome.problems)
        return outcome


class Split(Deployment):
    """The roles as separate processes against `reliant services`, as test_split runs them."""

    mode = "split"

    def __init__(self, root: Path, options: Options) -> None:
        super().__init__(root, options)
        self.infra = root / "infra"
        self.server_dir = root / "server"
        self.api_port, self.gateway_port = server_port(), server_port()
        self.env = clean_env()
        self.services = Command(
            "services", ["services", "--data-dir", str(self.infra)], self.logs, self.env, READY, root
        )
        self.roles: dict[str, Command] = {}

    def commands(self) -> list[Command]:
        return [self.services, *self.roles.values()]

    def data_dirs(self) -> list[Path]:
        return [self.infra]

    def _role_commands(self) -> dict[str, Command]:
        urls = dict(
            line.split("=", 1) for line in (self.infra / "services.env").read_text().splitlines() if "=" in line
        )
        # Every role reads the shared secrets from the files `reliant services` names (a split role
        # never makes one up): the NATS, api and daemon tokens and the codec key.
        self.env.update({k: v for k, v in urls.items() if k.endswith("_FILE") or k == "RELIANT_NATS_TOKEN"})
        nats = ["--nats-url", urls["RELIANT_NATS_URL"]]
        temporal = ["--temporal-address", urls["RELIANT_TEMPORAL_ADDRESS"], "--temporal-namespace", "reliant"]
        db = ["--db-url", urls["RELIANT_DATABASE_URL"]]
        data = ["--data-dir", str(self.server_dir)]

        def role(name: str, *args: str, ready: str) -> Command:
            return Command(name, list(args), self.logs, self.env, ready, self.root)

        return {
            "worker": role(
                "worker",
                *("server", "worker", *db, *nats, *temporal, "--data-dir", str(self.root / "worker")),
                ready="reliant worker ready",
            ),
            "gateway": role(
                "gateway",
                *("server", "gateway", "--port", str(self.gateway_port), *nats, *data),
                ready="reliant gateway ready",
            ),
            "api": role(
                "api",
                *("server", "api", "--port", str(self.api_port), *db, *nats, *temporal, *data),
                ready="reliant api ready",
            ),
            "daemon": role(
                "daemon",
                "daemon",
                "start",
                *("--gateway", f"127.0.0.1:{self.gateway_port}"),
                *("--token-file", urls["RELIANT_DAEMON_TOKEN_FILE"]),
                *("--workspace", str(self.workspace), "--name", "chaos-daemon"),
                *("--data-dir", str(self.root / "daemon")),
                ready="connected to",
            ),
        }

    async def start(self) -> None:
        self.workspace.mkdir(parents=True, exist_ok=True)
        await self.services.start_ready(START_TIMEOUT)
        if not self.roles:
            self.roles = self._role_commands()
        servers = [self.roles[name] for name in ("worker", "gateway", "api")]
        for command in servers:
            command.start()
        await asyncio.gather(*(c.wait_ready(START_TIMEOUT) for c in servers))
        await self.roles["daemon"].start_ready(START_TIMEOUT)
        token = Path(self.env["RELIANT_API_TOKEN_FILE"]).read_text().strip()
        self.api = Api(f"http://127.0.0.1:{self.api_port}", token)

    async def hit(self, hit: Hit) -> HitOutcome:
        if hit.victim in self.roles:
            return await self._hit_command(self.roles[hit.victim], hit, daemon=hit.victim == "daemon")
        return await self._hit_service(hit.victim, self.infra, self.services, hit)
