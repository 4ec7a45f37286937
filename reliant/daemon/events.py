"""Events the daemon publishes through its gateway, in order, from synchronous callbacks too.

A daemon part hands (subject, payload) to an EventSender; one task sends them, in the order given,
through the connection (`reliant.daemon.<id>.out.<subject>` on NATS). While the daemon is not
connected events are dropped: whatever must survive that is re-sent when it reconnects (see
`proc.sync`). Binary output events are frames: 8 bytes big-endian offset, then the bytes.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Publish = Callable[[str, bytes], Awaitable[None]]
FRAME_HEADER = struct.Struct(">Q")
MAX_QUEUED = 10_000


def frame(offset: int, data: bytes) -> bytes:
    return FRAME_HEADER.pack(offset) + data


def unframe(payload: bytes) -> tuple[int, bytes]:
    (offset,) = FRAME_HEADER.unpack_from(payload)
    return offset, payload[FRAME_HEADER.size :]


class EventSender:
    def __init__(self, publish: Publish | None = None) -> None:
        self.publish = publish
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def send(self, subject: str, payload: bytes) -> None:
        """Queue an event (from any code on the event loop's thread); never blocks."""
        if self.publish is None:
            return
        try:
            self._queue.put_nowait((subject, payload))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="daemon-events")

    async def _run(self) -> None:
        while True:
            subject, payload = await self._queue.get()
            publish = self.publish
            try:
                if publish is not None:
                    await publish(subject, payload)
            except Exception as exc:  # noqa: BLE001 - a lost event is recovered on reconnect
                logger.debug("could not publish %s: %s", subject, exc)
            finally:
                self._queue.task_done()

    async def flush(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until every queued event has been handed on."""
        if self._task is None or self._task.done():
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            logger.debug("%d events not sent before shutdown", self._queue.qsize())

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
