"""StreamUpdates: catch-up from Postgres, then live updates from NATS, in seq order, no gap, no duplicate.

We subscribe to NATS before reading Postgres, so nothing published in between is missed; anything
already read is dropped by seq. Publishers for one chat can race (a tool and the api, say), so live
updates may arrive out of order: we hold them back briefly and, if the gap persists, fill it from
Postgres, where every update is committed before it is published.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from reliant.bus import Bus, Incoming, subjects
from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.db import updates as updates_db
from reliant.domain.chat import ChatUpdate
from reliant.wire import updates as wire_updates

GAP_WAIT = 0.05  # how long an out-of-order update waits for the one before it
KEEPALIVE = 10.0  # an idle stream still sends something, so a gone client is noticed
PAGE = 2000

# Markers outside the chat's log (seq 0): "caught up" after the catch-up, and keep-alives.
READY = "stream_ready"
KEEPALIVE_KIND = "keepalive"


class StreamHub:
    """The update streams this api has open, so that shutting down ends them at once (clients
    reconnect) instead of holding the server's graceful shutdown until it times out."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[ChatUpdate | None]] = set()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        for queue in self._queues:
            queue.put_nowait(None)

    def track(self, queue: asyncio.Queue[ChatUpdate | None]) -> None:
        """Put a None in `queue` when the api shuts down; forget it with `untrack`."""
        self._queues.add(queue)

    def untrack(self, queue: asyncio.Queue[ChatUpdate | None]) -> None:
        self._queues.discard(queue)


async def stream_updates(
    db: Database, bus: Bus, chat_id: str, since_seq: int, hub: StreamHub | None = None
) -> AsyncIterator[ChatUpdate]:
    live: asyncio.Queue[ChatUpdate | None] = asyncio.Queue()

    async def on_message(msg: Incoming) -> None:
        live.put_nowait(wire_updates.decode(msg.data))

    hub = hub or StreamHub()
    if hub.closed:
        return
    subscription = await bus.subscribe(subjects.chat_updates(chat_id), on_message)
    hub.track(live)
    try:
        last = since_seq
        while True:
            page = await updates_db.since(db, chat_id, last, PAGE)
            for update in page:
                yield update
                last = update.seq
            if len(page) < PAGE:
                break
        yield ChatUpdate(chat_id, 0, READY, {"last_seq": last}, time.time())

        held: dict[int, ChatUpdate] = {}
        while True:
            try:
                incoming = await asyncio.wait_for(live.get(), GAP_WAIT if held else KEEPALIVE)
            except TimeoutError:
                if held:
                    for missing in await updates_db.since(db, chat_id, last, PAGE):
                        yield missing
                        last = missing.seq
                    held = {seq: u for seq, u in held.items() if seq > last}
                else:
                    if await chats_db.get(db, chat_id) is None:
                        return  # the chat was deleted
                    yield ChatUpdate(chat_id, 0, KEEPALIVE_KIND, {"last_seq": last}, time.time())
                continue
            if incoming is None:
                return  # the api is shutting down
            update = incoming
            if update.seq <= last:
                continue
            held[update.seq] = update
            while last + 1 in held:
                ready = held.pop(last + 1)
                yield ready
                last = ready.seq
    finally:
        hub.untrack(live)
        await subscription.unsubscribe()
