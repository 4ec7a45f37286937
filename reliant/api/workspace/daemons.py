"""What every workspace service shares: finding the project (and worktree) a request is about and
asking its daemon; argument checks; the mapping of daemon errors to Connect codes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from reliant.api.context import ApiContext
from reliant.bus import Incoming
from reliant.clients.daemons import control
from reliant.db import projects as projects_db
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import Project
from reliant.errors import DaemonUnavailableError, quoted

logger = logging.getLogger(__name__)
T = TypeVar("T")
Ctx = RequestContext[Any, Any]

CONTROL_TIMEOUT = 30.0
SLOW_TIMEOUT = 90.0  # MCP restarts, git
KEEPALIVE = 15.0
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
TERMINAL_ID = re.compile(r"^([A-Za-z0-9_-]{1,64})\.(t-[0-9a-f]{12})$")
PROCESS_ID = re.compile(r"^p-[0-9a-f]{10}$")
FRAME = 8


def uuid_arg(kind: str, value: str) -> str:
    if not _UUID.match(value or ""):
        raise ConnectError(Code.INVALID_ARGUMENT, f"{kind} id must be a UUID, got {quoted(value)}")
    return value.lower()


async def guard(work: Awaitable[T]) -> T:
    try:
        return await work
    except ConnectError:
        raise
    except DaemonUnavailableError as exc:
        raise ConnectError(Code.UNAVAILABLE, str(exc)) from None
    except Exception:
        logger.exception("unexpected error in a workspace call")
        raise ConnectError(Code.INTERNAL, "internal error; the api's log has the details") from None


@dataclass(frozen=True, slots=True)
class Target:
    project: Project
    daemon_id: str
    workspace: str  # the project root, or a worktree's path


class Daemons:
    """Finding the daemon and directory a request is about, and asking it."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    async def project(self, project_id: str) -> Project:
        project = await projects_db.get(self.db, uuid_arg("project", project_id))
        if project is None:
            raise ConnectError(Code.NOT_FOUND, f"project {project_id} not found")
        return project

    async def target(self, project_id: str, worktree_id: str = "", chat_id: str = "") -> Target:
        project = await self.project(project_id)
        workspace = project.path
        if worktree_id:
            worktree = await worktrees_db.get(self.db, uuid_arg("worktree", worktree_id))
            if worktree is None or worktree.project_id != project.id or worktree.state != "active":
                raise ConnectError(Code.NOT_FOUND, f"worktree {worktree_id} not found in project {project.id}")
            workspace = worktree.path
        elif chat_id:
            active = await worktrees_db.active_for_chat(self.db, uuid_arg("chat", chat_id))
            if active is not None:
                workspace = active.path
        return Target(project, project.daemon_id, workspace)

    async def ask(self, daemon_id: str, name: str, body: dict[str, Any], timeout: float = CONTROL_TIMEOUT) -> Any:
        """A control request; a refusal becomes INVALID_ARGUMENT (FAILED_PRECONDITION for conflicts)."""
        reply = await control(self.ctx.bus, daemon_id, name, body, timeout=timeout)
        if isinstance(reply, dict) and reply.get("ok") is False:
            code = Code.FAILED_PRECONDITION if reply.get("conflict") else Code.INVALID_ARGUMENT
            if "is closed" in str(reply.get("error", "")) or "no background process" in str(reply.get("error", "")):
                code = Code.NOT_FOUND
            raise ConnectError(code, str(reply.get("error") or "refused by the daemon"))
        return reply


class OffsetFollower:
    """Bytes published as frames (8-byte offset + data) on one subject, delivered in order from a
    given offset: frames before `next` are dropped, later ones held until the gap is filled."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

    async def on_frame(self, msg: Incoming) -> None:
        payload = msg.data
        if len(payload) >= FRAME:
            self.queue.put_nowait((int.from_bytes(payload[:FRAME], "big"), payload[FRAME:]))

    @staticmethod
    def trim(offset: int, data: bytes, wanted: int) -> tuple[int, bytes] | None:
        """The part of (offset, data) at or after `wanted`; None if nothing new."""
        end = offset + len(data)
        if end <= wanted:
            return None
        if offset < wanted:
            data = data[wanted - offset :]
            offset = wanted
        return offset, data
