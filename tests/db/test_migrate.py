"""Migrations against a database another release of reliant left: an older schema is brought up
to date; one with a migration this release does not know is refused, and nothing is applied."""

from __future__ import annotations

import pytest

from reliant.db import Database, latest_version, migrate
from reliant.errors import ReliantError


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
