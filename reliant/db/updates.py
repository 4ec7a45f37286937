"""chat_updates: the per-chat update log. Each update takes the next `seq` of its chat, in a commit
that waits for the WAL flush: a seq a client has seen is never reused after a crash."""

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


async def append(db: Database | Tx, chat_id: str, items: Sequence[tuple[str, dict[str, Any]]]) -> list[ChatUpdate]:
    """Append updates in order; returns them with their seqs. Empty if the chat is gone.

    Inside a Tx the updates commit with the rest of the transaction."""
    if not items:
        return []
    params = {
        "n": len(items),
        "chat": chat_id,
        "kinds": [kind for kind, _ in items],
        "payloads": [Jsonb(payload) for _, payload in items],
    }
    rows = await db.fetch(_APPEND, params)
    return sorted((_update(r) for r in rows), key=lambda u: u.seq)


async def since(db: Database, chat_id: str, seq: int, limit: int = 5000) -> list[ChatUpdate]:
    rows = await db.fetch(
        "SELECT chat_id, seq, kind, payload, created_at FROM chat_updates"
        " WHERE chat_id = %s AND seq > %s ORDER BY seq LIMIT %s",
        (chat_id, seq, limit),
    )
    return [_update(r) for r in rows]


async def last_seq(db: Database, chat_id: str) -> int | None:
    """The chat's last seq; None if the chat is gone."""
    row = await db.fetchrow("SELECT last_seq FROM chats WHERE id = %s", (chat_id,))
    return None if row is None else int(row["last_seq"])


async def resume_seq(db: Database, chat_id: str) -> int:
    """Where a client that has just listed the stored messages must resume the stream: at the
    chat's last seq (an answer still streaming is not in the log: the stream replays it from the
    chat's live tail)."""
    return await last_seq(db, chat_id) or 0
