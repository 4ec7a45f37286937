"""The live tail of each chat: the answer its model is streaming right now, kept in one JetStream
stream so that a client that (re)connects in the middle of an answer is shown it from its start.

It is bounded: a chat's subject keeps at most MAX_PER_CHAT messages and none older than MAX_AGE,
the whole stream at most MAX_BYTES (the oldest go first). A chat's subject is purged when its
answer is stored or dropped, and when the chat is deleted, so a finished answer leaves nothing here.
"""

from __future__ import annotations

import asyncio
import logging

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import api as js_api

from reliant.bus.client import BusError, Handler
from reliant.bus.subjects import ALL_CHATS_LIVE, LIVE_STREAM, chat_live

logger = logging.getLogger(__name__)

MAX_AGE = 3600.0  # seconds: an answer streams for minutes, not hours
MAX_PER_CHAT = 20_000  # messages per chat; deltas that pile up while one is published go out as one
MAX_BYTES = 256 * 1024 * 1024
PUBLISH_TIMEOUT = 2.0
_STREAM_NAME_IN_USE = 10058  # JetStream's code for "exists with another configuration"

_CONFIG = js_api.StreamConfig(
    name=LIVE_STREAM,
    description="reliant: the answer each chat is streaming, replayed to clients that reconnect",
    subjects=[ALL_CHATS_LIVE],
    retention=js_api.RetentionPolicy.LIMITS,
    storage=js_api.StorageType.FILE,
    discard=js_api.DiscardPolicy.OLD,
    max_age=MAX_AGE,
    max_msgs_per_subject=MAX_PER_CHAT,
    max_bytes=MAX_BYTES,
    num_replicas=1,
)

_ERRORS = (nats.errors.Error, TimeoutError, OSError)


class LiveFollower:
    """A subscription to one chat's live tail; `stop` ends it."""

    def __init__(self, subscription: object) -> None:
        self._subscription = subscription

    async def stop(self) -> None:
        try:
            await self._subscription.unsubscribe()  # type: ignore[attr-defined]
        except _ERRORS as exc:
            logger.debug("live tail: unsubscribe failed: %s", exc)


class LiveTail:
    """Publish to, replay and purge chats' live tails. The stream is created on first use by
    whichever role gets there first (the same configuration from every role is a no-op)."""

    def __init__(self, nc: NatsClient) -> None:
        self._js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
        self._ready = False
        self._lock = asyncio.Lock()

    async def _ensure(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            try:
                try:
                    await self._js.add_stream(_CONFIG)
                except nats.js.errors.BadRequestError as exc:
                    if exc.err_code != _STREAM_NAME_IN_USE:
                        raise
                    await self._js.update_stream(_CONFIG)  # made by a version with other limits
            except _ERRORS as exc:
                raise BusError(
                    f"cannot set up the JetStream stream {LIVE_STREAM}: {exc or type(exc).__name__}"
                ) from exc
            self._ready = True

    async def publish(self, chat_id: str, data: bytes) -> None:
        """Append to the chat's live tail; returns once JetStream has stored it."""
        await self._ensure()
        try:
            await self._js.publish(chat_live(chat_id), data, timeout=PUBLISH_TIMEOUT, stream=LIVE_STREAM)
        except _ERRORS as exc:
            raise BusError(f"live update of chat {chat_id} not stored: {exc or type(exc).__name__}") from exc

    async def purge(self, chat_id: str) -> None:
        """Forget the chat's live tail (its answer is stored or dropped, or the chat is gone)."""
        await self._ensure()
        try:
            await self._js.purge_stream(LIVE_STREAM, subject=chat_live(chat_id))
        except _ERRORS as exc:
            raise BusError(f"live tail of chat {chat_id} not purged: {exc or type(exc).__name__}") from exc

    async def follow(self, chat_id: str, handler: Handler) -> LiveFollower:
        """Every message of the chat's live tail in order: those kept now, then new ones as they come.
        An ordered consumer: after a lost message or a reconnect it resumes where it was."""
        await self._ensure()
        try:
            subscription = await self._js.subscribe(
                chat_live(chat_id),
                stream=LIVE_STREAM,
                cb=handler,
                ordered_consumer=True,
                deliver_policy=js_api.DeliverPolicy.ALL,
            )
        except _ERRORS as exc:
            raise BusError(f"cannot follow the live tail of chat {chat_id}: {exc or type(exc).__name__}") from exc
        return LiveFollower(subscription)
