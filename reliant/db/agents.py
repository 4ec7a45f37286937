"""agents: a chat's sub-agents (spawn_agent), their results and worktrees; agent_notes: what
message_agent left for an agent's next model call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from reliant.db.database import Queries, Row
from reliant.domain.agents import AgentLimits, AgentRecord, AgentStatus
from reliant.domain.chat import FINAL_TOOL_STATES, AgentTag

_COLUMNS = (
    "a.id, a.chat_id, a.parent_id, a.call_key, a.depth, a.name, a.task, a.workflow, a.model, a.thread_mode,"
    " a.status, a.worktree_path, a.worktree_branch, a.base_commit, a.merge_into, a.worktree_state,"
    " a.worktree_commit, a.text, a.outputs, a.error, a.created_at, a.finished_at"
)
# An agent's own model calls are the messages its run wrote: their steps start with its run id.
_USAGE = (
    ", (SELECT coalesce(sum(m.cost_usd), 0) FROM messages m WHERE m.chat_id = a.chat_id"
    " AND m.step LIKE a.id::text || '/%%') AS cost_usd"
    ", (SELECT coalesce(sum(m.input_tokens + m.cache_read_tokens + m.cache_write_tokens), 0) FROM messages m"
    " WHERE m.chat_id = a.chat_id AND m.step LIKE a.id::text || '/%%') AS input_tokens"
    ", (SELECT coalesce(sum(m.output_tokens), 0) FROM messages m WHERE m.chat_id = a.chat_id"
    " AND m.step LIKE a.id::text || '/%%') AS output_tokens"
)
_SELECT = f"SELECT {_COLUMNS}{_USAGE} FROM agents a"
_ENDED_CALL = frozenset(s.value for s in FINAL_TOOL_STATES)
WORKTREE_LOCK_CLASS = 0x41475754  # the first key of agents' worktree locks ("AGWT"), the second the agent's


def _record(row: Row) -> AgentRecord:
    return AgentRecord(
        id=str(row["id"]),
        chat_id=str(row["chat_id"]),
        parent_id=str(row["parent_id"]) if row["parent_id"] else "",
        call_key=row["call_key"],
        depth=row["depth"],
        name=row["name"],
        task=row["task"],
        workflow=row["workflow"],
        model=row["model"],
        thread_mode=row["thread_mode"],
        status=AgentStatus(row["status"]),
        worktree_path=row["worktree_path"],
        worktree_branch=row["worktree_branch"],
        base_commit=row["base_commit"],
        merge_into=row["merge_into"],
        worktree_state=row["worktree_state"],
        worktree_commit=row["worktree_commit"],
        text=row["text"],
        outputs=dict(row["outputs"] or {}),
        error=row["error"],
        cost_usd=float(row.get("cost_usd") or 0),
        input_tokens=int(row.get("input_tokens") or 0),
        output_tokens=int(row.get("output_tokens") or 0),
        created_at=row["created_at"].timestamp(),
        finished_at=row["finished_at"].timestamp() if row["finished_at"] is not None else None,
    )


class CallEnded(Exception):
    """The spawn_agent call has ended (its run was stopped): no agent is recorded for it any more."""


class LimitReached(Exception):
    """A spawn would go past one of the chat's agent limits: `message` says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class NewAgent:
    id: str
    chat_id: str
    parent_id: str
    call_key: str
    depth: int
    name: str
    task: str
    workflow: str
    model: str
    thread_mode: str


async def create(tx: Queries, new: NewAgent, limits: AgentLimits) -> tuple[AgentRecord, bool]:
    """Record an agent as it is spawned: (the agent, True) or, for a call recorded before (a
    retry), (that agent, False). Checks the chat's limits under a lock on the chat, so agents
    spawned together are counted one after another (LimitReached); under the same lock, a call that
    has ended (its run was stopped meanwhile: the abandon_spawn activity) records none (CallEnded).
    What it checks is read in one statement after the lock (one taken before it would not see the
    agents of the spawns it waited for)."""
    await lock_spawns(tx, new.chat_id)
    seen = await tx.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'running') AS running,"
        " bool_or(call_key = %s) AS recorded,"
        " (SELECT state FROM tool_executions WHERE chat_id = %s AND call_key = %s) AS call_state"
        " FROM agents WHERE chat_id = %s",
        (new.call_key, new.chat_id, new.call_key, new.chat_id),
    )
    assert seen is not None
    if seen["recorded"]:
        existing = await by_call(tx, new.chat_id, new.call_key)
        assert existing is not None
        return existing, False
    if seen["call_state"] in _ENDED_CALL:
        raise CallEnded(new.call_key)
    if new.depth > limits.max_depth:
        raise LimitReached(
            f"agents may be nested {limits.max_depth} deep at most: this agent is at depth {new.depth - 1},"
            " so it cannot spawn another; do the work yourself"
        )
    if seen["total"] >= limits.max_per_chat:
        raise LimitReached(f"this chat has spawned {seen['total']} agents, the most it may (max_per_chat)")
    if seen["running"] >= limits.max_concurrent:
        raise LimitReached(
            f"{seen['running']} agents are running in this chat, the most at once (max_concurrent): "
            "wait for some of them (wait_agents) before spawning more"
        )
    # Just recorded, it has made no model call yet: what it spent is nothing (no _USAGE to read).
    row = await tx.fetchrow(
        "INSERT INTO agents AS a (id, chat_id, parent_id, call_key, depth, name, task, workflow, model, thread_mode)"
        f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
        (
            new.id,
            new.chat_id,
            new.parent_id or None,
            new.call_key,
            new.depth,
            new.name,
            new.task,
            new.workflow,
            new.model,
            new.thread_mode,
        ),
    )
    assert row is not None
    return _record(row), True


async def lock_spawns(tx: Queries, chat_id: str) -> None:
    """Take the lock `create` records an agent under: the chat's spawns wait for this transaction."""
    await tx.execute("SELECT id FROM chats WHERE id = %s FOR UPDATE", (chat_id,))


async def set_worktree(
    tx: Queries, agent_id: str, *, path: str, branch: str, base_commit: str, merge_into: str = ""
) -> None:
    """`merge_into`: the worktree of the project the agent's was made from and is merged into ("":
    the project's checkout)."""
    await tx.execute(
        "UPDATE agents SET worktree_path = %s, worktree_branch = %s, base_commit = %s, merge_into = %s,"
        " worktree_state = 'active' WHERE id = %s",
        (path, branch, base_commit, merge_into, agent_id),
    )


async def try_lock_worktree(tx: Queries, agent_id: str) -> bool:
    """Take the lock an agent's worktree is settled under (merged, kept or removed), until `tx`
    ends; False when another transaction holds it."""
    row = await tx.fetchrow(
        "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s)) AS locked", (WORKTREE_LOCK_CLASS, agent_id)
    )
    return bool(row and row["locked"])


async def set_worktree_state(
    tx: Queries, agent_id: str, state: str, *, commit: str = "", settled_from: Sequence[str] = ("active",)
) -> bool:
    """Move a worktree in one of the states `settled_from` to `state` (with a merge: its commit);
    False if it was in none of them."""
    changed = await tx.execute(
        "UPDATE agents SET worktree_state = %s, worktree_commit = %s WHERE id = %s AND worktree_state = ANY(%s)",
        (state, commit, agent_id, list(settled_from)),
    )
    return changed == 1


async def running_count(db: Queries, chat_id: str) -> int:
    row = await db.fetchrow("SELECT count(*) AS n FROM agents WHERE chat_id = %s AND status = 'running'", (chat_id,))
    return int(row["n"]) if row is not None else 0


@dataclass(frozen=True, slots=True)
class AgentEnd:
    changed: bool  # this call ended the agent (False: it had ended already)
    report: bool  # its spawner holds no handle of it (it continued as new): tell it of the end
    agent: AgentRecord | None = field(default=None, compare=False)  # as this call ended it (None: ended already)


async def finish(
    tx: Queries, agent_id: str, status: AgentStatus, *, text: str, outputs: dict[str, Any], error: str
) -> AgentEnd:
    """Record how the agent ended (and read it as it ended, in the same statement). The row's lock
    orders this against `report_ends`: an agent ended before is read as ended by its spawner's next
    run, one ended after is told to report."""
    row = await tx.fetchrow(
        "UPDATE agents AS a SET status = %s, text = %s, outputs = %s, error = %s, finished_at = now()"
        f" WHERE a.id = %s AND a.status = 'running' RETURNING a.report_end, {_COLUMNS}{_USAGE}",
        (status.value, text, Jsonb(outputs), error, agent_id),
    )
    if row is not None:
        return AgentEnd(True, bool(row["report_end"]), _record(row))
    # Ended already (a retry of the step that ended it): report as that step would have.
    row = await tx.fetchrow("SELECT report_end FROM agents WHERE id = %s", (agent_id,))
    return AgentEnd(False, bool(row and row["report_end"]))


async def report_ends(tx: Queries, chat_id: str, ids: list[str]) -> None:
    """The spawner of these agents continues as new: those still running tell it when they end."""
    await tx.execute(
        "UPDATE agents SET report_end = true WHERE chat_id = %s AND id::text = ANY(%s) AND status = 'running'",
        (chat_id, ids),
    )


async def get(db: Queries, agent_id: str) -> AgentRecord | None:
    row = await db.fetchrow(f"{_SELECT} WHERE a.id = %s", (agent_id,))
    return _record(row) if row else None


async def by_call(db: Queries, chat_id: str, call_key: str) -> AgentRecord | None:
    row = await db.fetchrow(f"{_SELECT} WHERE a.chat_id = %s AND a.call_key = %s", (chat_id, call_key))
    return _record(row) if row else None


async def for_chat(db: Queries, chat_id: str) -> list[AgentRecord]:
    rows = await db.fetch(f"{_SELECT} WHERE a.chat_id = %s ORDER BY a.created_at, a.id", (chat_id,))
    return [_record(r) for r in rows]


async def worktrees_of_project(db: Queries, project_id: str, *, include_removed: bool) -> list[AgentRecord]:
    """The agents of the project's chats that work (or, with `include_removed`, worked) in a
    worktree of their own, oldest first (without their usage)."""
    removed = "" if include_removed else " AND a.worktree_state <> 'removed'"
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM agents a JOIN chats c ON c.id = a.chat_id"
        f" WHERE c.project_id = %s AND a.worktree_path <> ''{removed} ORDER BY a.created_at, a.id",
        (project_id,),
    )
    return [_record(r) for r in rows]


async def by_ids(db: Queries, chat_id: str, ids: list[str]) -> list[AgentRecord]:
    rows = await db.fetch(f"{_SELECT} WHERE a.chat_id = %s AND a.id::text = ANY(%s)", (chat_id, ids))
    return [_record(r) for r in rows]


async def add_note(tx: Queries, agent_id: str, text: str) -> None:
    await tx.execute("INSERT INTO agent_notes (agent_id, text) VALUES (%s, %s)", (agent_id, text))


async def has_notes(db: Queries, agent_id: str) -> bool:
    """Whether notes wait for the agent (take_notes takes them)."""
    row = await db.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM agent_notes WHERE agent_id = %s AND delivered_at IS NULL) AS waiting", (agent_id,)
    )
    return bool(row and row["waiting"])


async def take_notes(tx: Queries, agent_id: str) -> list[tuple[str, str]]:
    """The notes waiting for the agent, (id, text) in the order they came, marked delivered."""
    rows = await tx.fetch(
        "UPDATE agent_notes SET delivered_at = now() WHERE agent_id = %s AND delivered_at IS NULL"
        " RETURNING id, text, created_at",
        (agent_id,),
    )
    return [(str(r["id"]), r["text"]) for r in sorted(rows, key=lambda r: r["created_at"])]


async def chat_cost(db: Queries, chat_id: str) -> float:
    """What the chat's model calls cost so far: its whole tree of agents."""
    row = await db.fetchrow("SELECT coalesce(sum(cost_usd), 0) AS c FROM messages WHERE chat_id = %s", (chat_id,))
    return float(row["c"]) if row else 0.0


# An approval or question a sub-agent raised waits in that agent's run workflow
# (domain.workflows.run_workflow_id): joined on it, the gate names its agent (agent_*). `g` is the gate.
GATE_AGENT_COLUMNS = "ag.id AS agent_id, ag.name AS agent_name, ag.task AS agent_task"
GATE_AGENT_JOIN = (
    "LEFT JOIN agents ag ON ag.chat_id = g.chat_id AND g.workflow_id = 'chat-' || ag.chat_id || '-run-' || ag.id"
)


def gate_agent(row: Row) -> AgentTag | None:
    """The agent of a gate row selected with GATE_AGENT_COLUMNS (None: the chat's own agent)."""
    if not row.get("agent_id"):
        return None
    return AgentTag(str(row["agent_id"]), str(row["agent_name"]), str(row["agent_task"]))


async def of_gate(db: Queries, chat_id: str, workflow_id: str) -> AgentTag | None:
    """The sub-agent whose run workflow `workflow_id` is (a gate it raised waits there), if any."""
    if not workflow_id:
        return None
    row = await db.fetchrow(
        f"SELECT {GATE_AGENT_COLUMNS} FROM agents ag"
        " WHERE ag.chat_id = %s AND 'chat-' || ag.chat_id || '-run-' || ag.id = %s",
        (chat_id, workflow_id),
    )
    return gate_agent(row) if row else None


def tag_payload(tag: AgentTag | None) -> dict[str, Any]:
    """A gate update's `agent` field: {agent: {agent_id, name, task}} for a sub-agent's, else nothing."""
    return {"agent": {"agent_id": tag.id, "name": tag.name, "task": tag.task}} if tag else {}
