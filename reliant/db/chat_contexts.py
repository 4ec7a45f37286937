"""chat_contexts: each chat's snapshot of its environment and instruction files, one per workspace
it works in (its project or its worktree, and each of its sub-agents' worktrees)."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from reliant.db.database import Queries
from reliant.domain.context import ChatContext, context_from_json, context_to_json


async def get(db: Queries, chat_id: str, workspace: str) -> ChatContext | None:
    row = await db.fetchrow(
        "SELECT snapshot FROM chat_contexts WHERE chat_id = %s AND workspace = %s", (chat_id, workspace)
    )
    return context_from_json(row["snapshot"]) if row else None


async def of_chats_workspace(db: Queries, chat_id: str) -> ChatContext | None:
    """The snapshot of the workspace the chat itself works in: its active worktree if it has one,
    else its project (never a sub-agent's worktree)."""
    row = await db.fetchrow(
        "SELECT cc.snapshot FROM chat_contexts cc WHERE cc.chat_id = %(chat)s AND cc.workspace = coalesce("
        " (SELECT w.path FROM worktrees w WHERE w.chat_id = %(chat)s AND w.state = 'active'),"
        " (SELECT p.path FROM chats c JOIN projects p ON p.id = c.project_id WHERE c.id = %(chat)s))",
        {"chat": chat_id},
    )
    return context_from_json(row["snapshot"]) if row else None


async def put(db: Queries, chat_id: str, context: ChatContext) -> None:
    """Keyed by the workspace the snapshot was taken in."""
    await db.execute(
        "INSERT INTO chat_contexts (chat_id, workspace, snapshot) VALUES (%s, %s, %s)"
        " ON CONFLICT (chat_id, workspace) DO UPDATE SET snapshot = excluded.snapshot, updated_at = now()",
        (chat_id, context.workspace, Jsonb(context_to_json(context))),
    )
