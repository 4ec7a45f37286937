"""doctor_runs: what `reliant doctor` measured."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from reliant.db.database import Database, Row
from reliant.domain.doctor import DoctorDaemonResult


async def record(db: Database, workflow_id: str, result: DoctorDaemonResult) -> int:
    row = await db.fetchrow(
        "INSERT INTO doctor_runs (workflow_id, daemon_id, ok, error, hops, total_ms)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            workflow_id,
            result.daemon_id,
            result.ok,
            result.error,
            Jsonb([{"name": h.name, "ms": h.ms} for h in result.hops]),
            result.total_ms,
        ),
    )
    assert row is not None
    return int(row["id"])


async def recent(db: Database, limit: int = 20) -> list[Row]:
    return await db.fetch(
        "SELECT id, workflow_id, daemon_id, ok, error, hops, total_ms, created_at"
        " FROM doctor_runs ORDER BY id DESC LIMIT %s",
        (limit,),
    )
