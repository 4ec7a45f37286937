"""settings: values written through the api, layered over each role's own configuration."""

from __future__ import annotations

from reliant.db.database import Database


async def all_values(db: Database) -> dict[str, str]:
    rows = await db.fetch("SELECT key, value FROM settings")
    return {r["key"]: r["value"] for r in rows}


async def put(db: Database, values: dict[str, str]) -> None:
    """Set the given keys; an empty value removes the key (back to the role's own configuration)."""
    async with db.transaction() as conn:
        for key, value in values.items():
            if value:
                await conn.execute(
                    "INSERT INTO settings (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
                    (key, value),
                )
            else:
                await conn.execute("DELETE FROM settings WHERE key = %s", (key,))
