"""An agent's end against its spawner continuing as new: the agents table orders the two."""

from __future__ import annotations

import asyncio
import uuid

from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.domain.agents import AgentLimits, AgentStatus
from tests.db.test_chat_tables import new_chat


async def new_agent(db: Database, chat_id: str, key: str) -> str:
    agent_id = str(uuid.uuid4())
    new = agents_db.NewAgent(agent_id, chat_id, "", key, 1, key, "t", "agent", "", "new")
    async with db.tx() as tx:
        await agents_db.create(tx, new, AgentLimits())
    return agent_id


async def end(db: Database, agent_id: str) -> agents_db.AgentEnd:
    async with db.tx() as tx:
        return await agents_db.finish(tx, agent_id, AgentStatus.DONE, text="ok", outputs={}, error="")


async def test_an_agent_reports_its_end_only_if_asked_before_it_ended_and_a_retry_reports_the_same(
    migrated_db: Database,
) -> None:
    db = migrated_db
    chat_id = await new_chat(db)
    asked, unasked, ended_first = [await new_agent(db, chat_id, k) for k in ("a", "b", "c")]
    assert await end(db, ended_first) == agents_db.AgentEnd(changed=True, report=False)
    async with db.tx() as tx:  # the spawner continues as new
        await agents_db.report_ends(tx, chat_id, [asked, ended_first])
    assert await end(db, asked) == agents_db.AgentEnd(changed=True, report=True)
    assert await end(db, asked) == agents_db.AgentEnd(changed=False, report=True), "a retry of its end"
    assert await end(db, unasked) == agents_db.AgentEnd(changed=True, report=False)
    assert await end(db, ended_first) == agents_db.AgentEnd(changed=False, report=False)


async def test_an_end_racing_the_ask_either_reads_the_ask_or_comes_first(migrated_db: Database) -> None:
    """The ask waits on the end's row lock, or the end on the ask's: never both miss each other."""
    db = migrated_db
    chat_id = await new_chat(db)
    for round_ in range(20):
        agent_id = await new_agent(db, chat_id, f"r{round_}")
        async with db.tx() as ask:
            await agents_db.report_ends(ask, chat_id, [agent_id])
            ending = asyncio.create_task(end(db, agent_id))  # blocks on the ask's lock
            await asyncio.sleep(0.02)
            assert not ending.done()
        assert (await ending).report, "the end came after the ask: it reports"
