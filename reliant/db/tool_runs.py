"""tool_executions: the record that makes every tool call happen at most once.

pending -> executing -> completed | failed | interrupted. An execution found `executing` by a retried
activity has an unknown outcome: the caller decides (re-run if read-only, else interrupted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from reliant.db.database import Database, Queries, Row
from reliant.domain.chat import ToolRun, ToolState

_COLUMNS = (
    "tool_call_id, tool_name, state, read_only, attempts, output, error, data, duration_ms, input, turn, position"
)


@dataclass(frozen=True, slots=True)
class PlannedCall:
    tool_call_id: str
    tool_name: str
    input: dict[str, Any]
    read_only: bool
    position: int


def _run(row: Row) -> ToolRun:
    return ToolRun(
        tool_call_id=row["tool_call_id"],
        tool_name=row["tool_name"],
        state=ToolState(row["state"]),
        read_only=row["read_only"],
        attempts=row["attempts"],
        output=row["output"],
        error=row["error"],
        data=row["data"] or {},
        duration_ms=row["duration_ms"],
        input=row["input"] or {},
        turn=row["turn"],
    )


async def plan(db: Queries, chat_id: str, turn: int, calls: Sequence[PlannedCall]) -> None:
    """Record the tool calls of an assistant turn as pending (idempotent)."""
    if not calls:
        return
    await db.execute(
        "INSERT INTO tool_executions (chat_id, tool_call_id, turn, tool_name, input, read_only, position)"
        " SELECT %s, u.id, %s, u.name, u.input, u.read_only, u.position"
        " FROM unnest(%s::text[], %s::text[], %s::jsonb[], %s::boolean[], %s::integer[])"
        " AS u(id, name, input, read_only, position)"
        " ON CONFLICT DO NOTHING",
        (
            chat_id,
            turn,
            [c.tool_call_id for c in calls],
            [c.tool_name for c in calls],
            [Jsonb(c.input) for c in calls],
            [c.read_only for c in calls],
            [c.position for c in calls],
        ),
    )


async def get(db: Queries, chat_id: str, tool_call_id: str) -> ToolRun | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND tool_call_id = %s",
        (chat_id, tool_call_id),
    )
    return _run(row) if row else None


@dataclass(frozen=True, slots=True)
class ToolTarget:
    run: ToolRun
    project_id: str
    daemon_id: str
    workspace: str


async def get_with_target(db: Queries, chat_id: str, tool_call_id: str) -> ToolTarget | None:
    """The run and where it runs, in one round trip."""
    row = await db.fetchrow(
        f"SELECT {', '.join('t.' + c.strip() for c in _COLUMNS.split(','))}, p.id AS project_id, p.daemon_id, p.path"
        " FROM tool_executions t JOIN chats c ON c.id = t.chat_id JOIN projects p ON p.id = c.project_id"
        " WHERE t.chat_id = %s AND t.tool_call_id = %s",
        (chat_id, tool_call_id),
    )
    if row is None:
        return None
    return ToolTarget(_run(row), str(row["project_id"]), row["daemon_id"], row["path"])


async def begin(db: Queries, chat_id: str, tool_call_id: str) -> ToolRun:
    """Mark the call executing (durably, before the daemon is asked) and count the attempt."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = 'executing', attempts = attempts + 1, started_at = now()"
        f" WHERE chat_id = %s AND tool_call_id = %s RETURNING {_COLUMNS}",
        (chat_id, tool_call_id),
    )
    if row is None:
        raise LookupError(f"tool call {tool_call_id} of chat {chat_id} was never planned")
    return _run(row)


async def finish(
    db: Queries,
    chat_id: str,
    tool_call_id: str,
    *,
    state: ToolState,
    output: str = "",
    error: str = "",
    data: dict[str, Any] | None = None,
    duration_ms: float = 0.0,
) -> ToolRun:
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = %s, output = %s, error = %s, data = %s, duration_ms = %s,"
        f" finished_at = now() WHERE chat_id = %s AND tool_call_id = %s RETURNING {_COLUMNS}",
        (state.value, output, error, Jsonb(data or {}), duration_ms, chat_id, tool_call_id),
    )
    if row is None:
        raise LookupError(f"tool call {tool_call_id} of chat {chat_id} was never planned")
    return _run(row)


async def for_turn(db: Queries, chat_id: str, turn: int) -> list[ToolRun]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND turn = %s ORDER BY position",
        (chat_id, turn),
    )
    return [_run(r) for r in rows]


async def for_chat(db: Database, chat_id: str) -> dict[str, ToolRun]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s", (chat_id,))
    return {r["tool_call_id"]: _run(r) for r in rows}


async def unfinished(db: Database, chat_id: str) -> list[ToolRun]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND state IN ('pending', 'executing')"
        " ORDER BY turn, position",
        (chat_id,),
    )
    return [_run(r) for r in rows]
