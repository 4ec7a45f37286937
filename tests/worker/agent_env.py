"""An in-process reliant for agent-loop tests: worker, gateway and daemon roles on the shared real
services, plus the api's service layer to create chats and send messages."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from embedded.ports import free_port
from reliant.api.chats import Chats
from reliant.api.context import ApiContext
from reliant.api.gates import Gates
from reliant.api.role import ApiRole
from reliant.api.streaming import READY, stream_updates
from reliant.bus import Bus
from reliant.clients import temporal
from reliant.clients.daemons import control
from reliant.clients.providers import ProviderPool
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.db import updates as updates_db
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import Approval, ChatInfo, ChatUpdate
from reliant.gateway.role import GatewayRole
from reliant.worker.role import WORKFLOWS, WorkerRole
from tests.conftest import Infra
from tests.support import RoleRunner, eventually


@dataclass
class Watch:
    """Every update a StreamUpdates client of one chat has been sent so far (from seq 0)."""

    updates: list[ChatUpdate] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def kinds(self) -> list[str]:
        return [u.kind for u in self.updates if u.kind != "keepalive"]

    def log(self) -> list[ChatUpdate]:
        return [u for u in self.updates if u.seq]

    def text(self) -> str:
        """The streamed text deltas, joined."""
        deltas = [u.payload for u in self.updates if u.kind == "block_delta"]
        return "".join(p["text"] for p in deltas if p["type"] == "text")


@dataclass
class AgentEnv:
    settings: Settings
    db: Database
    bus: Bus
    client: Client
    chats: Chats
    workspace: Path
    scripts: Path
    daemon: DaemonRole
    gateway: RoleRunner
    daemon_runner: RoleRunner
    worker: RoleRunner
    watchers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def gates(self) -> Gates:
        return Gates(self.chats)

    async def trust_project(self) -> None:
        """Trust the workspace's own files as they are now, through the daemon (as the user would)."""
        where = {"workspace": str(self.workspace.resolve())}
        trust = (await control(self.bus, self.settings.daemon_id, "trust.get", where, timeout=30))["trust"]
        granted = await control(
            self.bus, self.settings.daemon_id, "trust.grant", {**where, "fingerprint": trust["fingerprint"]}, timeout=30
        )
        assert granted["ok"], granted

    async def pending_approval(self, chat_id: str, *, after: Approval | None = None, timeout: float = 30) -> Approval:
        """The chat's pending approval (a new one, when `after` was answered already)."""

        async def one() -> Approval | None:
            found = [a for a in await self.gates.pending_approvals(chat_id) if after is None or a.id != after.id]
            return found[0] if found else None

        return await eventually(one, timeout=timeout, interval=0.05)

    def script(self, turns: list[dict[str, Any]], *, in_project: bool = False, **extra: Any) -> str:
        """Write a scripted-model YAML file (in the data dir, or the project's `.scripts/`); returns
        its model spec."""
        folder = self.workspace / ".scripts" if in_project else self.scripts
        folder.mkdir(exist_ok=True)
        path = folder / f"script-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump({"turns": turns, **extra}))
        return f"scripted:{path}"

    async def new_chat(self, model: str) -> ChatInfo:
        project = await self.chats.create_project(str(self.workspace), daemon_id=self.settings.daemon_id)
        return await self.chats.create_chat(project.id, model)

    async def chat_worktree(self, chat: ChatInfo) -> Path:
        """Give the chat a git worktree of its own (as `reliant worktree create --chat` does): where
        its tools run from now on."""
        body = {"workspace": str(self.workspace), "name": f"chat-{chat.id[:8]}"}
        info = (await control(self.bus, self.settings.daemon_id, "worktree.create", body, timeout=30))["worktree"]
        await worktrees_db.create(
            self.db,
            project_id=chat.project_id,
            chat_id=chat.id,
            name=info["name"],
            branch=info["branch"],
            path=info["path"],
            base_commit=info["base"],
        )
        return Path(info["path"])

    async def status(self, chat_id: str, *statuses: str, timeout: float = 30) -> ChatInfo:
        async def reached() -> ChatInfo | None:
            chat = await self.chats.chat(chat_id)
            return chat if chat.status.value in statuses else None

        return await eventually(reached, timeout=timeout, interval=0.05)

    async def send_with_history_limit(self, chat_id: str, text: str, history_limit: int) -> None:
        """Send a message to a chat whose workflow is started here with a low history limit: its
        run continues as new every `history_limit` events or so."""
        from reliant.db import messages as messages_db
        from reliant.domain.workflows import ChatInput

        message = await messages_db.enqueue_user(self.db, chat_id, text)
        await self.client.start_workflow(
            "Chat",
            ChatInput(chat_id, history_limit=history_limit),
            id=f"chat-{chat_id}",
            task_queue=self.settings.temporal_task_queue,
            start_signal="user_message",
            start_signal_args=[message.id],
        )

    async def finished(self, chat_id: str, timeout: float = 30) -> ChatInfo:
        """Wait until the chat is idle with nothing queued or running."""

        async def done() -> ChatInfo | None:
            chat = await self.chats.chat(chat_id)
            if chat.status.value != "idle" or chat.queued:
                return None
            state = await self.client.get_workflow_handle(f"chat-{chat_id}").query("state")
            return chat if not state["active"] and not state["queue"] else None

        return await eventually(done, timeout=timeout, interval=0.05)

    async def updates(self, chat_id: str) -> list[ChatUpdate]:
        """The chat's log, as Postgres holds it."""
        return await updates_db.since(self.db, chat_id, 0, 100_000)

    async def watch(self, chat_id: str) -> Watch:
        """Follow the chat as a client would (log and live tail), until the env closes."""
        watch = Watch()

        async def follow() -> None:
            async for update in stream_updates(self.db, self.bus, chat_id, 0):
                if update.kind == READY:
                    watch.ready.set()
                else:
                    watch.updates.append(update)

        self.watchers.append(asyncio.create_task(follow(), name=f"watch:{chat_id}"))
        await asyncio.wait_for(watch.ready.wait(), 10)
        return watch


def calls_in(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@asynccontextmanager
async def agent_env(
    infra: Infra, tmp_path: Path, *, workflows: Sequence[type] = WORKFLOWS, **overrides: Any
) -> AsyncIterator[AgentEnv]:
    """`workflows`: the worker's workflow classes (an older release's, to make chats as it did)."""
    port = free_port()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    settings = Settings(
        data_dir=tmp_path / "daemon-data",
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        temporal_task_queue=f"agent-{uuid.uuid4().hex[:8]}",
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    settings = replace(settings, **overrides)
    scripts = settings.data_dir / "scripts"  # scripted models may live in the data dir (or a project)
    scripts.mkdir(parents=True)
    if settings.api_port:
        settings = replace(settings, api_token=settings.api_token or "test-api-token")
    async with AsyncExitStack() as stack:
        worker = await stack.enter_async_context(RoleRunner(WorkerRole(settings, workflows=workflows)))
        gateway = await stack.enter_async_context(RoleRunner(GatewayRole(settings)))
        daemon = DaemonRole(settings)
        daemon_runner = await stack.enter_async_context(RoleRunner(daemon))
        if settings.api_port:  # also serve the api over HTTP
            await stack.enter_async_context(RoleRunner(ApiRole(settings)))
        db = await Database.open(settings.database_url, min_size=1)
        stack.push_async_callback(db.close)
        bus = await Bus.connect(settings.nats_url, settings.nats_token)
        stack.push_async_callback(bus.close)
        client = await temporal.connect(settings)
        ctx = ApiContext(settings=settings, db=db, bus=bus, temporal=client, api_url="http://test")
        chats = Chats(ctx, ProviderPool(db, settings))
        # The daemon's presence record is what the api uses to pick a daemon.
        await eventually(lambda: _daemon_online(bus, settings.daemon_id))
        env = AgentEnv(settings, db, bus, client, chats, workspace, scripts, daemon, gateway, daemon_runner, worker)
        try:
            yield env
        finally:
            for watcher in env.watchers:
                watcher.cancel()
            await asyncio.gather(*env.watchers, return_exceptions=True)


async def _daemon_online(bus: Bus, daemon_id: str) -> bool:
    entries = await (await bus.presence()).entries("daemon.")
    return bool(entries.get(f"daemon.{daemon_id}", {}).get("online"))
