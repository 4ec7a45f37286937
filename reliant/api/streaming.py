"""StreamUpdates: catch-up from Postgres, then live updates from NATS, in seq order, no gap, no
duplicate; and the answer being streamed, from the chat's live tail.

The log. We subscribe to NATS before reading Postgres, so nothing published in between is missed;
anything already read is dropped by seq. Publishers for one chat can race (a tool and the api, say),
so live updates may arrive out of order: we hold them back briefly and, if the gap persists, fill it
from Postgres, where every update is committed before it is published. A publisher can also die
between its commit and its publish: when no update has come for TAIL_CHECK, we ask Postgres for the
chat's last seq and fetch whatever NATS never brought.

The live tail (seq 0: message_started, block_started, block_delta) comes from a JetStream consumer
that first replays the answer in progress, then follows it. An answer whose turn is already over
(stored or dropped) is skipped: its message_completed carries it whole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from reliant.bus import Bus, BusError, Incoming, LiveFollower, subjects
from reliant.db import Database
from reliant.db import messages as messages_db
from reliant.db import updates as updates_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import ChatUpdate, Role
from reliant.wire import updates as wire_updates

logger = logging.getLogger(__name__)

GAP_WAIT = 0.05  # how long an out-of-order update waits for the one before it
TAIL_CHECK = 1.0  # after this long without an update, ask Postgres whether one was never published
KEEPALIVE = 10.0  # an idle stream still sends something, so a gone client is noticed
PAGE = 2000

# Markers outside the chat's log (seq 0): "caught up" after the catch-up, and keep-alives.
READY = "stream_ready"
KEEPALIVE_KIND = "keepalive"


class StreamHub:
    """The update streams this api has open, so that shutting down ends them at once (clients
    reconnect) instead of holding the server's graceful shutdown until it times out."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Any]] = set()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        for queue in self._queues:
            queue.put_nowait(None)

    def track(self, queue: asyncio.Queue[Any]) -> None:
        """Put a None in `queue` when the api shuts down (at once if it has); forget it with `untrack`."""
        self._queues.add(queue)
        if self.closed:
            queue.put_nowait(None)

    def untrack(self, queue: asyncio.Queue[Any]) -> None:
        self._queues.discard(queue)


class AnswerFilter:
    """Which live updates to pass on: none of an answer whose turn is over."""

    def __init__(self, db: Database, chat_id: str) -> None:
        self._db = db
        self._chat_id = chat_id
        self._turn_of: dict[str, int] = {}  # message_id -> turn
        self._over: set[int] = set()  # turns stored or dropped

    def saw(self, update: ChatUpdate) -> None:
        """Note a log update."""
        if update.kind == kinds.MESSAGE_COMPLETED:
            stored_turn = (update.payload.get("message") or {}).get("turn")
            if stored_turn is not None:
                self._over.add(int(stored_turn))
        elif update.kind == kinds.MESSAGE_ABORTED:
            self._over.add(int(update.payload.get("turn", 0)))

    async def admit(self, update: ChatUpdate) -> bool:
        message_id = str(update.payload.get("message_id", ""))
        if update.kind == kinds.MESSAGE_STARTED:
            started = int(update.payload.get("turn", 0))
            self._turn_of[message_id] = started
            if started not in self._over and await messages_db.for_turn(
                self._db, self._chat_id, started, Role.ASSISTANT
            ):
                self._over.add(started)  # finished before this stream saw its message_completed
            return started not in self._over
        turn = self._turn_of.get(message_id)
        return turn is None or turn not in self._over


async def stream_updates(
    db: Database, bus: Bus, chat_id: str, since_seq: int, hub: StreamHub | None = None
) -> AsyncIterator[ChatUpdate]:
    arrivals: asyncio.Queue[ChatUpdate | None] = asyncio.Queue()

    async def on_message(msg: Incoming) -> None:
        arrivals.put_nowait(wire_updates.decode(msg.data))

    hub = hub or StreamHub()
    if hub.closed:
        return
    subscription = await bus.subscribe(subjects.chat_updates(chat_id), on_message)
    hub.track(arrivals)
    follower: LiveFollower | None = None
    try:
        try:
            follower = await bus.live.follow(chat_id, on_message)
        except BusError as exc:  # the log still flows; answers show when they are stored
            logger.warning("chat %s: streaming without the live tail: %s", chat_id, exc)
        answers = AnswerFilter(db, chat_id)
        last = since_seq
        while True:
            page = await updates_db.since(db, chat_id, last, PAGE)
            for update in page:
                answers.saw(update)
                yield update
                last = update.seq
            if len(page) < PAGE:
                break
        yield ChatUpdate(chat_id, 0, READY, {"last_seq": last}, time.time())

        held: dict[int, ChatUpdate] = {}
        clock = asyncio.get_running_loop().time
        tail_check_at = clock() + TAIL_CHECK
        keepalive_at = clock() + KEEPALIVE
        while True:
            if not held and clock() >= tail_check_at:
                latest = await updates_db.last_seq(db, chat_id)
                if latest is None:
                    return  # the chat was deleted
                if latest > last:  # committed, never published: its publisher died
                    for missing in await updates_db.since(db, chat_id, last, PAGE):
                        answers.saw(missing)
                        yield missing
                        last = missing.seq
                        keepalive_at = clock() + KEEPALIVE
                tail_check_at = clock() + TAIL_CHECK
            if clock() >= keepalive_at:
                yield ChatUpdate(chat_id, 0, KEEPALIVE_KIND, {"last_seq": last}, time.time())
                keepalive_at = clock() + KEEPALIVE
            wait = GAP_WAIT if held else max(0.0, min(tail_check_at, keepalive_at) - clock())
            try:
                incoming = await asyncio.wait_for(arrivals.get(), wait)
            except TimeoutError:
                if held:  # the gap persists: fill it from Postgres
                    for missing in await updates_db.since(db, chat_id, last, PAGE):
                        answers.saw(missing)
                        yield missing
                        last = missing.seq
                        keepalive_at = clock() + KEEPALIVE
                    held = {seq: u for seq, u in held.items() if seq > last}
                continue
            if incoming is None:
                return  # the api is shutting down
            update = incoming
            if not update.seq:  # the live tail
                if await answers.admit(update):
                    yield update
                    keepalive_at = clock() + KEEPALIVE
                continue
            tail_check_at = clock() + TAIL_CHECK  # the log's publishers are alive
            if update.seq <= last:
                continue
            held[update.seq] = update
            while last + 1 in held:
                ready = held.pop(last + 1)
                answers.saw(ready)
                yield ready
                last = ready.seq
                keepalive_at = clock() + KEEPALIVE
    finally:
        hub.untrack(arrivals)
        if follower is not None:
            await follower.stop()
        await subscription.unsubscribe()
