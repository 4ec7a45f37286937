"""codec_key: the fingerprint of the key that seals this deployment's Temporal payloads."""

from __future__ import annotations

from reliant.db.database import Database


async def has_table(db: Database) -> bool:
    """False for a database not migrated this far (the worker runs the migrations)."""
    row = await db.fetchrow("SELECT to_regclass('codec_key') IS NOT NULL AS present")
    return bool(row and row["present"])


async def recorded(db: Database) -> str | None:
    """The recorded fingerprint; None when there is none yet (or no table for it)."""
    if not await has_table(db):
        return None
    row = await db.fetchrow("SELECT key_id FROM codec_key")
    return str(row["key_id"]) if row else None


async def record(db: Database, key_id: str) -> tuple[str, bool]:
    """Record `key_id` unless a fingerprint is recorded already: the one recorded, and whether it
    was recorded by this call."""
    made = await db.execute("INSERT INTO codec_key (key_id) VALUES (%s) ON CONFLICT (only_row) DO NOTHING", (key_id,))
    row = await db.fetchrow("SELECT key_id FROM codec_key")
    assert row is not None  # a row is never deleted
    return str(row["key_id"]), made > 0


async def replace(db: Database, old: str, new: str) -> bool:
    """Record `new` in place of `old`; False when `old` is not what is recorded."""
    return await db.execute("UPDATE codec_key SET key_id = %s, recorded_at = now() WHERE key_id = %s", (new, old)) > 0
