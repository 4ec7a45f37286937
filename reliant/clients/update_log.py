"""The chat update log, and the live tail of the answer being streamed.

The log: every update is appended to Postgres, which assigns its per-chat seq in the same durable
commit as the state change it describes, then published on NATS for live subscribers. Postgres is
the source of truth; NATS is the fast path. A seq is only ever shown to a client once it is on
disk, so a crash of Postgres can never hand the same seq to different content.

The live tail: while a model streams an answer, its progress (message_started, block_started,
block_delta) goes to a JetStream stream instead, with no seq and no row, on a subject of the
answer's own (its model step's turn: parallel branches and sub-agents stream side by side): a
client (re)connecting mid-answer is replayed every answer so far, each delta identified by
(message_id, index, offset). The stored answer's message_completed carries the whole content, so
an answer's tail is purged once it is stored (or dropped): a finished answer leaves nothing behind,
and the others streaming beside it are left as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from reliant.bus import Bus, BusError, subjects
from reliant.db import Database, Tx
from reliant.db import updates as db_updates
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import ChatUpdate
from reliant.wire import updates as wire_updates

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0  # how long the end of an answer waits for its last live updates to be stored


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

    async def emit_many(self, chat_id: str, items: Sequence[tuple[str, dict[str, Any]]]) -> list[ChatUpdate]:
        for kind, _ in items:
            if kind in kinds.LIVE:
                raise ValueError(f"{kind} belongs to the live tail (LiveAnswer), not the log")
        updates = await db_updates.append(self.db, chat_id, items)
        await self._publish(chat_id, updates)
        return updates

    async def _publish(self, chat_id: str, updates: list[ChatUpdate]) -> None:
        subject = subjects.chat_updates(chat_id)
        for update in updates:
            await self.bus.publish(subject, wire_updates.encode(update))
        for turn in sorted({t for u in updates if (t := ended_turn(u)) is not None}):
            await clear_live_tail(self.bus, chat_id, turn)


def ended_turn(update: ChatUpdate) -> int | None:
    """The turn of the answer an update says is stored or dropped (None: it ends none)."""
    if update.kind not in kinds.ENDS_ANSWER:
        return None
    if update.kind == kinds.MESSAGE_COMPLETED:
        turn = (update.payload.get("message") or {}).get("turn")
    else:
        turn = update.payload.get("turn")
    return int(turn) if isinstance(turn, int) and turn >= 0 else None


async def clear_live_tail(bus: Bus, chat_id: str, turn: int | None = None) -> None:
    """Purge the live tail of the chat's answer of `turn` (None: all its answers). A failure only
    leaves it to expire (streams skip finished answers)."""
    try:
        await bus.live.purge(chat_id, turn)
    except BusError as exc:
        logger.warning("chat %s: %s (it expires on its own)", chat_id, exc)


class Change:
    """State writes and the updates that describe them, committed in one transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.items: list[tuple[str, dict[str, Any]]] = []

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        self.items.append((kind, payload))


class LiveAnswer:
    """One assistant answer as the model streams it, on its own subject of the chat's live tail
    (its turn's), in order.

    The calls return at once; a single writer task publishes whatever piled up while the previous
    publish was in flight, and a run of deltas to the same block goes out as one delta, so a burst
    of tokens costs one round trip, not one each. `offset` is where a delta's text starts in its
        if self._fresh:  # a first attempt's tail is new: nothing of it to clear
            try:
                await self._bus.live.purge(self._chat_id, self._turn)
            except BusError as exc:
                self._failed(exc)
    """

    def __init__(
        self,
        bus: Bus,
        chat_id: str,
        *,
        message_id: str,
        turn: int,
        attempt: int,
        model: str,
        where: dict[str, str] | None = None,
    ) -> None:
        """`where`: more of message_started's fields (a workflow node's call: its step and thread)."""
        self._bus = bus
        self._chat_id = chat_id
        self._turn = turn
        self.message_id = message_id
        self._lengths: dict[int, int] = {}
        self._pending: list[tuple[str, dict[str, Any], float]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._failures = 0
        self._fresh = attempt > 1  # an earlier attempt may have left part of this answer
        started = {"message_id": message_id, "turn": turn, "attempt": attempt, "model": model}
        self._put(kinds.MESSAGE_STARTED, started | (where or {}))
        self._task = asyncio.create_task(self._run(), name=f"live:{chat_id}")

    def block_started(self, index: int, block_type: str, *, tool_call_id: str = "", tool_name: str = "") -> None:
        payload: dict[str, Any] = {"message_id": self.message_id, "index": index, "type": block_type}
        if tool_call_id:
            payload |= {"tool_call_id": tool_call_id, "tool_name": tool_name}
        self._put(kinds.BLOCK_STARTED, payload)

    def delta(self, index: int, block_type: str, text: str) -> None:
        if not text:
            return
        offset = self._lengths.get(index, 0)
        self._lengths[index] = offset + len(text)
        if self._pending:
            kind, last, _ = self._pending[-1]
            if kind == kinds.BLOCK_DELTA and last["index"] == index:
                last["text"] += text  # not sent yet: one delta instead of two
                return
        self._put(
            kinds.BLOCK_DELTA,
            {"message_id": self.message_id, "index": index, "type": block_type, "offset": offset, "text": text},
        )

    def _put(self, kind: str, payload: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("the answer is closed")
        self._pending.append((kind, payload, time.time()))
        self._wake.set()

    async def _run(self) -> None:
        if self._fresh:  # a first attempt's tail is new: nothing of it to clear
            try:
                await self._bus.live.purge(self._chat_id, self._turn)
            except BusError as exc:
                self._failed(exc)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                for kind, payload, at in batch:
                    update = ChatUpdate(self._chat_id, 0, kind, payload, at)
                    try:
                        await self._bus.live.publish(self._chat_id, self._turn, wire_updates.encode(update))
                    except BusError as exc:
                        self._failed(exc)
            if self._closed:
                return

    def _failed(self, exc: BusError) -> None:
        self._failures += 1
        log = logger.warning if self._failures == 1 else logger.debug
        log("chat %s: %s; clients see the answer when it is stored", self._chat_id, exc)

    async def close(self) -> None:
        """Publish everything put so far (for at most CLOSE_TIMEOUT), then stop."""
        self._closed = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_TIMEOUT)
        except TimeoutError:
            logger.warning("chat %s: live updates still unpublished after %gs; dropped", self._chat_id, CLOSE_TIMEOUT)
            await self.abort()

    async def abort(self) -> None:
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
