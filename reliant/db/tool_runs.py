"""tool_executions: the record that makes every tool call happen at most once.

pending -> executing -> completed | failed | interrupted (or pending -> denied). An execution found
`executing` by a retried activity has an unknown outcome: the caller asks the daemon, then decides
(re-run if read-only, else interrupted). A call that provably never reached the daemon goes back to
pending.

Every state change is guarded in SQL (`UPDATE ... WHERE state IN (...)`): a final state is never
overwritten, so of two attempts racing to record a result exactly one does (the other gets None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from reliant.db.database import Database, Queries, Row
from reliant.domain.chat import ToolRun, ToolState

_COLUMNS = (
    "tool_call_id, tool_name, state, read_only, attempts, output, error, data, duration_ms, input, turn, position,"
    " daemon_boot"
)
_UNFINISHED = "('pending', 'executing')"


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
        daemon_boot=row["daemon_boot"],
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


async def begin(db: Queries, chat_id: str, tool_call_id: str, *, daemon_boot: str = "") -> ToolRun | None:
    """Mark the call executing (durably, before the daemon is asked), count the attempt and note the
    daemon run it goes to. None if the call already has a final state (nothing to run)."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = 'executing', attempts = attempts + 1, started_at = now(),"
        " daemon_boot = %s"
        f" WHERE chat_id = %s AND tool_call_id = %s AND state IN {_UNFINISHED} RETURNING {_COLUMNS}",
        (daemon_boot, chat_id, tool_call_id),
    )
    if row is None:
        await _must_exist(db, chat_id, tool_call_id)
        return None
    return _run(row)


async def back_to_pending(db: Queries, chat_id: str, tool_call_id: str) -> bool:
    """The request provably never reached the daemon: the call is pending again (not executing),
    to be sent when the daemon is back. False if it is no longer executing."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = 'pending', started_at = NULL"
        " WHERE chat_id = %s AND tool_call_id = %s AND state = 'executing' RETURNING tool_call_id",
        (chat_id, tool_call_id),
    )
    return row is not None


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
) -> ToolRun | None:
    """Record the call's final state; None if another attempt recorded one first (it stands)."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = %s, output = %s, error = %s, data = %s, duration_ms = %s,"
        " finished_at = now()"
        f" WHERE chat_id = %s AND tool_call_id = %s AND state IN {_UNFINISHED} RETURNING {_COLUMNS}",
        (state.value, output, error, Jsonb(data or {}), duration_ms, chat_id, tool_call_id),
    )
    if row is None:
        await _must_exist(db, chat_id, tool_call_id)
        return None
    return _run(row)


async def _must_exist(db: Queries, chat_id: str, tool_call_id: str) -> None:
    row = await db.fetchrow(
        "SELECT 1 AS one FROM tool_executions WHERE chat_id = %s AND tool_call_id = %s", (chat_id, tool_call_id)
    )
    if row is None:
        raise LookupError(f"tool call {tool_call_id} of chat {chat_id} was never planned")


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
