"""Postgres crashes in the middle of a streamed answer and loses what it had not yet written to its
WAL. A client that saw seq N must never be handed a different update under the same N afterwards
(it would skip it): every update a client is shown under a seq is one that survives the crash."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from embedded import PostgresConfig, start_postgres
from embedded.ports import free_port
from reliant.db import Database
from reliant.db import updates as updates_db
from tests.api.chat_view import ChatView
from tests.conftest import Infra, eventually
from tests.worker.agent_env import agent_env


async def test_a_client_that_saw_seq_n_never_skips_a_new_n_after_postgres_crashes(infra: Infra, tmp_path: Path) -> None:
    cfg = PostgresConfig(
        cluster_dir=tmp_path / "pg", log_path=tmp_path / "pg.log", port=free_port(), password="crash-test"
    )
    server = await start_postgres(cfg)
    try:
        # The WAL writer runs at most every 10 s: a commit that does not wait for its WAL flush stays in
        # Postgres' memory that long, and an immediate shutdown (what a crash looks like) drops it.
        admin = await Database.open(server.url, min_size=1)
        try:
            await admin.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
            await admin.execute("SELECT pg_reload_conf()")
        finally:
            await admin.close()
        async with agent_env(infra, tmp_path, database_url=server.url, api_port=free_port()) as env:
            words = [f"w{i}" for i in range(40)]
            chat = await env.new_chat(env.script([{"text": " ".join(words), "delay_ms": 25}]))
            view = ChatView(f"http://127.0.0.1:{env.settings.api_port}", env.settings.api_token, chat.id)
            follower = asyncio.create_task(view.follow())
            try:
                await eventually(lambda: view.ready)
                await env.chats.send(chat.id, "talk")
                # Some deltas seen: live ones, or (as earlier versions sent them) ones in the log.
                await eventually(lambda: view.deltas + view.kinds().count("block_delta") >= 5, timeout=30)
                os.kill(server.pid, signal.SIGQUIT)  # immediate shutdown: no WAL is written on the way out
                await eventually(lambda: not server.running, timeout=10)
                server = await start_postgres(cfg)
                await eventually(view.idle, timeout=60)
                stored = await eventually(lambda: updates_db.since(env.db, chat.id, 0, 100_000), timeout=30)
            finally:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)
            assert view.problems == []
            assert view.log == [(u.seq, u.kind, u.payload) for u in stored]
            assert view.answers() == [" ".join(words)]
            for (_, _), text in view.live.items():
                assert " ".join(words).startswith(text), text  # nothing shown twice or out of place
    finally:
        await server.stop()
