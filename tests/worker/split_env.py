"""reliant in split form for fault tests: its own nats-server, and the worker, the gateway and the
daemon each in its own process (`reliant server worker|gateway`, `reliant daemon start`), on the
shared Postgres and Temporal. The test itself plays the api (its service layer) to drive chats, and
kills or freezes any piece with real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from embedded.nats import NatsConfig, NatsServer, start_nats
from embedded.ports import free_port
from reliant.api.chats import Chats
from reliant.api.context import ApiContext
from reliant.bus import Bus
from reliant.clients import temporal
from reliant.clients.providers import ProviderPool
from reliant.config import Settings
from reliant.db import Database
from reliant.db import updates as updates_db
from reliant.domain.chat import ChatInfo, ChatUpdate
from tests.conftest import Infra
from tests.e2e.harness import Proc, clean_env
from tests.support import eventually

DAEMON_TOKEN = "daemon-secret"
READY = {"worker": "reliant worker ready", "gateway": "reliant gateway ready", "daemon": "connected to"}


@dataclass
class SplitEnv:
    tmp: Path
    settings: Settings
    nats_config: NatsConfig
    nats: NatsServer
    db: Database
    bus: Bus
    client: Client
    chats: Chats
    workspace: Path
    env: dict[str, str]
    procs: dict[str, Proc] = field(default_factory=dict)
    starts: int = 0

    # -- the pieces -------------------------------------------------------------------------------

    def args(self, role: str) -> list[str]:
        s = self.settings
        nats = ["--nats-url", s.nats_url, "--nats-token", s.nats_token]
        data = ["--data-dir", str(self.tmp / role), "--log-level", "debug"]  # the logs explain a failure
        if role == "worker":
            return [
                "server",
                "worker",
                "--db-url",
                s.database_url,
                *nats,
                "--temporal-address",
                s.temporal_address,
                "--temporal-namespace",
                s.temporal_namespace,
                *data,
            ]
        if role == "gateway":
            return ["server", "gateway", "--port", str(s.gateway_port), *nats, *data]
        token = self.tmp / "daemon_token"
        token.write_text(DAEMON_TOKEN + "\n")
        return [
            "daemon",
            "start",
            "--gateway",
            s.gateway_address,
            "--token-file",
            str(token),
            "--workspace",
            str(self.workspace),
            *data,
        ]

    async def start(self, role: str) -> float:
        """Start a role's process (a fresh log each time); returns when it is ready (monotonic)."""
        self.starts += 1
        proc = Proc(self.args(role), self.tmp / f"{role}-{self.starts}.log", env=self.env).start()
        self.procs[role] = proc
        await asyncio.to_thread(proc.wait_for_output, READY[role], 60)
        return time.monotonic()

    def pid(self, piece: str) -> int:
        return self.nats.pid if piece == "nats" else self.procs[piece].pid

    async def kill(self, piece: str) -> None:
        """SIGKILL, and wait until it is gone."""
        if piece == "nats":
            os.kill(self.nats.pid, signal.SIGKILL)
            await self.nats.child.process.wait()
            return
        proc = self.procs[piece]
        proc.kill()

    async def restart(self, piece: str) -> float:
        """Start a killed piece again (NATS on the same ports and store); returns when it is ready."""
        if piece == "nats":
            self.nats = await start_nats(self.nats_config)
            return time.monotonic()
        return await self.start(piece)

    async def stop(self, piece: str) -> int:
        """SIGTERM (as a service manager stops it), and wait for it to exit; returns its code."""
        proc = self.procs[piece]
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(proc.process.wait, 60)

    async def freeze(self, piece: str, seconds: float) -> float:
        """SIGSTOP for `seconds` (the fault's length, not a wait for something), then SIGCONT;
        returns when it was resumed (monotonic)."""
        pid = self.pid(piece)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        return time.monotonic()

    # -- chats ------------------------------------------------------------------------------------

    def script(self, turns: list[dict[str, Any]]) -> str:
        """A scripted model, in the project (scripts may lie there or in the data dir)."""
        folder = self.workspace / ".scripts"
        folder.mkdir(exist_ok=True)
        path = folder / f"script-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump({"turns": turns}))
        return f"scripted:{path}"

    async def new_chat(self, model: str) -> ChatInfo:
        project = await self.chats.create_project(str(self.workspace), daemon_id=self.settings.daemon_id)
        return await self.chats.create_chat(project.id, model)

    async def updates(self, chat_id: str) -> list[ChatUpdate]:
        return await updates_db.since(self.db, chat_id, 0, 100_000)

    async def finished(self, chat_id: str, timeout: float = 60) -> ChatInfo:
        """Idle, nothing queued or running (read from Postgres and the workflow)."""

        async def done() -> ChatInfo | None:
            chat = await self.chats.chat(chat_id)
            if chat.status.value != "idle" or chat.queued:
                return None
            state = await self.client.get_workflow_handle(f"chat-{chat_id}").query("state")
            return chat if not state["active"] and not state["queue"] else None

        return await eventually(done, timeout=timeout, interval=0.1)

    def logs(self) -> str:
        """The tail of every process's log, for a failure message."""
        tails = (f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.tmp.glob("*.log")))
        return "\n".join(tails)


@asynccontextmanager
async def split_env(infra: Infra, tmp_path: Path, **extra_env: str) -> AsyncIterator[SplitEnv]:
    """`extra_env`: more RELIANT_* settings for the processes."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    nats_config = NatsConfig(
        store_dir=tmp_path / "nats",
        config_path=tmp_path / "nats.conf",
        log_path=tmp_path / "nats-server.log",
        port=free_port(),
        monitor_port=free_port(),
        token="split-nats-token",
    )
    gateway_port = free_port()
    settings = Settings(
        database_url=infra.database_url,
        nats_url=f"nats://127.0.0.1:{nats_config.port}",
        nats_token=nats_config.token,
        temporal_address=infra.temporal_address,
        temporal_task_queue=f"split-{uuid.uuid4().hex[:8]}",
        gateway_port=gateway_port,
        gateway_address=f"127.0.0.1:{gateway_port}",
        daemon_token=DAEMON_TOKEN,
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
        codec_key=infra.codec_key,  # every role seals and opens Temporal payloads with one key
    )
    env = clean_env(
        RELIANT_CODEC_KEY=infra.codec_key,
        RELIANT_TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
        RELIANT_DAEMON_ID=settings.daemon_id,
        RELIANT_DAEMON_TOKEN=DAEMON_TOKEN,
        RELIANT_HEARTBEAT_INTERVAL="0.5",
        RELIANT_HEARTBEAT_TIMEOUT="3",
        **extra_env,
    )
    nats = await start_nats(nats_config)
    split: SplitEnv | None = None
    try:
        async with AsyncExitStack() as stack:
            db = await Database.open(settings.database_url, min_size=1)
            stack.push_async_callback(db.close)
            bus = await Bus.connect(settings.nats_url, settings.nats_token)
            stack.push_async_callback(bus.close)
            client = await temporal.connect(settings)
            ctx = ApiContext(settings=settings, db=db, bus=bus, temporal=client, api_url="http://test")
            chats = Chats(ctx, ProviderPool(db, settings))
            split = SplitEnv(tmp_path, settings, nats_config, nats, db, bus, client, chats, workspace, env)
            await asyncio.gather(split.start("worker"), split.start("gateway"))
            await split.start("daemon")
            await eventually(lambda: _daemon_online(bus, settings.daemon_id), timeout=30)
            yield split
    finally:
        procs = list(split.procs.values()) if split is not None else []
        for proc in procs:
            if proc.process is not None and proc.process.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.process.send_signal(signal.SIGTERM)
        for proc in procs:
            if proc.process is not None:
                try:
                    await asyncio.to_thread(proc.process.wait, 30)
                except Exception:  # noqa: BLE001 - stuck: kill it
                    proc.kill()
        current = split.nats if split is not None else nats
        if current.running:
            os.kill(current.pid, signal.SIGCONT)
        await current.stop()


async def _daemon_online(bus: Bus, daemon_id: str) -> bool:
    entries = await (await bus.presence()).entries("daemon.")
    return bool(entries.get(f"daemon.{daemon_id}", {}).get("online"))
