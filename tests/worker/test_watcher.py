"""A chat paused "daemon offline" resumes when its daemon is back, also when the daemon's online
event came just before the pause was committed (so that event found nothing to resume)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reliant.bus import Incoming, subjects
from reliant.daemon.role import DaemonRole
from reliant.db import chats as chats_db
from reliant.db import projects as projects_db
from reliant.domain.chat import ChatStatus
from tests.conftest import Infra
from tests.support import RoleRunner, eventually
from tests.worker.agent_env import AgentEnv, agent_env


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AsyncIterator[AgentEnv]:
    async with agent_env(infra, tmp_path) as e:
        yield e


async def _pause_waits_on_a_lock(env: AgentEnv) -> bool:
    row = await env.db.fetchrow(
        "SELECT count(*) AS n FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE chats SET status =%%'"
    )
    return bool(row and row["n"])


async def test_a_pause_committed_just_after_the_daemon_came_back_is_resumed(
    env: AgentEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reliant.worker.watcher")
    model = env.script([{"tools": [{"name": "shell", "input": {"command": "echo hi > out.txt"}}]}, {"text": "ok"}])
    chat = await env.new_chat(model)
    await env.daemon_runner.stop()
    await env.chats.send(chat.id, "write a file")

    async def running() -> bool:
        return any(u.kind == "chat_status" and u.payload["status"] == "running" for u in await env.updates(chat.id))

    await eventually(running, timeout=30)
    online: list[bool] = []

    async def seen(msg: Incoming) -> None:
        online.append(bool(json.loads(msg.data).get("online")))

    watch = await env.bus.subscribe(subjects.daemon_online(env.settings.daemon_id), seen)
    marker_daemon, marker_chat = await _marker_chat(env)
    daemon = RoleRunner(DaemonRole(env.settings))
    try:
        async with env.db.tx() as tx:
            # Hold the chat's row: the pause (the model step failed, the daemon being offline) waits.
            await tx.execute("SELECT id FROM chats WHERE id = %s FOR UPDATE", (chat.id,))
            await eventually(lambda: _pause_waits_on_a_lock(env), timeout=30)
            await daemon.__aenter__()
            await eventually(lambda: True in online, timeout=30)
            # The watcher handles presence events in order: once it has handled this later one (of
            # another daemon, whose chat it then fails to resume), it has handled the real one, and
            # found nothing paused.
            await env.bus.publish_json(subjects.daemon_online(marker_daemon), {"online": True})
            await eventually(lambda: f"could not resume chat {marker_chat}" in caplog.text, timeout=30)
            assert (await env.chats.chat(chat.id)).status is ChatStatus.RUNNING
        # The lock is gone: the pause commits now, after the daemon's online event.
        await env.finished(chat.id, timeout=30)
    finally:
        await daemon.stop()
        await watch.unsubscribe()
    assert (env.workspace / "out.txt").read_text() == "hi\n"


async def _marker_chat(env: AgentEnv) -> tuple[str, str]:
    """A chat of another daemon, paused "daemon offline" (it has no workflow to resume)."""
    daemon_id = f"d-marker-{uuid.uuid4().hex[:6]}"
    project = await projects_db.create(env.db, name="marker", daemon_id=daemon_id, path="/nowhere")
    chat = await chats_db.create(env.db, project_id=project.id, model="scripted:demo")
    await chats_db.set_status(env.db, chat.id, ChatStatus.PAUSED, "daemon offline: marker")
    return daemon_id, chat.id
