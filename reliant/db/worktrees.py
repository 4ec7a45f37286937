"""worktrees: git worktrees the daemon made for a project, optionally bound to one chat."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.db.database import Database, Row

_COLUMNS = "id, project_id, chat_id, name, branch, path, base_commit, state, created_at"


@dataclass(frozen=True, slots=True)
class WorktreeRecord:
    id: str
    project_id: str
    chat_id: str  # '' when not bound to a chat
    name: str
    branch: str
    path: str
    base_commit: str
    state: str  # active | removed
    created_at: float


def _worktree(row: Row) -> WorktreeRecord:
    return WorktreeRecord(
        id=str(row["id"]),
        project_id=str(row["project_id"]),
        chat_id=str(row["chat_id"]) if row["chat_id"] else "",
        name=row["name"],
        branch=row["branch"],
        path=row["path"],
        base_commit=row["base_commit"],
        state=row["state"],
        created_at=row["created_at"].timestamp(),
    )


async def create(
    db: Database, *, project_id: str, chat_id: str, name: str, branch: str, path: str, base_commit: str
) -> WorktreeRecord | None:
    """The new record; None when the chat got an active worktree meanwhile (a chat has one at most)."""
    row = await db.fetchrow(
        "INSERT INTO worktrees (project_id, chat_id, name, branch, path, base_commit)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (chat_id) WHERE state = 'active' AND chat_id IS NOT NULL DO NOTHING"
        f" RETURNING {_COLUMNS}",
        (project_id, chat_id or None, name, branch, path, base_commit),
    )
    return _worktree(row) if row else None


async def get(db: Database, worktree_id: str) -> WorktreeRecord | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM worktrees WHERE id = %s", (worktree_id,))
    return _worktree(row) if row else None


async def active_for_chat(db: Database, chat_id: str) -> WorktreeRecord | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM worktrees WHERE chat_id = %s AND state = 'active'", (chat_id,))
    return _worktree(row) if row else None


async def chat_ever_had_one(db: Database, chat_id: str) -> bool:
    """Whether the chat has, or had, a worktree (active or removed)."""
    return await db.fetchrow("SELECT 1 FROM worktrees WHERE chat_id = %s LIMIT 1", (chat_id,)) is not None


async def for_project(db: Database, project_id: str, *, include_removed: bool = False) -> list[WorktreeRecord]:
    where = "" if include_removed else " AND state = 'active'"
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM worktrees WHERE project_id = %s{where} ORDER BY created_at", (project_id,)
    )
    return [_worktree(r) for r in rows]


async def mark_removed(db: Database, worktree_id: str) -> bool:
    changed = await db.execute(
        "UPDATE worktrees SET state = 'removed', removed_at = now() WHERE id = %s AND state = 'active'",
        (worktree_id,),
    )
    return changed == 1


async def detach(db: Database, worktree_id: str) -> bool:
    """Keep the worktree but stop running the chat's tools there."""
    return await db.execute("UPDATE worktrees SET chat_id = NULL WHERE id = %s", (worktree_id,)) == 1


async def named_paths(db: Database, project_id: str) -> list[str]:
    """The worktree paths of the project a record of reliant names: its active worktrees and its
    chats' agents' worktrees not removed. Any other worktree under .reliant/worktrees is orphaned."""
    rows = await db.fetch(
        "SELECT path FROM worktrees WHERE project_id = %s AND state = 'active'"
        " UNION SELECT a.worktree_path FROM agents a JOIN chats c ON c.id = a.chat_id"
        " WHERE c.project_id = %s AND a.worktree_path <> '' AND a.worktree_state <> 'removed'",
        (project_id, project_id),
    )
    return [str(r["path"]) for r in rows]
