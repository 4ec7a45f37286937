"""chat_contexts: each chat's snapshot of its environment and instruction files."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from reliant.db.database import Queries
from reliant.domain.context import ChatContext, context_from_json, context_to_json


async def get(db: Queries, chat_id: str) -> ChatContext | None:
    row = await db.fetchrow("SELECT snapshot FROM chat_contexts WHERE chat_id = %s", (chat_id,))
    return context_from_json(row["snapshot"]) if row else None


async def put(db: Queries, chat_id: str, context: ChatContext) -> None:
    await db.execute(
        "INSERT INTO chat_contexts (chat_id, snapshot) VALUES (%s, %s)"
        " ON CONFLICT (chat_id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = now()",
        (chat_id, Jsonb(context_to_json(context))),
    )
