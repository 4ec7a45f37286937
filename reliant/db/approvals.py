"""approvals and approval_policies: what the user was asked, what they answered, and what they
allowed for good.

An approval is keyed by (chat, gate key): a tool call's key (tool_runs.py) when a tool call waits,
`node:<step>` when a workflow's `approval` node asks a question with choices. The column that holds
the key is still called tool_call_id."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from reliant.db import agents as agents_db
from reliant.db.database import Queries, Row
from reliant.domain.chat import Approval, prefix_allows

_COLUMNS = (
    "id, chat_id, tool_call_id, turn, tool_name, input, status, message, scope, created_at,"
    " kind, question, choices, choice, workflow_id, run_id, node"
)


# Reads name the agent that raised the gate (GATE_AGENT_JOIN).
_TAGGED = (
    "SELECT "
    + ", ".join(f"g.{c.strip()}" for c in _COLUMNS.split(","))
    + f", {agents_db.GATE_AGENT_COLUMNS} FROM approvals g {agents_db.GATE_AGENT_JOIN}"
)


def _approval(row: Row) -> Approval:
    return Approval(
        id=str(row["id"]),
        chat_id=str(row["chat_id"]),
        tool_call_id=row["tool_call_id"],
        turn=row["turn"],
        tool_name=row["tool_name"],
        input=row["input"] or {},
        status=row["status"],
        message=row["message"],
        scope=row["scope"],
        created_at=row["created_at"].timestamp(),
        kind=row["kind"],
        question=row["question"],
        choices=tuple(str(c) for c in row["choices"] or ()),
        choice=row["choice"],
        workflow_id=row["workflow_id"],
        run_id=str(row["run_id"]) if row["run_id"] is not None else "",
        node=row["node"],
        agent=agents_db.gate_agent(row),
    )


async def request(
    db: Queries,
    chat_id: str,
    *,
    tool_call_id: str,
    turn: int,
    tool_name: str,
    tool_input: dict[str, Any],
    workflow_id: str = "",
) -> tuple[Approval, bool]:
    """The approval for this call (by its key), created pending if new; (approval, True if created now)."""
    row = await db.fetchrow(
        "INSERT INTO approvals (chat_id, tool_call_id, turn, tool_name, input, workflow_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        f" ON CONFLICT (chat_id, tool_call_id) DO NOTHING RETURNING {_COLUMNS}",
        (chat_id, tool_call_id, turn, tool_name, Jsonb(tool_input), workflow_id),
    )
    if row is not None:
        return _approval(row), True
    existing = await for_call(db, chat_id, tool_call_id)
    assert existing is not None
    return existing, False


async def ask_node(
    db: Queries,
    chat_id: str,
    *,
    key: str,
    question: str,
    choices: tuple[str, ...],
    run_id: str,
    node: str,
    workflow_id: str = "",
) -> tuple[Approval, bool]:
    """An `approval` node's question, created pending if new; (approval, True if created now)."""
    row = await db.fetchrow(
        "INSERT INTO approvals (chat_id, tool_call_id, turn, tool_name, kind, question, choices, run_id, node,"
        " workflow_id) VALUES (%s, %s, 0, '', 'node', %s, %s, %s, %s, %s)"
        f" ON CONFLICT (chat_id, tool_call_id) DO NOTHING RETURNING {_COLUMNS}",
        (chat_id, key, question, Jsonb(list(choices)), run_id, node, workflow_id),
    )
    if row is not None:
        return _approval(row), True
    existing = await for_call(db, chat_id, key)
    assert existing is not None
    return existing, False


async def answer_node(db: Queries, chat_id: str, key: str, *, choice: str, note: str) -> bool:
    """Record the choice (and note) of a pending node approval; False if it was not pending any more."""
    changed = await db.execute(
        "UPDATE approvals SET status = 'answered', choice = %s, message = %s, answered_at = now()"
        " WHERE chat_id = %s AND tool_call_id = %s AND status = 'pending'",
        (choice, note, chat_id, key),
    )
    return changed == 1


async def for_call(db: Queries, chat_id: str, tool_call_id: str) -> Approval | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM approvals WHERE chat_id = %s AND tool_call_id = %s", (chat_id, tool_call_id)
    )
    return _approval(row) if row else None


async def get(db: Queries, approval_id: str) -> Approval | None:
    row = await db.fetchrow(f"{_TAGGED} WHERE g.id = %s", (approval_id,))
    return _approval(row) if row else None


async def pending(db: Queries, chat_id: str = "") -> list[Approval]:
    if chat_id:
        rows = await db.fetch(
            f"{_TAGGED} WHERE g.status = 'pending' AND g.chat_id = %s ORDER BY g.created_at",
            (chat_id,),
        )
    else:
        rows = await db.fetch(f"{_TAGGED} WHERE g.status = 'pending' ORDER BY g.created_at")
    return [_approval(r) for r in rows]


async def resolve(
    db: Queries, chat_id: str, tool_call_id: str, *, status: str, message: str = "", scope: str = ""
) -> bool:
    """Record the answer of a pending approval; False if it was not pending any more."""
    changed = await db.execute(
        "UPDATE approvals SET status = %s, message = %s, scope = %s, answered_at = now()"
        " WHERE chat_id = %s AND tool_call_id = %s AND status = 'pending'",
        (status, message, scope, chat_id, tool_call_id),
    )
    return changed == 1


async def cancel_pending(db: Queries, chat_id: str) -> list[str]:
    rows = await db.fetch(
        "UPDATE approvals SET status = 'cancelled', answered_at = now()"
        " WHERE chat_id = %s AND status = 'pending' RETURNING tool_call_id",
        (chat_id,),
    )
    return [r["tool_call_id"] for r in rows]


async def cancel_pending_of(db: Queries, chat_id: str, workflow_id: str) -> list[Approval]:
    """Cancel what one workflow of the chat waits for (`workflow_id` "": the chat's own)."""
    rows = await db.fetch(
        "UPDATE approvals SET status = 'cancelled', answered_at = now()"
        f" WHERE chat_id = %s AND status = 'pending' AND workflow_id = %s RETURNING {_COLUMNS}",
        (chat_id, workflow_id),
    )
    return [_approval(r) for r in rows]


async def allow(db: Queries, *, project_id: str, chat_id: str | None, tool_name: str, command_prefix: str = "") -> None:
    """Always allow `tool_name` in the chat (or, with chat_id None, the whole project); for shell, only
    commands that start with `command_prefix` when one is given."""
    await db.execute(
        "INSERT INTO approval_policies (project_id, chat_id, tool_name, command_prefix) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (project_id, chat_id, tool_name, command_prefix),
    )


async def allowed(db: Queries, *, project_id: str, chat_id: str, tool_name: str, tool_input: dict[str, Any]) -> bool:
    """True if a policy of this chat or its project allows the call (domain.chat.prefix_allows)."""
    command = str(tool_input.get("command", "")) if isinstance(tool_input, dict) else ""
    rows = await db.fetch(
        "SELECT command_prefix FROM approval_policies WHERE project_id = %s AND (chat_id IS NULL OR chat_id = %s)"
        " AND tool_name = %s",
        (project_id, chat_id, tool_name),
    )
    return any(prefix_allows(str(row["command_prefix"]), command) for row in rows)
