"""model_steps: the turn number each model call (by its step key) is shown under.

A model call's idempotency key is its step (`<run>/<thread>:<node instance>#<call>`); clients show a
streaming answer by a chat-wide `turn`, so each step gets one, once: a retried call of the same
step streams under the same turn and replaces its partial answer.
"""

from __future__ import annotations

from reliant.db.database import Database


async def turn_for(db: Database, chat_id: str, step: str) -> int:
    """The step's turn, handed out now (the chat's next) if it has none yet."""
    row = await db.fetchrow("SELECT turn FROM model_steps WHERE chat_id = %s AND step = %s", (chat_id, step))
    if row is not None:
        return int(row["turn"])
    async with db.tx() as tx:
        await tx.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat_id,))
        row = await tx.fetchrow(
            "INSERT INTO model_steps (chat_id, step, turn) SELECT %s, %s, greatest("
            " (SELECT coalesce(max(turn), 0) FROM model_steps WHERE chat_id = %s),"
            " (SELECT coalesce(max(turn), 0) FROM messages WHERE chat_id = %s)) + 1"
            " ON CONFLICT (chat_id, step) DO NOTHING RETURNING turn",
            (chat_id, step, chat_id, chat_id),
        )
        if row is None:
            row = await tx.fetchrow("SELECT turn FROM model_steps WHERE chat_id = %s AND step = %s", (chat_id, step))
    assert row is not None
    return int(row["turn"])


async def step_of(db: Database, chat_id: str, turn: int) -> str:
    """The step a turn was handed out to ("" if none)."""
    row = await db.fetchrow("SELECT step FROM model_steps WHERE chat_id = %s AND turn = %s", (chat_id, turn))
    return str(row["step"]) if row else ""
