"""questions: what the model asked the user with ask_user, and the answers."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from reliant.db import agents as agents_db
from reliant.db.database import Queries, Row
from reliant.domain.chat import Question

_COLUMNS = "id, chat_id, tool_call_id, turn, questions, status, answers, created_at, workflow_id"


# Reads name the agent that raised the gate (GATE_AGENT_JOIN).
_TAGGED = (
    "SELECT "
    + ", ".join(f"g.{c.strip()}" for c in _COLUMNS.split(","))
    + f", {agents_db.GATE_AGENT_COLUMNS} FROM questions g {agents_db.GATE_AGENT_JOIN}"
)


def _question(row: Row) -> Question:
    return Question(
        id=str(row["id"]),
        chat_id=str(row["chat_id"]),
        tool_call_id=row["tool_call_id"],
        turn=row["turn"],
        questions=list(row["questions"] or []),
        status=row["status"],
        answers=[str(a) for a in row["answers"] or []],
        created_at=row["created_at"].timestamp(),
        workflow_id=row["workflow_id"],
        agent=agents_db.gate_agent(row),
    )


async def ask(
    db: Queries,
    chat_id: str,
    *,
    tool_call_id: str,
    turn: int,
    questions: list[dict[str, Any]],
    workflow_id: str = "",
) -> tuple[Question, bool]:
    """The questions of an ask_user call (by its key: tool_runs.py), created pending if new."""
    row = await db.fetchrow(
        "INSERT INTO questions (chat_id, tool_call_id, turn, questions, workflow_id) VALUES (%s, %s, %s, %s, %s)"
        f" ON CONFLICT (chat_id, tool_call_id) DO NOTHING RETURNING {_COLUMNS}",
        (chat_id, tool_call_id, turn, Jsonb(questions), workflow_id),
    )
    if row is not None:
        return _question(row), True
    existing = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM questions WHERE chat_id = %s AND tool_call_id = %s", (chat_id, tool_call_id)
    )
    assert existing is not None
    return _question(existing), False


async def get(db: Queries, question_id: str) -> Question | None:
    row = await db.fetchrow(f"{_TAGGED} WHERE g.id = %s", (question_id,))
    return _question(row) if row else None


async def pending(db: Queries, chat_id: str = "") -> list[Question]:
    if chat_id:
        rows = await db.fetch(
            f"{_TAGGED} WHERE g.status = 'pending' AND g.chat_id = %s ORDER BY g.created_at",
            (chat_id,),
        )
    else:
        rows = await db.fetch(f"{_TAGGED} WHERE g.status = 'pending' ORDER BY g.created_at")
    return [_question(r) for r in rows]


async def answer(db: Queries, chat_id: str, tool_call_id: str, answers: list[str]) -> bool:
    changed = await db.execute(
        "UPDATE questions SET status = 'answered', answers = %s, answered_at = now()"
        " WHERE chat_id = %s AND tool_call_id = %s AND status = 'pending'",
        (Jsonb(answers), chat_id, tool_call_id),
    )
    return changed == 1


async def cancel_pending(db: Queries, chat_id: str) -> list[str]:
    rows = await db.fetch(
        "UPDATE questions SET status = 'cancelled', answered_at = now()"
        " WHERE chat_id = %s AND status = 'pending' RETURNING tool_call_id",
        (chat_id,),
    )
    return [r["tool_call_id"] for r in rows]


async def cancel_pending_of(db: Queries, chat_id: str, workflow_id: str) -> list[Question]:
    """Cancel what one workflow of the chat waits for (`workflow_id` "": the chat's own)."""
    rows = await db.fetch(
        "UPDATE questions SET status = 'cancelled', answered_at = now()"
        f" WHERE chat_id = %s AND status = 'pending' AND workflow_id = %s RETURNING {_COLUMNS}",
        (chat_id, workflow_id),
    )
    return [_question(r) for r in rows]
