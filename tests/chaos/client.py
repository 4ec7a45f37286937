"""The api as a client uses it while pieces die under it: REST for projects, chats and messages
(retried through outages, a message re-sent only when it provably did not arrive), and
StreamUpdates, followed live from seq 0 and read again from 0 at the end."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any

from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict

from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient
from tests.e2e.harness import http_json

RETRY_EVERY = 0.25
SEND_TIMEOUT = 75.0  # more than the api's own wait for a database connection (30 s)


class ApiDown(Exception):
    """No answer from the api (refused, reset, timed out) or a 5xx: worth trying again."""


class ApiRefused(Exception):
    """A 4xx: the api understood the request and said no."""

    def __init__(self, method: str, path: str, status: int, doc: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {doc}")
        self.status = status


@dataclass(frozen=True)
class Update:
    seq: int
    kind: str
    payload: dict[str, Any]
    created: float  # when the server made it (created_unix)
    received: float = 0.0  # when this client got it (0 for a read of the log)


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, body: Any = None, timeout: float = 15.0) -> Any:
        try:
            status, doc = await asyncio.to_thread(
                http_json, method, self.url + path, token=self.token, body=body, timeout=timeout
            )
        except (OSError, http.client.HTTPException) as exc:
            raise ApiDown(f"{method} {path}: {exc!r}") from None
        if status >= 500:
            raise ApiDown(f"{method} {path} -> {status}: {doc}")
        if status >= 400:
            raise ApiRefused(method, path, status, doc)
        return doc

    async def call_until(self, method: str, path: str, body: Any = None, *, within: float = 60.0) -> Any:
        """`call`, again while the api is down (an idempotent request only)."""
        deadline = time.monotonic() + within
        while True:
            try:
                return await self.call(method, path, body)
            except ApiDown:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(RETRY_EVERY)

    async def ready(self) -> bool:
        try:
            await self.call("GET", "/ready", timeout=5)
        except (ApiDown, ApiRefused):
            return False
        return True

    async def daemons_online(self) -> int:
        status = await self.call("POST", "/reliant.v1.SystemService/GetStatus", {}, timeout=5)
        return sum(1 for d in status.get("daemons", []) if d.get("online"))

    async def chat(self, chat_id: str) -> dict[str, Any]:
        return dict(await self.call_until("GET", f"/api/chats/{chat_id}"))

    async def messages(self, chat_id: str) -> list[dict[str, Any]]:
        return list(await self.call_until("GET", f"/api/chats/{chat_id}/messages"))

    async def send(self, chat_id: str, text: str, *, within: float) -> None:
        """Send a user message the way a careful client does without an idempotency key: when the
        answer is lost, look whether the message arrived before sending it again."""
        deadline = time.monotonic() + within
        while True:
            try:
                # Long enough for the api to answer even while it waits for a service to come back:
                # a client that gives up while the request still runs cannot know what it did.
                await self.call("POST", f"/api/chats/{chat_id}/messages", {"text": text}, timeout=SEND_TIMEOUT)
                return
            except ApiDown:
                if time.monotonic() > deadline:
                    raise
            while True:  # did it arrive after all?
                try:
                    found = await self.call("GET", f"/api/chats/{chat_id}/messages")
                    break
                except ApiDown:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(RETRY_EVERY)
            if any(m["role"] == "user" and _text(m) == text for m in found):
                return
            await asyncio.sleep(RETRY_EVERY)


def _text(message: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in message.get("blocks", []) if b.get("type") == "text")


def _update(pb: chat_pb2.ChatUpdate, received: float = 0.0) -> Update:
    return Update(pb.seq, pb.kind, MessageToDict(pb.payload), pb.created_unix, received)


@dataclass
class Follower:
    """A live StreamUpdates client of one chat, from seq 0: it keeps one stream open for as long as
    the api lets it, and when the stream breaks it reconnects from the last seq it saw, as the CLI
    and the web UI do."""

    api: Api
    chat_id: str
    received: list[Update] = field(default_factory=list)
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def last_seq(self) -> int:
        return self.received[-1].seq if self.received else 0

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"follow-{self.chat_id}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            try:
                async with ChatServiceClient(self.api.url) as client:
                    request = chat_pb2.StreamUpdatesRequest(chat_id=self.chat_id, since_seq=self.last_seq)
                    async for pb in client.stream_updates(request, headers=self.api.headers):
                        if pb.seq:
                            self.received.append(_update(pb, time.time()))
            except Exception as exc:  # a client keeps trying, whatever broke
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # the client turns a cancel into CANCELED
                self._note(f"{exc.code.name}: {exc.message}" if isinstance(exc, ConnectError) else repr(exc))
            else:
                self._note("the stream ended")
            self.reconnects += 1
            await asyncio.sleep(RETRY_EVERY)

    def _note(self, error: str) -> None:
        if len(self.errors) < 50:
            self.errors.append(error)


async def read_log(api: Api, chat_id: str, last_seq: int, timeout: float = 30.0) -> list[Update]:
    """The chat's updates from seq 0 through `last_seq`, read with StreamUpdates as a client that
    opens the chat does."""
    got: list[Update] = []

    async def read() -> None:
        async with ChatServiceClient(api.url) as client:
            request = chat_pb2.StreamUpdatesRequest(chat_id=chat_id, since_seq=0)
            async for pb in client.stream_updates(request, headers=api.headers):
                if pb.seq:
                    got.append(_update(pb))
                if pb.seq >= last_seq:
                    return

    if last_seq > 0:
        await asyncio.wait_for(read(), timeout)
    return got


def describe(update: Update) -> str:
    return f"#{update.seq} {update.kind} {json.dumps(update.payload, sort_keys=True)[:120]}"
