"""activity_attempts: the activity attempts each worker incarnation is running, so that the next
worker to start can fail those of a worker that died (see worker/attempts.py)."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.db.database import Database

APPLICATION_NAME_PREFIX = "reliant-worker "


def application_name(worker: str) -> str:
    """The application_name of every database session of worker incarnation `worker`: while one
    of them is open, the incarnation is alive."""
    return APPLICATION_NAME_PREFIX + worker


@dataclass(frozen=True, slots=True)
class Attempt:
    task_token: bytes
    worker: str
    workflow_id: str
    run_id: str
    activity_type: str


async def _unflushed(db: Database, sql: str, params: tuple[object, ...]) -> None:
    """Run `sql` in a transaction whose commit does not wait for the WAL flush (the hot path does
    not pay a flush for a row whose loss costs nothing)."""
    async with db.transaction() as conn:
        await conn.execute("SET LOCAL synchronous_commit = off")
        await conn.execute(sql, params)


async def record(db: Database, attempt: Attempt) -> None:
    """Written flushed, beside the attempt (not before it): an unflushed row, lost to a power cut
    in its first few hundred milliseconds, would leave that attempt to its heartbeat timeout."""
    await db.execute(
        "INSERT INTO activity_attempts (task_token, worker, workflow_id, run_id, activity_type)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (task_token) DO NOTHING",
        (attempt.task_token, attempt.worker, attempt.workflow_id, attempt.run_id, attempt.activity_type),
    )


async def forget(db: Database, task_token: bytes) -> None:
    # A lost forget only has the next worker fail an attempt that is over: Temporal refuses that.
    await _unflushed(db, "DELETE FROM activity_attempts WHERE task_token = %s", (task_token,))


async def of_dead_workers(db: Database, alive: str) -> list[Attempt]:
    """Attempts of worker incarnations other than `alive` that have no open database session."""
    rows = await db.fetch(
        "SELECT task_token, worker, workflow_id, run_id, activity_type FROM activity_attempts a"
        " WHERE a.worker <> %s AND NOT EXISTS ("
        "   SELECT 1 FROM pg_stat_activity s WHERE s.application_name = %s || a.worker)"
        " ORDER BY started_at",
        (alive, APPLICATION_NAME_PREFIX),
    )
    return [
        Attempt(bytes(r["task_token"]), r["worker"], r["workflow_id"], r["run_id"], r["activity_type"]) for r in rows
    ]
