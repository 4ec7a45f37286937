"""background_processes: what daemons run in the background, recorded from their events.

A record only moves forward: once a process is exited, killed or lost, a late `running` event
cannot bring it back. `mark_lost` settles the processes of a daemon's earlier runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reliant.db.database import Database, Row

FINAL = ("exited", "killed", "failed", "lost")
_COLUMNS = (
    "daemon_id, id, boot_id, pid, command, workspace, chat_id, tool_call_id, state, exit_code, ports,"
    " output_bytes, started_at, finished_at"
)


@dataclass(frozen=True, slots=True)
class ProcessRecord:
    daemon_id: str
    id: str
    boot_id: str
    pid: int
    command: str
    workspace: str
    chat_id: str
    tool_call_id: str
    state: str
    exit_code: int | None
    ports: tuple[int, ...]
    output_bytes: int
    started_at: float
    finished_at: float


def _record(row: Row) -> ProcessRecord:
    return ProcessRecord(
        daemon_id=row["daemon_id"],
        id=row["id"],
        boot_id=row["boot_id"],
        pid=row["pid"],
        command=row["command"],
        workspace=row["workspace"],
        chat_id=row["chat_id"],
        tool_call_id=row["tool_call_id"],
        state=row["state"],
        exit_code=row["exit_code"],
        ports=tuple(row["ports"] or ()),
        output_bytes=int(row["output_bytes"]),
        started_at=row["started_at"].timestamp(),
        finished_at=row["finished_at"].timestamp() if row["finished_at"] else 0.0,
    )


def _time(value: Any) -> datetime | None:
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


async def record(db: Database, daemon_id: str, boot_id: str, doc: dict[str, Any]) -> None:
    """Insert or advance one process from the daemon's record of it (see daemon/processes.py)."""
    state = str(doc.get("state") or "running")
    if state not in ("running", *FINAL):
        state = "failed"
    await db.execute(
        f"INSERT INTO background_processes ({_COLUMNS}) VALUES"
        " (%(daemon)s, %(id)s, %(boot)s, %(pid)s, %(command)s, %(workspace)s, %(chat)s, %(call)s, %(state)s,"
        "  %(exit)s, %(ports)s, %(bytes)s, coalesce(%(started)s, now()), %(finished)s)"
        " ON CONFLICT (daemon_id, id) DO UPDATE SET"
        "  state = CASE WHEN background_processes.state IN ('exited', 'killed', 'failed', 'lost')"
        "          THEN background_processes.state ELSE EXCLUDED.state END,"
        "  exit_code = coalesce(EXCLUDED.exit_code, background_processes.exit_code),"
        "  ports = CASE WHEN EXCLUDED.state = 'running' THEN EXCLUDED.ports ELSE background_processes.ports END,"
        "  output_bytes = greatest(EXCLUDED.output_bytes, background_processes.output_bytes),"
        "  finished_at = coalesce(background_processes.finished_at, EXCLUDED.finished_at),"
        "  updated_at = now()",
        {
            "daemon": daemon_id,
            "id": str(doc["id"]),
            "boot": boot_id,
            "pid": int(doc.get("pid") or 0),
            "command": str(doc.get("command") or ""),
            "workspace": str(doc.get("workspace") or ""),
            "chat": str(doc.get("chat_id") or ""),
            "call": str(doc.get("tool_call_id") or ""),
            "state": state,
            "exit": doc.get("exit_code"),
            "ports": [int(p) for p in doc.get("ports") or []],
            "bytes": int(doc.get("output_bytes") or 0),
            "started": _time(doc.get("started_unix")),
            "finished": _time(doc.get("finished_unix")),
        },
    )


async def mark_lost(db: Database, daemon_id: str, boot_id: str) -> list[str]:
    """Processes recorded running by an earlier run of the daemon are lost; returns their ids."""
    rows = await db.fetch(
        "UPDATE background_processes SET state = 'lost', finished_at = now(), updated_at = now()"
        " WHERE daemon_id = %s AND state = 'running' AND boot_id <> %s RETURNING id",
        (daemon_id, boot_id),
    )
    return [r["id"] for r in rows]


async def get(db: Database, daemon_id: str, process_id: str) -> ProcessRecord | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM background_processes WHERE daemon_id = %s AND id = %s", (daemon_id, process_id)
    )
    return _record(row) if row else None


async def find(db: Database, process_id: str) -> ProcessRecord | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM background_processes WHERE id = %s", (process_id,))
    return _record(row) if row else None


async def list_for(
    db: Database, daemon_id: str, *, workspace: str = "", chat_id: str = "", limit: int = 200
) -> list[ProcessRecord]:
    """A daemon's processes, newest first: in a workspace (and the directories inside it), or a chat's."""
    clauses, params = ["daemon_id = %s"], [daemon_id]
    if workspace:
        clauses.append("(workspace = %s OR workspace LIKE %s)")
        params += [workspace, workspace.rstrip("/").replace("%", r"\%").replace("_", r"\_") + "/%"]
    if chat_id:
        clauses.append("chat_id = %s")
        params.append(chat_id)
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM background_processes WHERE {' AND '.join(clauses)}"
        f" ORDER BY started_at DESC LIMIT {int(limit)}",
        params,
    )
    return [_record(r) for r in rows]
