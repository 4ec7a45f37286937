"""tool_executions: the record that makes every tool call happen at most once.

pending -> executing -> completed | failed | interrupted (or pending -> denied). An execution found
`executing` by a retried activity has an unknown outcome: the caller asks the daemon, then decides
(re-run if read-only, else interrupted). A call that provably never reached the daemon goes back to
pending.

Every state change is guarded in SQL (`UPDATE ... WHERE state IN (...)`): a final state is never
overwritten, so of two attempts racing to record a result exactly one does (the other gets None).

An execution is known by its key (ToolRun.key): the model's tool_call_id on the chat's main thread,
`<tool_call_id>@<thread id>` on another (`call_key`), `run:<step>` for a workflow's `run` node. Every
function here that takes a `key` means that one.
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
    " daemon_boot, call_key, thread_id"
)
_UNFINISHED = "('pending', 'executing')"


def call_key(tool_call_id: str, thread_id: str = "", main: bool = True) -> str:
    """The key of a model's tool call on a thread (the id alone on the chat's main thread)."""
    return tool_call_id if main or not thread_id else f"{tool_call_id}@{thread_id}"


async def started_in_run(db: Queries, chat_id: str, run_id: str) -> dict[str, ToolState]:
    """The state of each of the chat's calls that began since the run did (its own and its agents'),
    by key."""
    rows = await db.fetch(
        "SELECT call_key, state FROM tool_executions WHERE chat_id = %s"
        " AND started_at >= (SELECT created_at FROM runs WHERE id = %s)",
        (chat_id, run_id),
    )
    return {r["call_key"]: ToolState(r["state"]) for r in rows}


async def unused_keys(db: Queries, chat_id: str, turn: int, keys: Sequence[str]) -> list[str]:
    """`keys` for the calls of `turn`, each made unique: a key an earlier turn took already (a model
    that numbers its calls from 0 again, after its thread was compacted) gets the turn appended. A
    retry of the same turn finds its own keys and keeps them (an answer that calls no tool asks nothing)."""
    if not keys:
        return []
    rows = await db.fetch(
        "SELECT call_key, turn FROM tool_executions WHERE chat_id = %s AND call_key = ANY(%s)", (chat_id, list(keys))
    )
    taken = {r["call_key"] for r in rows if r["turn"] != turn}
    return [f"{key}@turn{turn}" if key in taken else key for key in keys]


def run_key(step: str) -> str:
    """The key of a workflow `run` node's command."""
    return f"run:{step}"


@dataclass(frozen=True, slots=True)
class PlannedCall:
    tool_call_id: str
    tool_name: str
    input: dict[str, Any]
    read_only: bool
    position: int
    key: str = ""  # call_key(); "" the tool_call_id


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
        call_key=row["call_key"],
        thread_id=str(row["thread_id"]) if row["thread_id"] is not None else "",
    )


async def plan(db: Queries, chat_id: str, turn: int, calls: Sequence[PlannedCall], *, thread_id: str = "") -> None:
    """Record the tool calls of an assistant turn as pending (idempotent). `thread_id` "" is the
    chat's main thread (the calls of a `run` node pass None through plan_command)."""
    if not calls:
        return
    await db.execute(
        "INSERT INTO tool_executions"
        " (chat_id, tool_call_id, turn, tool_name, input, read_only, position, call_key, thread_id)"
        " SELECT %s, u.id, %s, u.name, u.input, u.read_only, u.position, u.key,"
        " coalesce(%s::uuid, (SELECT id FROM threads WHERE chat_id = %s AND key = 'main'))"
        " FROM unnest(%s::text[], %s::text[], %s::jsonb[], %s::boolean[], %s::integer[], %s::text[])"
        " AS u(id, name, input, read_only, position, key)"
        " ON CONFLICT DO NOTHING",
        (
            chat_id,
            turn,
            thread_id or None,
            chat_id,
            [c.tool_call_id for c in calls],
            [c.tool_name for c in calls],
            [Jsonb(c.input) for c in calls],
            [c.read_only for c in calls],
            [c.position for c in calls],
            [c.key or c.tool_call_id for c in calls],
        ),
    )


async def plan_command(db: Queries, chat_id: str, key: str, command: dict[str, Any]) -> None:
    """Record a workflow `run` node's command as pending (idempotent): it then runs, at most once,
    like a tool call that changes things."""
    await db.execute(
        "INSERT INTO tool_executions (chat_id, tool_call_id, turn, tool_name, input, read_only, call_key)"
        " VALUES (%s, %s, 0, 'run_command', %s, false, %s) ON CONFLICT DO NOTHING",
        (chat_id, key, Jsonb(command), key),
    )


async def finish_now(db: Queries, chat_id: str, key: str, *, output: str) -> None:
    """Record a call as completed without running it (the response tool: its arguments are the answer)."""
    await db.execute(
        "UPDATE tool_executions SET state = 'completed', output = %s, finished_at = now()"
        " WHERE chat_id = %s AND call_key = %s AND state = 'pending'",
        (output, chat_id, key),
    )


async def get(db: Queries, chat_id: str, key: str) -> ToolRun | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND call_key = %s",
        (chat_id, key),
    )
    return _run(row) if row else None


@dataclass(frozen=True, slots=True)
class ToolTarget:
    run: ToolRun
    project_id: str
    daemon_id: str
    workspace: str  # the project's directory
    worktree: str = ""  # the chat's own active git worktree, if it has one (where its tools run)


_TARGETS = (
    f"SELECT {', '.join('t.' + c.strip() for c in _COLUMNS.split(','))}, p.id AS project_id, p.daemon_id, p.path,"
    " (SELECT w.path FROM worktrees w WHERE w.chat_id = t.chat_id AND w.state = 'active') AS worktree"
    " FROM tool_executions t JOIN chats c ON c.id = t.chat_id JOIN projects p ON p.id = c.project_id"
)


def _target(row: Row) -> ToolTarget:
    return ToolTarget(_run(row), str(row["project_id"]), row["daemon_id"], row["path"], row["worktree"] or "")


async def get_with_target(db: Queries, chat_id: str, key: str) -> ToolTarget | None:
    """The run and where it runs (with the chat's active worktree), in one round trip."""
    row = await db.fetchrow(_TARGETS + " WHERE t.chat_id = %s AND t.call_key = %s", (chat_id, key))
    return None if row is None else _target(row)


async def targets(db: Queries, chat_id: str, keys: Sequence[str]) -> list[ToolTarget]:
    """get_with_target for several calls of the chat at once, in the order of `keys` (those that exist)."""
    rows = await db.fetch(_TARGETS + " WHERE t.chat_id = %s AND t.call_key = ANY(%s)", (chat_id, list(keys)))
    found = {r["call_key"]: _target(r) for r in rows}
    return [found[k] for k in keys if k in found]


async def begin(db: Queries, chat_id: str, key: str, *, daemon_boot: str = "") -> ToolRun | None:
    """Mark the call executing (durably, before the daemon is asked), count the attempt and note the
    daemon run it goes to. None if the call already has a final state (nothing to run)."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = 'executing', attempts = attempts + 1, started_at = now(),"
        " daemon_boot = %s"
        f" WHERE chat_id = %s AND call_key = %s AND state IN {_UNFINISHED} RETURNING {_COLUMNS}",
        (daemon_boot, chat_id, key),
    )
    if row is None:
        await _must_exist(db, chat_id, key)
        return None
    return _run(row)


async def back_to_pending(db: Queries, chat_id: str, key: str) -> bool:
    """The request provably never reached the daemon: the call is pending again (not executing),
    to be sent when the daemon is back. False if it is no longer executing."""
    row = await db.fetchrow(
        "UPDATE tool_executions SET state = 'pending', started_at = NULL"
        " WHERE chat_id = %s AND call_key = %s AND state = 'executing' RETURNING call_key",
        (chat_id, key),
    )
    return row is not None


async def finish(
    db: Queries,
    chat_id: str,
    key: str,
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
        f" WHERE chat_id = %s AND call_key = %s AND state IN {_UNFINISHED} RETURNING {_COLUMNS}",
        (state.value, output, error, Jsonb(data or {}), duration_ms, chat_id, key),
    )
    if row is None:
        await _must_exist(db, chat_id, key)
        return None
    return _run(row)


async def _must_exist(db: Queries, chat_id: str, key: str) -> None:
    row = await db.fetchrow("SELECT 1 AS one FROM tool_executions WHERE chat_id = %s AND call_key = %s", (chat_id, key))
    if row is None:
        raise LookupError(f"tool call {key} of chat {chat_id} was never planned")


async def for_turn(db: Queries, chat_id: str, turn: int) -> list[ToolRun]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND turn = %s ORDER BY position",
        (chat_id, turn),
    )
    return [_run(r) for r in rows]


async def for_chat(db: Database, chat_id: str) -> dict[str, ToolRun]:
    """Every execution of the chat by its key (on the main thread: its tool_call_id), in the order
    the model asked for them."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s ORDER BY turn, position", (chat_id,)
    )
    return {r["call_key"]: _run(r) for r in rows}


async def unfinished(db: Database, chat_id: str) -> list[ToolRun]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM tool_executions WHERE chat_id = %s AND state IN ('pending', 'executing')"
        " ORDER BY turn, position",
        (chat_id,),
    )
    return [_run(r) for r in rows]


async def unanswered_threads(db: Queries, chat_id: str) -> list[str]:
    """The threads with tool calls whose results the model has not been given yet (no tool message
    answers their turn)."""
    rows = await db.fetch(
        "SELECT DISTINCT e.thread_id FROM tool_executions e WHERE e.chat_id = %s AND e.thread_id IS NOT NULL"
        " AND e.turn > 0 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = e.chat_id"
        " AND m.turn = e.turn AND m.role = 'tool')",
        (chat_id,),
    )
    return [str(r["thread_id"]) for r in rows]
