"""An open StreamUpdates client gets an update that reached Postgres but never NATS (its publisher
died between the commit and the publish), on its own and within seconds, with no later update to
reveal the gap."""

from __future__ import annotations

import asyncio

from reliant.db import Database
from reliant.db import updates as updates_db
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient
from tests.api.conftest import ApiEnv
from tests.conftest import eventually
from tests.db.test_chat_tables import new_chat


async def test_an_update_committed_but_never_published_reaches_an_open_stream(
    api_env: ApiEnv, migrated_db: Database
) -> None:
    chat = await new_chat(migrated_db)
    seen: list[tuple[int, str, str]] = []
    ready = asyncio.Event()

    async def watch() -> None:
        async with ChatServiceClient(api_env.url) as client:
            request = chat_pb2.StreamUpdatesRequest(chat_id=chat, since_seq=0)
            async for update in client.stream_updates(request, headers=api_env.headers):
                if update.kind == "stream_ready":
                    ready.set()
                elif update.seq:
                    seen.append((update.seq, update.kind, update.payload["reason"]))

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        # What a worker killed right after its commit leaves behind: the update is stored, nobody publishes it.
        [lost] = await updates_db.append(migrated_db, chat, [("chat_status", {"status": "idle", "reason": "done"})])
        # No later update reveals the gap, and the next keepalive is 10 s away.
        await eventually(lambda: seen, timeout=5)
        assert seen == [(lost.seq, "chat_status", "done")]
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
