from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from reliant.db import Database
from tests.conftest import Infra


@pytest.fixture
async def fresh_db(infra: Infra, migrated_db: Database) -> AsyncIterator[Database]:
    """An empty database of its own on the shared server."""
    name = f"upgrade_{uuid.uuid4().hex[:10]}"
    await migrated_db.execute(f"CREATE DATABASE {name}")
    db = await Database.open(infra.database_url.rsplit("/", 1)[0] + f"/{name}", min_size=1)
    try:
        yield db
    finally:
        await db.close()
        await migrated_db.execute(f"DROP DATABASE {name} WITH (FORCE)")
