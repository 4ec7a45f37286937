"""abandon_spawn: a spawn_agent call whose run was stopped before it started the agent's workflow
ends interrupted; an agent recorded for it is cancelled, and none is recorded for it after."""

from __future__ import annotations

import uuid

import pytest

from reliant.bus import Bus
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import UpdateLog
from reliant.config import Settings
from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import updates as updates_db
from reliant.domain.agents import AgentLimits, AgentStatus
from reliant.domain.chat import ToolState
from reliant.worker.activities.agents import AgentActivities
from reliant.worker.activities.types import AbandonSpawnInput
from tests.db.test_chat_tables import new_chat


def spawn_call(key: str) -> tool_runs_db.PlannedCall:
    return tool_runs_db.PlannedCall(key, "spawn_agent", {"task": "t"}, True, 0, key=key)


def agent_for(chat: str, key: str) -> agents_db.NewAgent:
    return agents_db.NewAgent(
        id=str(uuid.uuid4()),
        chat_id=chat,
        parent_id="",
        call_key=key,
        depth=1,
        name=key,
        task="t",
        workflow="agent",
        model="scripted:demo",
        thread_mode="new",
    )


async def test_an_agent_recorded_before_the_stop_is_cancelled_and_none_is_recorded_after(
    migrated_db: Database, session_bus: Bus
) -> None:
    chat = await new_chat(migrated_db)
    await tool_runs_db.plan(migrated_db, chat, 1, [spawn_call("call_early"), spawn_call("call_late")])
    activities = AgentActivities(
        migrated_db, session_bus, UpdateLog(migrated_db, session_bus), ProviderPool(migrated_db, Settings())
    )
    early, created = await agents_db.create(migrated_db, agent_for(chat, "call_early"), AgentLimits())
    assert created and early.status is AgentStatus.RUNNING

    for key in ("call_early", "call_late"):
        await activities.abandon_spawn(AbandonSpawnInput(chat, key, "cancelled by the user"))
    await activities.abandon_spawn(AbandonSpawnInput(chat, "call_early", "again"))  # a retry changes nothing

    [agent] = await agents_db.for_chat(migrated_db, chat)
    assert (agent.id, agent.status) == (early.id, AgentStatus.CANCELLED)
    assert agent.error == "cancelled by the user before it started"
    runs = await tool_runs_db.for_chat(migrated_db, chat)
    assert {k: (r.state, r.error) for k, r in runs.items()} == {
        k: (ToolState.INTERRUPTED, "cancelled by the user: the agent was not started")
        for k in ("call_early", "call_late")
    }
    # begin_agent_tool's attempt that read the call before the stop records no agent after it.
    with pytest.raises(agents_db.CallEnded):
        await agents_db.create(migrated_db, agent_for(chat, "call_late"), AgentLimits())
    assert [a.id for a in await agents_db.for_chat(migrated_db, chat)] == [early.id]
    kinds = [u.kind for u in await updates_db.since(migrated_db, chat, 0)]
    assert kinds == ["tool_finished", "agent_finished", "tool_finished"]
