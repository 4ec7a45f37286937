"""A fresh copy of the demo project for every chat in it: the chat's own git worktree, made as its
first run opens (before any node works: a run node, or best-of-n's worktrees, which branch from it
and merge into it), so a second (or tenth) demo chat starts from the failing test again, and the
worktree panel shows what each one changed.

Only the demo project that `reliant up --demo` set up (llm/demo.py) gets this; nothing happens in
any other project, nor when the demo project is not a git repository (git missing). Made once per
chat: a chat that already has a worktree record (active or removed) keeps what it has.
"""

from __future__ import annotations

import logging
from typing import Any

from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.db import Database
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import Project
from reliant.errors import DaemonUnavailableError

logger = logging.getLogger(__name__)

TIMEOUT = 60.0


def worktree_name(chat_id: str) -> str:
    return f"chat-{chat_id[:8]}"


async def demo_worktree(db: Database, bus: Bus, chat_id: str, project: Project) -> worktrees_db.WorktreeRecord | None:
    """The chat's new worktree of the demo project (None when it cannot have one). Idempotent: a
    retry after a crash between the daemon's `git worktree add` and the record finds the worktree."""
    name = worktree_name(chat_id)
    body: dict[str, Any] = {"workspace": project.path, "name": name}
    try:
        reply = await control(bus, project.daemon_id, "worktree.create", body, timeout=TIMEOUT)
        if not reply.get("ok") and "already exists" in str(reply.get("error", "")):
            listed = await control(bus, project.daemon_id, "worktree.list", body, timeout=TIMEOUT)
            found = [w for w in listed.get("worktrees") or () if w.get("name") == name]
            reply = {"ok": bool(found), "worktree": {**found[0], "base": found[0].get("head", "")} if found else {}}
    except DaemonUnavailableError as exc:
        logger.warning("chat %s: no worktree of the demo project: %s", chat_id, exc)
        return None
    if not reply.get("ok"):
        logger.warning("chat %s: no worktree of the demo project: %s", chat_id, reply.get("error"))
        return None
    info = reply["worktree"]
    logger.info("chat %s works in its own worktree of the demo project: %s", chat_id, info["path"])
    return await worktrees_db.create(
        db,
        project_id=project.id,
        chat_id=chat_id,
        name=str(info["name"]),
        branch=str(info["branch"]),
        path=str(info["path"]),
        base_commit=str(info["base"]),
    )
