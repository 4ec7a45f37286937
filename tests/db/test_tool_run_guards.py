"""tool_executions state changes are guarded in SQL: a final state is never overwritten, and of two
attempts racing to record a result exactly one does."""

from __future__ import annotations

import asyncio

import pytest

from reliant.db import Database
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import ToolState
from tests.db.test_chat_tables import new_chat


async def executing_call(db: Database) -> str:
    chat = await new_chat(db)
    await tool_runs_db.plan(db, chat, 1, [tool_runs_db.PlannedCall("t", "shell", {"command": "x"}, False, 0)])
    assert await tool_runs_db.begin(db, chat, "t", daemon_boot="boot-1") is not None
    return chat


async def test_two_attempts_recording_at_once_record_one_result(migrated_db: Database) -> None:
    chat = await executing_call(migrated_db)
    async with migrated_db.tx() as first:
        # The first attempt's transaction holds the row; the second waits for it on the row lock.
        won = await tool_runs_db.finish(first, chat, "t", state=ToolState.COMPLETED, output="real")
        assert won is not None
        second = asyncio.create_task(
            tool_runs_db.finish(migrated_db, chat, "t", state=ToolState.COMPLETED, output="again")
        )
        done, _ = await asyncio.wait({second}, timeout=0.3)
        assert not done, "the second attempt must wait for the first's transaction"
    assert await second is None, "the second attempt must see the recorded result and leave it"
    run = await tool_runs_db.get(migrated_db, chat, "t")
    assert run is not None and (run.state, run.output) == (ToolState.COMPLETED, "real")


async def test_many_racing_finishes_record_exactly_one(migrated_db: Database) -> None:
    chat = await executing_call(migrated_db)
    states = [ToolState.COMPLETED, ToolState.INTERRUPTED] * 4
    results = await asyncio.gather(
        *(tool_runs_db.finish(migrated_db, chat, "t", state=s, output=f"#{i}") for i, s in enumerate(states))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await tool_runs_db.get(migrated_db, chat, "t")
    assert stored is not None and (stored.state, stored.output) == (winners[0].state, winners[0].output)


@pytest.mark.parametrize(
    ("first", "late"),
    [(ToolState.INTERRUPTED, ToolState.COMPLETED), (ToolState.COMPLETED, ToolState.INTERRUPTED)],
)
async def test_a_late_finish_never_overwrites_a_final_state(
    migrated_db: Database, first: ToolState, late: ToolState
) -> None:
    chat = await executing_call(migrated_db)
    assert await tool_runs_db.finish(migrated_db, chat, "t", state=first, error="first") is not None
    assert await tool_runs_db.finish(migrated_db, chat, "t", state=late, error="late") is None
    assert await tool_runs_db.begin(migrated_db, chat, "t") is None, "a finished call is never begun again"
    assert not await tool_runs_db.back_to_pending(migrated_db, chat, "t")
    run = await tool_runs_db.get(migrated_db, chat, "t")
    assert run is not None and (run.state, run.error) == (first, "first")


async def test_a_call_that_never_reached_the_daemon_goes_back_to_pending(migrated_db: Database) -> None:
    chat = await executing_call(migrated_db)
    run = await tool_runs_db.get(migrated_db, chat, "t")
    assert run is not None and (run.state, run.daemon_boot) == (ToolState.EXECUTING, "boot-1")
    assert await tool_runs_db.back_to_pending(migrated_db, chat, "t")
    assert not await tool_runs_db.back_to_pending(migrated_db, chat, "t"), "only an executing call"
    again = await tool_runs_db.begin(migrated_db, chat, "t", daemon_boot="boot-2")
    assert again is not None and (again.state, again.attempts, again.daemon_boot) == (ToolState.EXECUTING, 2, "boot-2")
    with pytest.raises(LookupError):
        await tool_runs_db.finish(migrated_db, chat, "nope", state=ToolState.COMPLETED)
