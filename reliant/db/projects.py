"""projects: a workspace directory on a daemon."""

from __future__ import annotations

from reliant.db.database import Database, Row
from reliant.domain.chat import Project


def _project(row: Row) -> Project:
    return Project(
        id=str(row["id"]),
        name=row["name"],
        daemon_id=row["daemon_id"],
        path=row["path"],
        created_at=row["created_at"].timestamp(),
    )


async def create(db: Database, *, name: str, daemon_id: str, path: str) -> Project:
    """Insert, or return the project that already has this daemon and path."""
    row = await db.fetchrow(
        "INSERT INTO projects (name, daemon_id, path) VALUES (%s, %s, %s)"
        " ON CONFLICT (daemon_id, path) DO UPDATE SET name = projects.name"
        " RETURNING id, name, daemon_id, path, created_at",
        (name, daemon_id, path),
    )
    assert row is not None
    return _project(row)


async def get(db: Database, project_id: str) -> Project | None:
    row = await db.fetchrow("SELECT id, name, daemon_id, path, created_at FROM projects WHERE id = %s", (project_id,))
    return _project(row) if row else None


async def list_all(db: Database) -> list[Project]:
    rows = await db.fetch("SELECT id, name, daemon_id, path, created_at FROM projects ORDER BY created_at")
    return [_project(r) for r in rows]


class ChatsRunning(Exception):
    """The project was not deleted: its chats `chat_ids` are running a turn."""

    def __init__(self, chat_ids: list[str]) -> None:
        super().__init__(f"chats running a turn: {', '.join(chat_ids)}")
        self.chat_ids = chat_ids


async def delete_unless_running(db: Database, project_id: str) -> list[str]:
    """Delete the project with its chats (and everything of theirs) unless one of its chats is
    running a turn: returns the ids of the deleted chats, or raises ChatsRunning naming those that
    run (and deletes nothing). The project's chats are locked first, so none can start a turn in
    between, and the ones named are the ones that blocked it."""
    async with db.tx() as tx:
        rows = await tx.fetch("SELECT id, status FROM chats WHERE project_id = %s FOR UPDATE", (project_id,))
        running = [str(r["id"]) for r in rows if r["status"] == "running"]
        if running:
            raise ChatsRunning(running)
        await tx.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        return [str(r["id"]) for r in rows]
