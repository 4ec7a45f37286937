"""stream_updates: catch-up then live, in order, with gaps filled from Postgres and nothing twice;
and the answer in progress from the chat's live tail, replayed from its start to a late client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import nats.js.errors
import pytest

from reliant.api.streaming import READY, stream_updates
from reliant.bus import Bus, subjects
from reliant.bus.live import MAX_AGE, MAX_PER_ANSWER
from reliant.clients.update_log import LiveAnswer, UpdateLog
from reliant.db import Database
from reliant.db import messages as messages_db
from reliant.db import updates as updates_db
from reliant.domain.chat import ChatUpdate, ContentBlock, Role
from reliant.wire import updates as wire_updates
from tests.conftest import Infra, eventually
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
        await log.emit(chat, "chat_updated", {"title": f"t{i}"})

    reader = asyncio.create_task(collect(migrated_db, session_bus, chat, 3, 60))

    async def producer(name: str) -> None:
        for i in range(25):
            await log.emit(chat, "chat_updated", {"title": f"{name}{i}"})

    await asyncio.gather(producer("a"), producer("b"))  # two publishers racing: out of order on NATS
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

    async def produce() -> None:
        for i in range(200):
            await log.emit(chat, "chat_updated", {"title": f"d{i}"})

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


async def test_the_log_refuses_the_kinds_of_the_live_tail(migrated_db: Database, session_bus: Bus) -> None:
    chat = await new_chat(migrated_db)
    with pytest.raises(ValueError, match="live tail"):
        await UpdateLog(migrated_db, session_bus).emit(chat, "block_delta", {"text": "x"})
    assert await updates_db.since(migrated_db, chat, 0) == []


# -- the live tail -------------------------------------------------------------------------------


class Client:
    """A stream_updates consumer in a task: what it has been sent so far."""

    def __init__(self, db: Database, bus: Bus, chat: str, since: int) -> None:
        self.updates: list[ChatUpdate] = []
        self.ready = asyncio.Event()
        self._stream = stream_updates(db, bus, chat, since)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for update in self._stream:
            if update.kind == READY:
                self.ready.set()
            elif update.kind != "keepalive":
                self.updates.append(update)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def kinds(self) -> list[str]:
        return [u.kind for u in self.updates]

    def text(self, message_id: str, index: int = 0) -> str:
        """The block's text put together by (offset, text), the way a client is told to."""
        text = ""
        for u in self.updates:
            p = u.payload
            if u.kind == "block_delta" and p["message_id"] == message_id and p["index"] == index:
                assert p["offset"] == len(text), f"delta at {p['offset']} after {len(text)} code points"
                text += p["text"]
        return text


async def tail_is_empty(infra: Infra, chat: str, turn: int = 1) -> bool:
    nc = await nats.connect(infra.nats_url, token=infra.nats_token)
    try:
        await nc.jetstream().get_last_msg(subjects.LIVE_STREAM, subjects.chat_live(chat, turn))
    except nats.js.errors.NotFoundError:
        return True
    finally:
        await nc.close()
    return False


@pytest.fixture
async def chat(migrated_db: Database) -> AsyncIterator[str]:
    yield await new_chat(migrated_db)


async def test_an_answer_in_progress_is_replayed_to_a_client_that_connects_late(
    migrated_db: Database, session_bus: Bus, infra: Infra, chat: str
) -> None:
    log = UpdateLog(migrated_db, session_bus)
    await log.emit(chat, "chat_status", {"status": "running", "reason": ""})
    answer = LiveAnswer(session_bus, chat, message_id="m1", turn=1, attempt=1, model="scripted:demo")
    answer.block_started(0, "text")
    for word in ("Grüße ", "from ", "🌍 "):  # offsets count code points, whatever a character's size
        answer.delta(0, "text", word)
    await answer.close()

    late = Client(migrated_db, session_bus, chat, since=1)  # it has the log; the answer is replayed
    await eventually(lambda: len(late.updates) == 3)  # the three deltas went out as one
    await late.close()
    assert late.kinds() == ["message_started", "block_started", "block_delta"]
    assert late.text("m1") == "Grüße from 🌍 "
    assert all(u.seq == 0 for u in late.updates)
    assert not await tail_is_empty(infra, chat)  # in progress: kept


async def test_a_late_client_sees_the_replay_then_the_rest_live_then_the_stored_answer(
    migrated_db: Database, session_bus: Bus, infra: Infra, chat: str
) -> None:
    log = UpdateLog(migrated_db, session_bus)
    answer = LiveAnswer(session_bus, chat, message_id="m1", turn=1, attempt=1, model="scripted:demo")
    answer.block_started(0, "text")
    words = [f"w{i} " for i in range(40)]
    for word in words[:20]:
        answer.delta(0, "text", word)
        await asyncio.sleep(0)
    late = Client(migrated_db, session_bus, chat, since=0)
    await asyncio.wait_for(late.ready.wait(), 10)
    for word in words[20:]:
        answer.delta(0, "text", word)
        await asyncio.sleep(0)
    await answer.close()
    message, _ = await messages_db.store_turn(
        migrated_db, chat, turn=1, role=Role.ASSISTANT, blocks=[ContentBlock.of_text("".join(words))]
    )
    await log.emit(chat, "message_completed", {"message": {"id": message.id, "turn": 1, "blocks": []}})

    await eventually(lambda: "message_completed" in late.kinds())
    await late.close()
    kinds = late.kinds()
    assert kinds[:2] == ["message_started", "block_started"]
    assert late.text("m1") == "".join(words)  # every word once, in order
    assert kinds[-1] == "message_completed"
    assert await tail_is_empty(infra, chat), "the stored answer's tail must be purged"


async def test_a_finished_answer_left_in_the_tail_is_not_replayed(
    migrated_db: Database, session_bus: Bus, chat: str
) -> None:
    # The worker stored turn 1 and died before purging its tail.
    old = LiveAnswer(session_bus, chat, message_id="old", turn=1, attempt=1, model="scripted:demo")
    old.delta(0, "text", "stale")
    await old.close()
    await messages_db.store_turn(migrated_db, chat, turn=1, role=Role.ASSISTANT, blocks=[ContentBlock.of_text("ok")])
    client = Client(migrated_db, session_bus, chat, since=0)
    await asyncio.wait_for(client.ready.wait(), 10)
    # The next answer, appended behind it (no purge): once the client has it, it has been offered the old one.
    for kind, payload in [
        ("message_started", {"message_id": "new", "turn": 2, "attempt": 1, "model": "scripted:demo"}),
        ("block_delta", {"message_id": "new", "index": 0, "type": "text", "offset": 0, "text": "fresh"}),
    ]:
        await session_bus.live.publish(
            chat,
            2,
            wire_updates.encode(ChatUpdate(chat, 0, kind, payload, 0.0)),
        )
    await eventually(lambda: client.text("new") == "fresh")
    await client.close()
    assert {u.payload["message_id"] for u in client.updates} == {"new"}


async def test_a_burst_of_deltas_goes_out_as_few_messages_with_exact_offsets(
    migrated_db: Database, session_bus: Bus, chat: str
) -> None:
    client = Client(migrated_db, session_bus, chat, since=0)
    await asyncio.wait_for(client.ready.wait(), 10)
    answer = LiveAnswer(session_bus, chat, message_id="m", turn=1, attempt=1, model="scripted:demo")
    for i in range(500):  # no await in between: they pile up while the first publish is in flight
        answer.delta(0 if i < 250 else 1, "thinking" if i < 250 else "text", f"t{i} ")
        if i == 249:
            answer.block_started(1, "text")
    await answer.close()

    await eventually(lambda: client.text("m", 1) == "".join(f"t{i} " for i in range(250, 500)))
    await client.close()
    assert client.text("m", 0) == "".join(f"t{i} " for i in range(250))
    assert len([u for u in client.updates if u.kind == "block_delta"]) < 20


async def test_the_live_tail_is_bounded(session_bus: Bus, infra: Infra, chat: str) -> None:
    await session_bus.live.purge(chat)  # sets the stream up
    nc = await nats.connect(infra.nats_url, token=infra.nats_token)
    try:
        info = await nc.jetstream().stream_info(subjects.LIVE_STREAM)
    finally:
        await nc.close()
    assert info.config.max_age == MAX_AGE and info.config.max_msgs_per_subject == MAX_PER_ANSWER
    assert info.config.max_bytes and info.config.max_bytes > 0
    assert info.config.subjects == [subjects.ALL_CHATS_LIVE]


async def test_two_answers_streaming_at_once_are_each_replayed_and_each_purged_when_it_ends(
    migrated_db: Database, session_bus: Bus, infra: Infra, chat: str
) -> None:
    # Two parallel branches (or two agents) of one chat stream their answers side by side.
    log = UpdateLog(migrated_db, session_bus)
    left = LiveAnswer(session_bus, chat, message_id="left", turn=1, attempt=1, model="scripted:demo")
    right = LiveAnswer(session_bus, chat, message_id="right", turn=2, attempt=1, model="scripted:demo")
    for answer in (left, right):
        answer.block_started(0, "text")
    for i in range(10):
        left.delta(0, "text", f"l{i} ")
        right.delta(0, "text", f"r{i} ")
        await asyncio.sleep(0)
    late = Client(migrated_db, session_bus, chat, since=0)
    await eventually(lambda: late.text("left") == "".join(f"l{i} " for i in range(10)))
    await eventually(lambda: late.text("right") == "".join(f"r{i} " for i in range(10)))
    await left.close()
    message, _ = await messages_db.store_turn(
        migrated_db, chat, turn=1, role=Role.ASSISTANT, blocks=[ContentBlock.of_text("left done")]
    )
    await log.emit(chat, "message_completed", {"message": {"id": message.id, "turn": 1, "blocks": []}})
    assert await tail_is_empty(infra, chat, 1), "the stored answer's tail is purged"
    assert not await tail_is_empty(infra, chat, 2), "the other answer, still streaming, is kept"

    later = Client(migrated_db, session_bus, chat, since=0)  # after one answer ended, before the other
    await eventually(lambda: later.text("right") == "".join(f"r{i} " for i in range(10)))
    for i in range(10, 15):
        right.delta(0, "text", f"r{i} ")
    await right.close()
    everything = "".join(f"r{i} " for i in range(15))
    await eventually(lambda: late.text("right") == everything and later.text("right") == everything)
    await late.close()
    await later.close()
    assert [u.payload["message_id"] for u in late.updates if u.kind == "message_started"] == ["left", "right"]
    assert [u.payload["message_id"] for u in later.updates if u.kind == "message_started"] == ["right"]
    assert [u.kind for u in later.updates if u.seq] == ["message_completed"]
    assert "left" not in {u.payload.get("message_id") for u in later.updates if not u.seq}
    await session_bus.live.purge(chat)  # the chat is gone: every answer's tail
    assert await tail_is_empty(infra, chat, 2)


async def test_a_stream_made_for_one_answer_per_chat_is_moved_to_an_answer_per_subject(
    session_bus: Bus, infra: Infra, chat: str
) -> None:
    # A data dir from before answers had subjects of their own: the stream is updated in place.
    from reliant.bus.live import LiveTail

    nc = await nats.connect(infra.nats_url, token=infra.nats_token)
    try:
        js = nc.jetstream()
        name = f"OLD_LIVE_{chat[:8]}"
        await js.add_stream(name=name, subjects=[f"old{chat[:8]}.chat.*.live"], max_msgs_per_subject=20_000)

        class Old:
            def subject(self, subject: str) -> str:
                return f"old{chat[:8]}" + subject.removeprefix(subjects.PREFIX)

            def name(self, _: str) -> str:
                return name

        tail = LiveTail(nc, Old())
        await tail.publish(chat, 3, b"x")
        info = await js.stream_info(name)
        assert info.config.subjects == [f"old{chat[:8]}.chat.*.live.*"] and info.state.messages == 1
        await js.delete_stream(name)
    finally:
        await nc.close()
