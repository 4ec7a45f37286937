"""Losing Postgres: statements fail within about a second with DatabaseUnavailableError (not after
the pool's timeout), and the same Database works again as soon as the server is back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import embedded
from reliant.db import Database, DatabaseError, DatabaseRefusedError, DatabaseUnavailableError
from tests.conftest import Infra, service_configs
from tests.support import eventually


async def test_a_stopped_postgres_fails_fast_as_unavailable_and_is_used_again_when_back(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path)
    server = await embedded.start_postgres(cfg)
    db = await Database.open(server.url, min_size=1)
    try:
        assert await db.fetchrow("SELECT 1 AS one") == {"one": 1}
        await server.stop()
        for _ in range(3):
            began = time.monotonic()
            with pytest.raises(DatabaseUnavailableError) as info:
                await db.fetch("SELECT 1")
            assert time.monotonic() - began < 5, "failed only after the pool timeout"
            assert "postgres is unreachable" in str(info.value) and "***" in str(info.value)
            assert not db.reachable
        server = await embedded.start_postgres(cfg)
        assert await eventually(lambda: db.fetchrow("SELECT 2 AS two"), timeout=10) == {"two": 2}
        assert db.reachable
    finally:
        await db.close()
        await server.stop()


async def test_a_failing_statement_is_not_an_outage(migrated_db: Database) -> None:
    with pytest.raises(Exception) as info:
        await migrated_db.fetch("SELECT * FROM no_such_table")
    assert not isinstance(info.value, DatabaseError)
    assert migrated_db.reachable


async def test_an_open_cancelled_while_it_waits_for_postgres_leaves_no_pool_task_behind() -> None:
    """A split role's preflight bounds Database.open with wait_for: a cancel that came before the
    pool's own timeout left its workers pending, and the role's output ended in asyncio's
    "Task was destroyed but it is pending!" lines."""
    import asyncio

    from embedded.ports import free_port

    dead = f"postgresql://reliant:x@127.0.0.1:{free_port()}/reliant"
    before = asyncio.all_tasks()  # the session's own pools have theirs
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(Database.open(dead, min_size=1, max_size=1, timeout=30), 0.5)
    left = [t.get_name() for t in asyncio.all_tasks() - before if not t.done()]
    assert left == []


async def test_a_postgres_that_refuses_the_password_is_named_at_once_not_waited_out(infra: Infra) -> None:
    """A refusal is no outage: waiting does not change the password."""
    wrong = infra.database_url.replace(f":{infra.services.postgres.config.password}@", ":not-the-password@")
    assert wrong != infra.database_url
    began = time.monotonic()
    with pytest.raises(DatabaseRefusedError) as info:
        await Database.open(wrong, min_size=1, timeout=10)
    assert time.monotonic() - began < 3
    assert 'password authentication failed for user "reliant"' in str(info.value)
    assert "not-the-password" not in str(info.value)
