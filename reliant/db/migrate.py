"""Versioned SQL migrations, applied in order under an advisory lock so replicas never race.

Files are `NNNN_name.sql` in db/migrations; each runs in its own transaction together with the
row that records it in `schema_migrations`.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from importlib import resources

from reliant.db.database import Connection, Database, DatabaseError

logger = logging.getLogger(__name__)

# pg_advisory_lock key: any constant unique to reliant's migrations.
MIGRATION_LOCK = 0x7E11A47


class SchemaTooNewError(DatabaseError):
    """The database holds a migration this release does not know: a newer reliant migrated it, and
    this code would read and write a schema it was not written for."""

    def __init__(self, version: int, name: str, known: int) -> None:
        self.version = version
        self.name = name
        self.known = known
        super().__init__(
            f"the database schema has migration {version:04d}_{name}, which this reliant does not know"
            f" (it knows up to {known:04d}): a newer reliant migrated it; run that release or a newer one"
        )


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("reliant.db").joinpath("migrations").iterdir():
        match = re.match(r"^(\d{4})_(\w+)\.sql$", entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def latest_version() -> int:
    migrations = available()
    return migrations[-1].version if migrations else 0


async def current_version(db: Database) -> int:
    if not await _has_table(db):
        return 0
    row = await db.fetchrow("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")
    return int(row["v"]) if row else 0


async def _has_table(db: Database) -> bool:
    row = await db.fetchrow("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
    return bool(row and row["present"])


async def _lock(conn: Connection) -> None:
    """Take the migration lock, saying whom this waits for when another session holds it (another
    worker migrating, or a session stuck with it): the wait is otherwise silent for as long as it
    lasts, and the worker not ready."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (MIGRATION_LOCK,))
    row = await cur.fetchone()
    if row and row["taken"]:
        return
    cur = await conn.execute(
        "SELECT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s",
        (MIGRATION_LOCK,),
    )
    holder = await cur.fetchone()
    who = f"postgres pid {holder['pid']} ({holder['application_name'] or 'no application name'})" if holder else "?"
    logger.warning(
        "waiting for the migration lock, held by %s: another worker migrating, or a session that took it", who
    )
    began = time.monotonic()
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    logger.warning("took the migration lock after %.1fs", time.monotonic() - began)


async def migrate(db: Database, *, up_to: int | None = None) -> list[int]:
    """Apply pending migrations (those up to version `up_to`, when given: a database as an older
    release left it); returns the versions applied by this call."""
    applied: list[int] = []
    async with db.connection() as conn:
        await _lock(conn)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            done = {row["version"]: row["name"] for row in await cur.fetchall()}
            known = available()
            unknown = sorted(set(done) - {m.version for m in known})
            if unknown:
                raise SchemaTooNewError(unknown[-1], done[unknown[-1]], known[-1].version if known else 0)
            for migration in known:
                if migration.version in done or (up_to is not None and migration.version > up_to):
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                logger.info("applied migration %04d_%s", migration.version, migration.name)
                applied.append(migration.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
