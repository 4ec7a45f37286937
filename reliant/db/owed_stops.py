"""owed_stops: what a cancel could not stop on an unreachable daemon, kept until the daemon is back.

A row is a tool call to cancel (`TOOL`) or a call whose background processes to kill (`BACKGROUND`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from reliant.db.database import Queries

TOOL = "tool"
BACKGROUND = "background"


@dataclass(frozen=True, slots=True)
class OwedStop:
    daemon_id: str
    chat_id: str
    kind: str
    call_key: str


async def owe(db: Queries, daemon_id: str, chat_id: str, kind: str, keys: Collection[str]) -> None:
    if not keys:
        return
    await db.execute(
        "INSERT INTO owed_stops (daemon_id, chat_id, kind, call_key)"
        " SELECT %s, %s, %s, k FROM unnest(%s::text[]) AS k ON CONFLICT DO NOTHING",
        (daemon_id, chat_id, kind, sorted(keys)),
    )


async def of_daemon(db: Queries, daemon_id: str) -> list[OwedStop]:
    rows = await db.fetch(
        "SELECT daemon_id, chat_id, kind, call_key FROM owed_stops WHERE daemon_id = %s ORDER BY created_at",
        (daemon_id,),
    )
    return [OwedStop(r["daemon_id"], r["chat_id"], r["kind"], r["call_key"]) for r in rows]


async def daemons(db: Queries) -> list[str]:
    """The daemons owed a stop."""
    return [r["daemon_id"] for r in await db.fetch("SELECT DISTINCT daemon_id FROM owed_stops ORDER BY daemon_id")]


async def paid(db: Queries, daemon_id: str, stops: Collection[OwedStop]) -> None:
    if not stops:
        return
    await db.execute(
        "DELETE FROM owed_stops o USING unnest(%s::text[], %s::text[], %s::text[]) AS p(chat_id, kind, call_key)"
        " WHERE o.daemon_id = %s AND o.chat_id = p.chat_id AND o.kind = p.kind AND o.call_key = p.call_key",
        ([s.chat_id for s in stops], [s.kind for s in stops], [s.call_key for s in stops], daemon_id),
    )
