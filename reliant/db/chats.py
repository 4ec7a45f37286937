"""chats: one conversation in a project, its status, totals and update sequence."""

from __future__ import annotations

from typing import Any

from psycopg.errors import DeadlockDetected
from psycopg.types.json import Jsonb

from reliant.db.database import Database, Queries, Row
from reliant.domain.chat import MAIN_THREAD, ChatInfo, ChatMode, ChatStatus, Project, Usage

DELETE_TRIES = 3
_COLUMNS = (
    "c.id, c.project_id, c.title, c.model, c.status, c.status_reason, c.input_tokens, c.output_tokens,"
    " c.cache_read_tokens, c.cache_write_tokens, c.cost_usd, c.last_seq, c.created_at, c.updated_at, c.mode,"
    " c.workflow, c.workflow_inputs,"
    " (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.ordinal IS NULL AND NOT m.aborted) AS queued,"
    " (SELECT count(*) FROM approvals a WHERE a.chat_id = c.id AND a.status = 'pending')"
    " + (SELECT count(*) FROM questions q WHERE q.chat_id = c.id AND q.status = 'pending') AS pending_gates"
)


def _chat(row: Row) -> ChatInfo:
    return ChatInfo(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        title=row["title"],
        model=row["model"],
        status=ChatStatus(row["status"]),
        status_reason=row["status_reason"],
        usage=Usage(row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]),
        cost_usd=float(row["cost_usd"]),
        last_seq=int(row["last_seq"]),
        created_at=row["created_at"].timestamp(),
        updated_at=row["updated_at"].timestamp(),
        queued=int(row["queued"]),
        mode=ChatMode(row["mode"]),
        pending_gates=int(row["pending_gates"]),
        workflow=row["workflow"],
        workflow_inputs=dict(row["workflow_inputs"] or {}),
    )


async def create(
    db: Database,
    *,
    project_id: str,
    model: str,
    title: str = "",
    workflow: str = "agent",
    workflow_inputs: dict[str, Any] | None = None,
) -> ChatInfo:
    """A chat, with its main thread. Every message it is sent runs `workflow` with `workflow_inputs`."""
    async with db.tx() as tx:
        row = await tx.fetchrow(
            "INSERT INTO chats (project_id, model, title, workflow, workflow_inputs) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id",
            (project_id, model, title, workflow, Jsonb(workflow_inputs or {})),
        )
        assert row is not None
        await tx.execute("INSERT INTO threads (chat_id, key) VALUES (%s, %s)", (row["id"], MAIN_THREAD))
    chat = await get(db, str(row["id"]))
    assert chat is not None
    return chat


async def get(db: Database, chat_id: str) -> ChatInfo | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM chats c WHERE c.id = %s", (chat_id,))
    return _chat(row) if row else None


async def get_with_project(db: Database, chat_id: str) -> tuple[ChatInfo, Project] | None:
    """The chat and its project in one round trip (the hot path of every model turn)."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS}, p.name AS p_name, p.daemon_id AS p_daemon_id, p.path AS p_path,"
        " p.created_at AS p_created_at FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %s",
        (chat_id,),
    )
    if row is None:
        return None
    project = Project(
        id=str(row["project_id"]),
        name=row["p_name"],
        daemon_id=row["p_daemon_id"],
        path=row["p_path"],
        created_at=row["p_created_at"].timestamp(),
    )
    return _chat(row), project


async def list_all(db: Database, project_id: str = "") -> list[ChatInfo]:
    if project_id:
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM chats c WHERE c.project_id = %s ORDER BY c.updated_at DESC",
            (project_id,),
        )
    else:
        rows = await db.fetch(f"SELECT {_COLUMNS} FROM chats c ORDER BY c.updated_at DESC")
    return [_chat(r) for r in rows]


async def recent_models(db: Database, limit: int = 8) -> list[str]:
    """The models of the most recently active chats, most recent first, each once."""
    rows = await db.fetch(
        "SELECT model FROM chats WHERE model <> '' GROUP BY model ORDER BY max(updated_at) DESC LIMIT %s", (limit,)
    )
    return [str(r["model"]) for r in rows]


async def rename(db: Database, chat_id: str, title: str) -> bool:
    return await db.execute("UPDATE chats SET title = %s, updated_at = now() WHERE id = %s", (title, chat_id)) == 1


async def set_model(db: Database, chat_id: str, model: str) -> bool:
    return await db.execute("UPDATE chats SET model = %s WHERE id = %s", (model, chat_id)) == 1


async def set_workflow(db: Queries, chat_id: str, workflow: str, inputs: dict[str, Any]) -> bool:
    """The workflow (and inputs) the chat's next messages run; a run that goes on keeps its own."""
    changed = await db.execute(
        "UPDATE chats SET workflow = %s, workflow_inputs = %s WHERE id = %s", (workflow, Jsonb(inputs), chat_id)
    )
    return changed == 1


async def set_mode(db: Queries, chat_id: str, mode: ChatMode) -> bool:
    return (
        await db.execute("UPDATE chats SET mode = %s WHERE id = %s AND mode <> %s", (mode.value, chat_id, mode.value))
        == 1
    )


async def delete(db: Database, chat_id: str) -> bool:
    """A step of the chat still finishing as it is deleted (a tool call whose command the delete
    killed, its workflow gone) writes a row of the chat's, then numbers its update on the chat's
    row; the delete locks them the other way round. Postgres breaks that deadlock by failing one of
    the two: if it is the delete, it goes again (the step is gone by then, or is the one failed)."""
    for _ in range(DELETE_TRIES - 1):
        try:
            return await db.execute("DELETE FROM chats WHERE id = %s", (chat_id,)) == 1
        except DeadlockDetected:
            continue
    return await db.execute("DELETE FROM chats WHERE id = %s", (chat_id,)) == 1


async def set_status(db: Queries, chat_id: str, status: ChatStatus, reason: str = "") -> bool:
    """Returns True if the status (or its reason) changed."""
    changed = await db.execute(
        "UPDATE chats SET status = %s, status_reason = %s, updated_at = now()"
        " WHERE id = %s AND (status <> %s OR status_reason <> %s)",
        (status.value, reason, chat_id, status.value, reason),
    )
    return changed == 1


async def set_status_if(db: Queries, chat_id: str, current: ChatStatus, status: ChatStatus, reason: str = "") -> bool:
    """Move from `current` to `status`; False if the chat was in another status."""
    changed = await db.execute(
        "UPDATE chats SET status = %s, status_reason = %s, updated_at = now() WHERE id = %s AND status = %s",
        (status.value, reason, chat_id, current.value),
    )
    return changed == 1


# What a model call adds to the chat's totals (usage_params: its values), for statements that add it.
ADD_USAGE = (
    "input_tokens = input_tokens + %(input_tokens)s, output_tokens = output_tokens + %(output_tokens)s,"
    " cache_read_tokens = cache_read_tokens + %(cache_read_tokens)s,"
    " cache_write_tokens = cache_write_tokens + %(cache_write_tokens)s,"
    " cost_usd = cost_usd + %(cost_usd)s, updated_at = now()"
)


def usage_params(usage: Usage, cost_usd: float) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cost_usd": cost_usd,
    }


async def add_usage(db: Queries, chat_id: str, usage: Usage, cost_usd: float) -> None:
    await db.execute(
        f"UPDATE chats SET {ADD_USAGE} WHERE id = %(chat)s", {**usage_params(usage, cost_usd), "chat": chat_id}
    )


async def paused_waiting_for(db: Database, daemon_id: str) -> list[str]:
    """Chats paused because this daemon was offline."""
    rows = await db.fetch(
        "SELECT c.id FROM chats c JOIN projects p ON p.id = c.project_id"
        " WHERE p.daemon_id = %s AND c.status = 'paused' AND c.status_reason LIKE 'daemon offline%%'",
        (daemon_id,),
    )
    return [str(r["id"]) for r in rows]


async def daemon_awaited(db: Database, chat_id: str) -> str | None:
    """The daemon this chat is paused for (it was offline), if it is."""
    row = await db.fetchrow(
        "SELECT p.daemon_id FROM chats c JOIN projects p ON p.id = c.project_id"
        " WHERE c.id = %s AND c.status = 'paused' AND c.status_reason LIKE 'daemon offline%%'",
        (chat_id,),
    )
    return str(row["daemon_id"]) if row else None
