"""The chat update log: every update is appended to Postgres (which assigns its per-chat seq) and
then published on NATS for live subscribers. Postgres is the source of truth; NATS is the fast path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from reliant.bus import Bus, subjects
from reliant.db import Database, Tx
from reliant.db import updates as db_updates
from reliant.domain.chat import ChatUpdate
from reliant.domain.update_kinds import EPHEMERAL
from reliant.wire import updates as wire_updates

logger = logging.getLogger(__name__)


class UpdateLog:
    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def emit(self, chat_id: str, kind: str, payload: dict[str, Any]) -> ChatUpdate | None:
        updates = await self.emit_many(chat_id, [(kind, payload)])
        return updates[0] if updates else None

    @asynccontextmanager
    async def change(self, chat_id: str) -> AsyncIterator[Change]:
        """`async with log.change(chat) as c:` write state through `c.tx` and `c.emit(...)` updates;
        both commit together (one WAL flush), then the updates are published."""
        async with self.db.tx() as tx:
            change = Change(tx)
            yield change
            updates = await db_updates.append(tx, chat_id, change.items)
        await self._publish(chat_id, updates)

    async def _publish(self, chat_id: str, updates: list[ChatUpdate]) -> None:
        subject = subjects.chat_updates(chat_id)
        for update in updates:
            await self.bus.publish(subject, wire_updates.encode(update))

    async def emit_many(self, chat_id: str, items: Sequence[tuple[str, dict[str, Any]]]) -> list[ChatUpdate]:
        durable = any(kind not in EPHEMERAL for kind, _ in items)
        updates = await db_updates.append(self.db, chat_id, items, durable=durable)
        await self._publish(chat_id, updates)
        return updates


class Change:
    """State writes and the updates that describe them, committed in one transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.items: list[tuple[str, dict[str, Any]]] = []

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.items.append((kind, payload))


class OrderedEmitter:
    """Emits one chat's updates in order without making the producer wait for each write.

    `put` returns at once; a single writer task appends whatever piled up while the previous write
    was in flight as one batch, so a burst of token deltas costs one round trip, not one each.
    """

    def __init__(self, log: UpdateLog, chat_id: str) -> None:
        self._log = log
        self._chat_id = chat_id
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name=f"updates:{chat_id}")

    def put(self, kind: str, payload: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("emitter is closed")
        self._pending.append((kind, payload))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                await self._log.emit_many(self._chat_id, batch)
            if self._closed:
                return

    async def close(self) -> None:
        """Write everything put so far, then stop."""
        self._closed = True
        self._wake.set()
        await self._task

    async def abort(self) -> None:
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
