"""What a chat and a project have spent (the recorded cost of their model calls) and the chat's own
budget; the settings keys of the configured budgets and price overrides."""

from __future__ import annotations

from datetime import datetime

from reliant.db.database import Queries
from reliant.domain import budgets

# settings keys (values as text): budgets in USD (0: none) and price overrides, as JSON
# {"<model spec or id>": {"input": USD per Mtok, "output": ..., "cache_read"?: ..., "cache_write"?: ...}}
CHAT_BUDGET_KEY = "budget_chat_usd"
PROJECT_BUDGET_KEY = "budget_project_day_usd"
PRICES_KEY = "model_prices"


async def chat_budget(db: Queries, chat_id: str) -> float | None:
    """The chat's own budget in USD (None: the configured default)."""
    row = await db.fetchrow("SELECT budget_usd FROM chats WHERE id = %s", (chat_id,))
    return float(row["budget_usd"]) if row and row["budget_usd"] is not None else None


async def chat_budget_and_settings(db: Queries, chat_id: str) -> tuple[float | None, dict[str, str]]:
    """The chat's own budget (as chat_budget) and every stored setting, in one round trip: what a
    model call is checked and priced by."""
    row = await db.fetchrow(
        "SELECT (SELECT budget_usd FROM chats WHERE id = %s) AS budget_usd,"
        " (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM settings) AS settings",
        (chat_id,),
    )
    assert row is not None
    own = float(row["budget_usd"]) if row["budget_usd"] is not None else None
    return own, {str(k): str(v) for k, v in row["settings"].items()}


async def chat_budget_in_force(db: Queries, chat_id: str, configured: float) -> tuple[float, str]:
    """The chat's budget in force and where it is set (domain.budgets.chat_budget_in_force)."""
    own = await chat_budget(db, chat_id)
    if own is not None:
        return budgets.chat_budget_in_force(own, None, configured)
    row = await db.fetchrow("SELECT value FROM settings WHERE key = %s", (CHAT_BUDGET_KEY,))
    return budgets.chat_budget_in_force(None, row["value"] if row else None, configured)


async def set_chat_budget(db: Queries, chat_id: str, usd: float | None) -> bool:
    changed = await db.execute("UPDATE chats SET budget_usd = %s WHERE id = %s", (usd, chat_id))
    return changed == 1


async def chat_spent(db: Queries, chat_id: str) -> float:
    """The chat's model calls so far: every agent of its tree (they all write to the chat)."""
    row = await db.fetchrow("SELECT coalesce(sum(cost_usd), 0) AS c FROM messages WHERE chat_id = %s", (chat_id,))
    return float(row["c"]) if row else 0.0


async def project_spent_since(db: Queries, project_id: str, since: datetime) -> float:
    row = await db.fetchrow(
        "SELECT coalesce(sum(m.cost_usd), 0) AS c FROM messages m JOIN chats c ON c.id = m.chat_id"
        " WHERE c.project_id = %s AND m.created_at >= %s",
        (project_id, since),
    )
    return float(row["c"]) if row else 0.0


async def last_usage(db: Queries, chat_id: str, thread_id: str) -> tuple[int, int]:
    """(input tokens of the thread's last answer, the chat's average output tokens per answer)."""
    row = await db.fetchrow(
        "SELECT (SELECT input_tokens + cache_read_tokens + cache_write_tokens FROM messages"
        "        WHERE thread_id = %s AND role = 'assistant' AND NOT aborted ORDER BY ordinal DESC LIMIT 1) AS last_in,"
        " (SELECT avg(output_tokens) FROM messages WHERE chat_id = %s AND role = 'assistant' AND NOT aborted)"
        " AS avg_out",
        (thread_id, chat_id),
    )
    if row is None:
        return 0, 0
    return int(row["last_in"] or 0), int(row["avg_out"] or 0)
