"""stream_updates: catch-up then live, in order, with gaps filled from Postgres and nothing twice."""

from __future__ import annotations

import asyncio

from reliant.api.streaming import READY, stream_updates
from reliant.bus import Bus, subjects
from reliant.clients.update_log import OrderedEmitter, UpdateLog
from reliant.db import Database
from reliant.db import updates as updates_db
from reliant.wire import updates as wire_updates
from tests.db.test_chat_tables import new_chat


async def collect(db: Database, bus: Bus, chat: str, since: int, until_seq: int) -> list[int]:
    seen: list[int] = []
    async for update in stream_updates(db, bus, chat, since):
        if update.seq:
            seen.append(update.seq)
        if update.seq >= until_seq:
            break
    return seen


async def test_catch_up_then_live_without_gap_or_duplicate(migrated_db: Database, session_bus: Bus) -> None:
    chat = await new_chat(migrated_db)
    log = UpdateLog(migrated_db, session_bus)
    for i in range(10):
        await log.emit(chat, "block_delta", {"text": f"t{i}"})

    reader = asyncio.create_task(collect(migrated_db, session_bus, chat, 3, 60))
    emitter = OrderedEmitter(log, chat)
    for i in range(50):
        emitter.put("block_delta", {"text": f"live{i}"})
        if i % 7 == 0:
            await asyncio.sleep(0.001)
    await emitter.close()
    assert await asyncio.wait_for(reader, 10) == list(range(4, 61))


async def test_a_gap_in_live_updates_is_filled_from_postgres(migrated_db: Database, session_bus: Bus) -> None:
    chat = await new_chat(migrated_db)
    log = UpdateLog(migrated_db, session_bus)
    await log.emit(chat, "a", {})
    stream = stream_updates(migrated_db, session_bus, chat, 0)
    assert (await anext(stream)).seq == 1
    assert (await anext(stream)).kind == READY
    # seq 2 is committed but its publisher is slow; seq 3 is published first.
    silent = await updates_db.append(migrated_db, chat, [("slow", {})])
    loud = await updates_db.append(migrated_db, chat, [("fast", {})])
    await session_bus.publish(subjects.chat_updates(chat), wire_updates.encode(loud[0]))
    got = [await asyncio.wait_for(anext(stream), 5), await asyncio.wait_for(anext(stream), 5)]
    assert [(u.seq, u.kind) for u in got] == [(silent[0].seq, "slow"), (loud[0].seq, "fast")]
    await session_bus.publish(subjects.chat_updates(chat), wire_updates.encode(silent[0]))  # late: dropped
    await log.emit(chat, "after", {})
    assert (await asyncio.wait_for(anext(stream), 5)).kind == "after"
    await stream.aclose()


async def test_reconnecting_with_since_seq_sees_every_update_once(migrated_db: Database, session_bus: Bus) -> None:
    chat = await new_chat(migrated_db)
    log = UpdateLog(migrated_db, session_bus)
    emitter = OrderedEmitter(log, chat)

    async def produce() -> None:
        for i in range(200):
            emitter.put("block_delta", {"text": f"d{i}"})
            await asyncio.sleep(0)
        await emitter.close()

    producer = asyncio.create_task(produce())
    seen: list[int] = []
    last = 0
    while last < 200:
        # Drop the connection every ~30 updates, as a flaky network would.
        stream = stream_updates(migrated_db, session_bus, chat, last)
        async for update in stream:
            if update.seq:
                seen.append(update.seq)
                last = update.seq
            if (update.seq and update.seq % 30 == 0) or last >= 200:
                break
        await stream.aclose()
    await producer
    assert seen == list(range(1, 201))
