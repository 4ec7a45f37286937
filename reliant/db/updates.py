"""chat_updates: the per-chat update log. Each update takes the next `seq` of its chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from reliant.db.database import Database, Row, Tx
from reliant.domain.chat import ChatUpdate

# Reserve n seqs on the chat row and insert the n updates with them, in one statement.
_APPEND = """
WITH s AS (
    UPDATE chats SET last_seq = last_seq + %(n)s, updated_at = now() WHERE id = %(chat)s RETURNING last_seq
)
INSERT INTO chat_updates (chat_id, seq, kind, payload)
SELECT %(chat)s, s.last_seq - %(n)s + u.ord, u.kind, u.payload
FROM s, unnest(%(kinds)s::text[], %(payloads)s::jsonb[]) WITH ORDINALITY AS u(kind, payload, ord)
RETURNING chat_id, seq, kind, payload, created_at
"""


def _update(row: Row) -> ChatUpdate:
    return ChatUpdate(
        chat_id=str(row["chat_id"]),
        seq=int(row["seq"]),
        kind=row["kind"],
        payload=row["payload"],
        created_at=row["created_at"].timestamp(),
    )


async def append(
    db: Database | Tx, chat_id: str, items: Sequence[tuple[str, dict[str, Any]]], *, durable: bool = True
) -> list[ChatUpdate]:
    """Append updates in order; returns them with their seqs. Empty if the chat is gone.

    Inside a Tx the updates commit with the rest of the transaction; otherwise `durable=False`
    commits without waiting for the WAL flush."""
    if not items:
        return []
    params = {
        "n": len(items),
        "chat": chat_id,
        "kinds": [kind for kind, _ in items],
        "payloads": [Jsonb(payload) for _, payload in items],
    }
    if isinstance(db, Tx):
        rows = await db.fetch(_APPEND, params)
    else:
        async with db.connection(durable=durable) as conn:
            cur = await conn.execute(_APPEND, params)
            rows = await cur.fetchall()
    return sorted((_update(r) for r in rows), key=lambda u: u.seq)


async def since(db: Database, chat_id: str, seq: int, limit: int = 5000) -> list[ChatUpdate]:
    rows = await db.fetch(
        "SELECT chat_id, seq, kind, payload, created_at FROM chat_updates"
        " WHERE chat_id = %s AND seq > %s ORDER BY seq LIMIT %s",
        (chat_id, seq, limit),
    )
    return [_update(r) for r in rows]


async def resume_seq(db: Database, chat_id: str) -> int:
    """Where a client that has just listed the stored messages must resume the stream: before the
    answer still streaming (its message_started), or else at the chat's last seq."""
    row = await db.fetchrow(
        "SELECT (SELECT last_seq FROM chats WHERE id = %(chat)s) AS last_seq,"
        " (SELECT seq FROM chat_updates WHERE chat_id = %(chat)s"
        "  AND kind IN ('message_started', 'message_completed', 'message_aborted')"
        "  ORDER BY seq DESC LIMIT 1) AS boundary,"
        " (SELECT kind FROM chat_updates WHERE chat_id = %(chat)s"
        "  AND kind IN ('message_started', 'message_completed', 'message_aborted')"
        "  ORDER BY seq DESC LIMIT 1) AS boundary_kind",
        {"chat": chat_id},
    )
    if row is None or row["last_seq"] is None:
        return 0
    if row["boundary_kind"] == "message_started":
        return int(row["boundary"]) - 1
    return int(row["last_seq"])
