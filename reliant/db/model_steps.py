"""model_steps: the turn number each model call (by its step key) is shown under.

A model call's idempotency key is its step (`<run>/<thread>:<node instance>#<call>`); clients show a
streaming answer by a chat-wide `turn`, so each step gets one, once: a retried call of the same
step streams under the same turn and replaces its partial answer.
"""

from __future__ import annotations

from psycopg import errors

from reliant.db.database import Database

# The chat's next turn: after every turn handed out, and after the turns of messages stored before
# steps existed (chats of an earlier release number their own).
_HAND_OUT = (
    "INSERT INTO model_steps (chat_id, step, turn) SELECT %(chat)s, %(step)s, greatest("
    " (SELECT coalesce(max(turn), 0) FROM model_steps WHERE chat_id = %(chat)s),"
    " (SELECT coalesce(max(turn), 0) FROM messages WHERE chat_id = %(chat)s)) + 1"
    " ON CONFLICT (chat_id, step) DO NOTHING RETURNING turn"
)
ATTEMPTS = 20  # two steps of one chat asking at the same moment: one of them asks again


async def turn_for(db: Database, chat_id: str, step: str) -> int:
    """The step's turn, handed out now (the chat's next) if it has none yet. One round trip when it
    is new; two when it was handed out before (a retry)."""
    params = {"chat": chat_id, "step": step}
    for _ in range(ATTEMPTS):
        try:
            row = await db.fetchrow(_HAND_OUT, params)
        except errors.UniqueViolation:  # another step of the chat took that number first
            continue
        if row is None:
            row = await db.fetchrow("SELECT turn FROM model_steps WHERE chat_id = %(chat)s AND step = %(step)s", params)
        if row is not None:
            return int(row["turn"])
    raise RuntimeError(f"no turn for step {step} of chat {chat_id} after {ATTEMPTS} attempts")


async def step_of(db: Database, chat_id: str, turn: int) -> str:
    """The step a turn was handed out to ("" if none)."""
    row = await db.fetchrow("SELECT step FROM model_steps WHERE chat_id = %s AND turn = %s", (chat_id, turn))
    return str(row["step"]) if row else ""
