"""Migrations against a database another release of reliant left: an older schema is brought up
to date; one with a migration this release does not know is refused, and nothing is applied."""

from __future__ import annotations

import asyncio

import pytest
from psycopg.types.json import Jsonb

from reliant.db import Database, latest_version, migrate
from reliant.db import chat_contexts as chat_contexts_db
from reliant.db.migrate import MIGRATION_LOCK, available
from reliant.domain.context import ChatContext, context_to_json
from reliant.errors import ReliantError
from tests.support import eventually


async def _versions(db: Database) -> list[int]:
    return [row["version"] for row in await db.fetch("SELECT version FROM schema_migrations ORDER BY version")]


async def test_a_schema_a_newer_reliant_migrated_is_refused_and_left_as_it_is(fresh_db: Database) -> None:
    latest = latest_version()
    await migrate(fresh_db, up_to=latest - 1)
    # A newer release added its migration; this one's last is then missing below it.
    await fresh_db.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (latest + 1, "from_the_future")
    )
    with pytest.raises(ReliantError) as refused:
        await migrate(fresh_db)
    assert str(refused.value) == (
        f"the database schema has migration {latest + 1:04d}_from_the_future, which this reliant does not know"
        f" (it knows up to {latest:04d}): a newer reliant migrated it; run that release or a newer one"
    )
    assert await _versions(fresh_db) == [*range(1, latest), latest + 1]


async def test_a_worker_waiting_for_another_ones_migrations_says_who_it_waits_for(
    fresh_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with fresh_db.connection() as holder:
        await holder.execute("SELECT set_config('application_name', 'reliant-worker-elsewhere', false)")
        holder_pid = (await (await holder.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"]
        await holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        migrating = asyncio.create_task(migrate(fresh_db))
        try:
            await eventually(lambda: "waiting for the migration lock" in caplog.text)
            assert not migrating.done()
            assert f"held by postgres pid {holder_pid} (reliant-worker-elsewhere)" in caplog.text
        finally:
            await holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        assert await asyncio.wait_for(migrating, 30) == [m.version for m in available()]


async def test_a_chats_context_snapshot_from_before_workspaces_is_kept_as_its_workspaces(fresh_db: Database) -> None:
    """0018 keys snapshots by chat and workspace: a row from before is the workspace it names, and
    the chat's other workspaces get their own rows beside it."""
    await migrate(fresh_db, up_to=17)
    project = await fresh_db.fetchrow(
        "INSERT INTO projects (name, daemon_id, path) VALUES ('p', 'd', '/p') RETURNING id"
    )
    assert project is not None
    chat = await fresh_db.fetchrow(
        "INSERT INTO chats (project_id, model) VALUES (%s, 'scripted:demo') RETURNING id", (project["id"],)
    )
    assert chat is not None
    chat_id = str(chat["id"])
    old = ChatContext(workspace="/p", environment=None, checked_paths=("src",), prompt_version=2)
    await fresh_db.execute(
        "INSERT INTO chat_contexts (chat_id, snapshot) VALUES (%s, %s)", (chat_id, Jsonb(context_to_json(old)))
    )

    await migrate(fresh_db)

    assert await chat_contexts_db.get(fresh_db, chat_id, "/p") == old
    agents = ChatContext(workspace="/p/.reliant/worktrees/a", environment=None, prompt_version=2)
    await chat_contexts_db.put(fresh_db, chat_id, agents)
    assert await chat_contexts_db.get(fresh_db, chat_id, "/p") == old
    assert await chat_contexts_db.get(fresh_db, chat_id, agents.workspace) == agents
