"""Each chat's snapshot of what its agent is told about the project and the machine (ChatContext).

Taken at the chat's first model call in a workspace: the environment and the instruction files of
the project root and the directories above it, read by the daemon. Kept in the db, one per chat and
workspace (the chat's project or its own worktree, and each worktree its sub-agents work in side by
side), so every turn in a workspace builds the same system prompt from it and the provider's prompt
cache holds.

The rule for subdirectories: once a tool call of the chat names a path (the `path` of view, write,
edit, glob or grep), the instruction files of every directory from the project root down to that
path's directory are in effect from the next model call on; they join the snapshot then. Each
change is announced as a `context` update, which says which files are in effect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reliant.bus import Bus
from reliant.clients import context as context_client
from reliant.clients.context import ContextRefusedError
from reliant.clients.update_log import UpdateLog
from reliant.db import Database
from reliant.db import chat_contexts as chat_contexts_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import Project, StoredMessage
from reliant.domain.context import ChatContext, environment_to_json, instruction_to_json
from reliant.errors import DaemonUnavailableError
from reliant.worker.prompts import PROMPT_VERSION

logger = logging.getLogger(__name__)

PATH_TOOLS = frozenset({"view", "write", "edit", "glob", "grep"})


def touched_paths(transcript: Sequence[StoredMessage]) -> list[str]:
    """The paths the chat's tool calls named, in order, without repeats."""
    seen: dict[str, None] = {}
    for message in transcript:
        for block in message.tool_calls_blocks():
            path = block.tool_input.get("path") if block.tool_name in PATH_TOOLS else None
            if isinstance(path, str) and path.strip() and "\0" not in path:
                seen.setdefault(path.strip(), None)
    return list(seen)


def context_payload(ctx: ChatContext, thread_id: str = "") -> dict[str, object]:
    """The `context` update: which files are in effect (not their text) and the environment, and
    the thread whose model call took it (sub-agents call side by side: a client tells them apart)."""
    return {
        "thread_id": thread_id,
        "prompt_version": ctx.prompt_version,
        "workspace": ctx.workspace,
        "instructions": [instruction_to_json(f, content=False) for f in ctx.instructions],
        "environment": environment_to_json(ctx.environment) if ctx.environment is not None else None,
    }


class ChatContexts:
    def __init__(self, db: Database, bus: Bus, log: UpdateLog) -> None:
        self.db = db
        self.bus = bus
        self.log = log

    async def current(
        self, chat_id: str, project: Project, transcript: Sequence[StoredMessage], thread_id: str = ""
    ) -> ChatContext:
        """The chat's snapshot of the workspace `project.path` (where the calling agent works),
        taken or extended as needed (`thread_id`: the thread of the model call that needs it)."""
        ctx = await chat_contexts_db.get(self.db, chat_id, project.path)
        changed = False
        if ctx is None:
            ctx = await self._take(project)
            changed = True
        fresh = [p for p in touched_paths(transcript) if p not in ctx.checked_paths]
        if fresh:
            before = len(ctx.instructions)
            try:
                found, _ = await context_client.directory_instructions(self.bus, project.daemon_id, project.path, fresh)
            except (DaemonUnavailableError, ContextRefusedError) as exc:
                logger.warning("chat %s: could not look for instruction files: %s", chat_id, exc)
                found = ()
            ctx = ctx.with_directory_files(tuple(fresh), found)
            await chat_contexts_db.put(self.db, chat_id, ctx)
            changed = changed or len(ctx.instructions) > before
        elif changed:
            await chat_contexts_db.put(self.db, chat_id, ctx)
        if changed:
            await self.log.emit(chat_id, kinds.CONTEXT, context_payload(ctx, thread_id))
        return ctx

    async def _take(self, project: Project) -> ChatContext:
        """A new snapshot. A daemon that cannot say (too old, or gone this instant) gives an empty
        one: the chat goes on, with a prompt that stays the same."""
        try:
            environment = await context_client.environment(self.bus, project.daemon_id, project.path)
            instructions = await context_client.project_instructions(self.bus, project.daemon_id, project.path)
        except (DaemonUnavailableError, ContextRefusedError) as exc:
            logger.warning("project %s: no environment or instruction files: %s", project.path, exc)
            return ChatContext(workspace=project.path, environment=None, prompt_version=PROMPT_VERSION)
        return ChatContext(
            workspace=project.path,
            environment=environment,
            instructions=instructions,
            prompt_version=PROMPT_VERSION,
        )
