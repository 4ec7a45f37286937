"""A cancel that finds the chat's daemon unreachable: what it could not stop there (the running tool
call, the turn's background processes) is stopped once the daemon is back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.clients import stops
from reliant.clients.daemons import control
from reliant.db import owed_stops as owed_stops_db
from reliant.errors import DaemonUnavailableError
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
from tests.support import RoleRunner, eventually
from tests.worker.agent_env import AgentEnv, agent_env
from tests.worker.test_agents import marked_processes


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AsyncIterator[AgentEnv]:
    async with agent_env(infra, tmp_path) as e:
        yield e


async def unreachable(env: AgentEnv) -> bool:
    try:
        await control(env.bus, env.settings.daemon_id, "workspace.list", {}, timeout=1)
    except DaemonUnavailableError:
        return True
    return False


async def test_what_a_cancel_could_not_stop_on_an_unreachable_daemon_is_stopped_when_it_is_back(
    env: AgentEnv,
) -> None:
    marks = {name: f"reliant-owed-{name}-{uuid.uuid4().hex[:10]}" for name in ("background", "busy")}
    background: dict[str, Any] = {
        "name": "shell",
        "input": {"command": f"export MARK={marks['background']}; sleep 300", "run_in_background": True},
    }
    busy = {"name": "shell", "input": {"command": f"export MARK={marks['busy']}; sleep 300"}}
    chat = await env.new_chat(env.script([{"tools": [background]}, {"tools": [busy]}, {"text": "never"}]))
    await env.chats.send(chat.id, "start a server, then wait")

    def sleeping(name: str) -> bool:
        return any(p.name() == "sleep" for p in marked_processes(marks[name]))

    await eventually(lambda: all(sleeping(n) for n in marks) or None, timeout=60, interval=0.2)
    # The daemon goes on running, but nothing reaches it: its gateway is gone.
    await env.gateway.stop()
    await eventually(lambda: unreachable(env), timeout=30, interval=0.2)
    try:
        await env.chats.cancel(chat.id)
        await env.finished(chat.id, timeout=60)  # a cancel never waits on an unreachable daemon
        assert all(sleeping(n) for n in marks), "the daemon was reachable after all"
        owed = await owed_stops_db.of_daemon(env.db, env.settings.daemon_id)
        assert {(s.chat_id, s.kind) for s in owed} == {(chat.id, "tool"), (chat.id, "background")}, owed

        async with RoleRunner(GatewayRole(env.settings)):  # the daemon reconnects: it is back
            await eventually(lambda: not any(marked_processes(m) for m in marks.values()), timeout=30, interval=0.2)
            await eventually(lambda: _settled(env), timeout=10, interval=0.2)
    finally:
        for mark in marks.values():
            for proc in marked_processes(mark):
                proc.kill()


async def _settled(env: AgentEnv) -> bool:
    return not await owed_stops_db.of_daemon(env.db, env.settings.daemon_id)


async def test_what_is_owed_to_a_daemon_still_away_is_kept_and_a_reachable_one_settles_it(env: AgentEnv) -> None:
    chat_id = str(uuid.uuid4())
    away = f"d-away-{uuid.uuid4().hex[:8]}"  # no such daemon is connected
    for daemon_id in (away, env.settings.daemon_id):
        await owed_stops_db.owe(env.db, daemon_id, chat_id, "tool", ["call_0_0"])
        await owed_stops_db.owe(env.db, daemon_id, chat_id, "background", ["call_0_0", "call_1_0"])

    assert await stops.pay(env.bus, env.db, away) == 0
    assert len(await owed_stops_db.of_daemon(env.db, away)) == 3, "kept for when it is back"
    # A reachable daemon is asked (nothing of these runs there any more) and the stops are settled.
    assert await stops.pay(env.bus, env.db, env.settings.daemon_id) == 3
    assert await _settled(env)
    await owed_stops_db.paid(env.db, away, await owed_stops_db.of_daemon(env.db, away))


async def test_a_chat_deleted_while_its_daemon_is_unreachable_has_its_background_processes_stopped_when_it_is_back(
    env: AgentEnv,
) -> None:
    mark = f"reliant-owed-deleted-{uuid.uuid4().hex[:10]}"
    background = {"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300", "run_in_background": True}}
    chat = await env.new_chat(env.script([{"tools": [background]}, {"text": "a server runs"}]))
    await env.chats.send(chat.id, "start a server")
    await env.finished(chat.id, timeout=60)
    await eventually(lambda: any(p.name() == "sleep" for p in marked_processes(mark)) or None, timeout=30)
    await deleted_while_away_then_stopped(env, chat.id, mark, "background")


async def test_a_chat_deleted_while_its_daemon_is_unreachable_has_its_running_command_cancelled_when_it_is_back(
    env: AgentEnv,
) -> None:
    """Deleting a chat cancels the command it runs on its daemon; with the daemon unreachable that
    was only logged, and `sleep 300` ran on once the daemon was back, for a chat that was no more."""
    mark = f"reliant-owed-deleted-busy-{uuid.uuid4().hex[:10]}"
    busy = {"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300"}}
    chat = await env.new_chat(env.script([{"tools": [busy]}, {"text": "never"}]))
    await env.chats.send(chat.id, "wait")
    await eventually(lambda: any(p.name() == "sleep" for p in marked_processes(mark)) or None, timeout=60)
    await deleted_while_away_then_stopped(env, chat.id, mark, "tool")


async def deleted_while_away_then_stopped(env: AgentEnv, chat_id: str, mark: str, kind: str) -> None:
    """Delete the chat while its daemon runs on unreachable: the process carrying `mark` is owed
    (as `kind`), and gone once the daemon is back."""
    await env.gateway.stop()
    await eventually(lambda: unreachable(env), timeout=30, interval=0.2)
    try:
        await env.chats.delete(chat_id)  # never waits on an unreachable daemon
        assert marked_processes(mark), "the daemon was reachable after all"
        owed = await owed_stops_db.of_daemon(env.db, env.settings.daemon_id)
        assert {(s.chat_id, s.kind) for s in owed} == {(chat_id, kind)}, owed

        async with RoleRunner(GatewayRole(env.settings)):  # the daemon reconnects: it is back
            await eventually(lambda: not marked_processes(mark), timeout=30, interval=0.2)
            await eventually(lambda: _settled(env), timeout=10, interval=0.2)
    finally:
        for proc in marked_processes(mark):
            proc.kill()
