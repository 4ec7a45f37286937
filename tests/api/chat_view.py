"""A third-party ConnectRPC client that follows one chat the documented way: it reconnects with the
last seq it saw, keeps the log's updates by seq, and puts the streamed answers together from their
deltas, each identified by (message_id, index, offset), so that a replay shows nothing twice."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict

from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient


@dataclass
class ChatView:
    url: str
    token: str
    chat_id: str
    last_seq: int = 0
    ready: bool = False
    connections: int = 0
    log: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    live: dict[tuple[str, int], str] = field(default_factory=dict)  # (message_id, index) -> text
    deltas: int = 0  # deltas that added text
    repeated: int = 0  # deltas seen again after a reconnect, and dropped
    drop_after: int = 0  # > 0: break the connection after this many new deltas (a flaky network)
    problems: list[str] = field(default_factory=list)

    def apply(self, update: chat_pb2.ChatUpdate) -> None:
        payload = MessageToDict(update.payload)
        if update.seq:
            if update.seq != self.last_seq + 1:
                self.problems.append(f"seq {update.seq} ({update.kind}) after {self.last_seq}")
            self.log.append((update.seq, update.kind, payload))
            self.last_seq = update.seq
        elif update.kind == "block_delta":
            key = (str(payload["message_id"]), int(payload["index"]))
            have = self.live.get(key, "")
            offset = int(payload.get("offset", len(have)))
            text = str(payload["text"])
            if offset + len(text) <= len(have):
                self.repeated += 1
                return
            if offset > len(have):
                self.problems.append(f"a gap in {key}: text from {offset}, {len(have)} known")
                return
            self.live[key] = have[:offset] + text
            self.deltas += 1

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.log]

    def idle(self) -> bool:
        return any(kind == "chat_status" and p.get("status") == "idle" for _, kind, p in self.log)

    def answers(self) -> list[str]:
        """The text of every stored assistant message, as message_completed carried it."""
        return [
            "".join(b.get("text", "") for b in p["message"]["blocks"] if b.get("type") == "text")
            for _, kind, p in self.log
            if kind == "message_completed"
        ]

    async def follow(self) -> None:
        """Follow the chat until cancelled, reconnecting after any break."""
        while True:
            self.connections += 1
            new_deltas = 0
            try:
                async with ChatServiceClient(self.url) as client:
                    request = chat_pb2.StreamUpdatesRequest(chat_id=self.chat_id, since_seq=self.last_seq)
                    headers = {"authorization": f"Bearer {self.token}"}
                    async for update in client.stream_updates(request, headers=headers):
                        if update.kind == "stream_ready":
                            self.ready = True
                            continue
                        before = self.deltas
                        self.apply(update)
                        new_deltas += self.deltas - before
                        if self.drop_after and new_deltas >= self.drop_after:
                            break
            except ConnectError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # the client turns a cancel into a ConnectError
            await asyncio.sleep(0.05)
