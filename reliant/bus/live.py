"""The live tail of each chat: the answers its models are streaming right now, kept in one JetStream
stream so that a client that (re)connects in the middle of an answer is shown it from its start.

A chat may stream several answers at once (a workflow's parallel branches, its sub-agents): each
has a subject of its own, keyed by its model step's turn, and a client follows them all together.

It is bounded: an answer's subject keeps at most MAX_PER_ANSWER messages and none older than
MAX_AGE, the whole stream at most MAX_BYTES (the oldest go first). An answer's subject is purged
when it is stored or dropped (and when it is streamed again, by a retry), every answer of a chat
when the chat is deleted, so a finished answer leaves nothing here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Protocol

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import api as js_api

from reliant.bus.client import BusError, Handler
from reliant.bus.subjects import ALL_CHATS_LIVE, LIVE_STREAM, chat_live, chat_live_all

logger = logging.getLogger(__name__)

MAX_AGE = 3600.0  # seconds: an answer streams for minutes, not hours
MAX_PER_ANSWER = 20_000  # messages per answer; deltas that pile up while one is published go out as one
MAX_BYTES = 256 * 1024 * 1024
PUBLISH_TIMEOUT = 2.0
_STREAM_NAME_IN_USE = 10058  # JetStream's code for "exists with another configuration"

_CONFIG = js_api.StreamConfig(
    name=LIVE_STREAM,  # with the deployment's name and subjects: see LiveTail
    description="reliant: the answers each chat is streaming, replayed to clients that reconnect",
    subjects=[ALL_CHATS_LIVE],
    retention=js_api.RetentionPolicy.LIMITS,
    storage=js_api.StorageType.FILE,
    discard=js_api.DiscardPolicy.OLD,
    max_age=MAX_AGE,
    max_msgs_per_subject=MAX_PER_ANSWER,
    max_bytes=MAX_BYTES,
    num_replicas=1,
)

_ERRORS = (nats.errors.Error, TimeoutError, OSError)


class Names(Protocol):
    """How a deployment names its subjects and streams (the Bus)."""

    def subject(self, subject: str) -> str: ...
    def name(self, name: str) -> str: ...


class LiveFollower:
    """A subscription to one chat's live tail (all its answers); `stop` ends it."""

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

    def __init__(self, nc: NatsClient, names: Names, *, replicas: int = 1) -> None:
        self._js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
        self._ready = False
        self._lock = asyncio.Lock()
        self._names = names
        self._stream = names.name(LIVE_STREAM)
        self._config = dataclasses.replace(
            _CONFIG, name=self._stream, subjects=[names.subject(ALL_CHATS_LIVE)], num_replicas=replicas
        )

    def _subject(self, chat_id: str, turn: int | None) -> str:
        """One answer's subject, or (turn None) a wildcard over all the chat's answers."""
        return self._names.subject(chat_live_all(chat_id) if turn is None else chat_live(chat_id, turn))

    async def _ensure(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            try:
                try:
                    await self._js.add_stream(self._config)
                except nats.js.errors.BadRequestError as exc:
                    if exc.err_code != _STREAM_NAME_IN_USE:
                        raise
                    await self._js.update_stream(self._config)  # made by a version with other limits or subjects
            except _ERRORS as exc:
                raise BusError(
                    f"cannot set up the JetStream stream {self._stream}: {exc or type(exc).__name__}"
                ) from exc
            self._ready = True

    async def publish(self, chat_id: str, turn: int, data: bytes) -> None:
        """Append to the live tail of the chat's answer of `turn`; returns once JetStream has stored it."""
        await self._ensure()
        try:
            await self._js.publish(self._subject(chat_id, turn), data, timeout=PUBLISH_TIMEOUT, stream=self._stream)
        except _ERRORS as exc:
            raise BusError(f"live update of chat {chat_id} not stored: {exc or type(exc).__name__}") from exc

    async def purge(self, chat_id: str, turn: int | None = None) -> None:
        """Forget the live tail of the chat's answer of `turn` (stored or dropped, or streamed again),
        or of all its answers (turn None: the chat is gone)."""
        await self._ensure()
        try:
            await self._js.purge_stream(self._stream, subject=self._subject(chat_id, turn))
        except _ERRORS as exc:
            raise BusError(f"live tail of chat {chat_id} not purged: {exc or type(exc).__name__}") from exc

    async def follow(self, chat_id: str, handler: Handler) -> LiveFollower:
        """Every message of the chat's live tail, all its answers, in the order they were stored: those
        kept now, then new ones as they come. An ordered consumer: after a lost message or a reconnect
        it resumes where it was."""
        await self._ensure()
        try:
            subscription = await self._js.subscribe(
                self._subject(chat_id, None),
                stream=self._stream,
                cb=handler,
                ordered_consumer=True,
                deliver_policy=js_api.DeliverPolicy.ALL,
            )
        except _ERRORS as exc:
            raise BusError(f"cannot follow the live tail of chat {chat_id}: {exc or type(exc).__name__}") from exc
        return LiveFollower(subscription)
