"""Git worktrees of a project: create, status, diff, remove, keep; whether the project can have them
(a git repository with a commit) and `git init` when it cannot."""

from __future__ import annotations

import logging
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.workspace.daemons import (
    SLOW_TIMEOUT,
    Ctx,
    Daemons,
    guard,
    uuid_arg,
)
from reliant.db import agents as agents_db
from reliant.db import chats as chats_db
from reliant.db import worktrees as worktrees_db
from reliant.domain.agents import AgentRecord
from reliant.domain.chat import Project
from reliant.errors import DaemonUnavailableError
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)


def _worktree(w: worktrees_db.WorktreeRecord) -> pb.Worktree:
    return pb.Worktree(
        id=w.id,
        project_id=w.project_id,
        chat_id=w.chat_id,
        name=w.name,
        branch=w.branch,
        path=w.path,
        base_commit=w.base_commit,
        state=w.state,
        created_unix=w.created_at,
    )


class WorktreeService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def _get(self, worktree_id: str) -> tuple[worktrees_db.WorktreeRecord, Project]:
        worktree = await worktrees_db.get(self.daemons.db, uuid_arg("worktree", worktree_id))
        if worktree is None:
            raise ConnectError(Code.NOT_FOUND, f"worktree {worktree_id} not found")
        return worktree, await self.daemons.project(worktree.project_id)

    async def create_worktree(self, request: pb.CreateWorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            project = await self.daemons.project(request.project_id)
            chat_id = ""
            if request.chat_id:
                chat = await chats_db.get(self.daemons.db, uuid_arg("chat", request.chat_id))
                if chat is None or chat.project_id != project.id:
                    raise ConnectError(Code.NOT_FOUND, f"chat {request.chat_id} not found in project {project.id}")
                if await worktrees_db.active_for_chat(self.daemons.db, chat.id) is not None:
                    raise ConnectError(Code.FAILED_PRECONDITION, f"chat {chat.id} already has a worktree")
                chat_id = chat.id
            name = request.name or (f"chat-{chat_id[:8]}" if chat_id else "")
            if not name:
                raise ConnectError(Code.INVALID_ARGUMENT, "a worktree needs a name (or a chat)")
            body = {"workspace": project.path, "name": name, "branch": request.branch, "base": request.base}
            reply = await self.daemons.ask(project.daemon_id, "worktree.create", body, timeout=SLOW_TIMEOUT)
            info = reply["worktree"]
            record = await worktrees_db.create(
                self.daemons.db,
                project_id=project.id,
                chat_id=chat_id,
                name=info["name"],
                branch=info["branch"],
                path=info["path"],
                base_commit=info["base"],
            )
            if record is None:  # a request racing this one gave the chat its worktree: undo ours
                undo: dict[str, object] = {
                    "workspace": project.path,
                    "path": info["path"],
                    "force": True,
                    "delete_branch": True,
                }
                await self.daemons.ask(project.daemon_id, "worktree.remove", undo, timeout=SLOW_TIMEOUT)
                raise ConnectError(Code.FAILED_PRECONDITION, f"chat {chat_id} already has a worktree")
            return _worktree(record)

        return await guard(work())

    async def list_worktrees(self, request: pb.ListWorktreesRequest, ctx: Ctx) -> pb.ListWorktreesResponse:
        async def work() -> pb.ListWorktreesResponse:
            project = await self.daemons.project(request.project_id)
            found = await worktrees_db.for_project(self.daemons.db, project.id, include_removed=request.include_removed)
            agents = await agents_db.worktrees_of_project(
                self.daemons.db, project.id, include_removed=request.include_removed
            )
            listed = pb.ListWorktreesResponse(
                worktrees=[_worktree(w) for w in found], agents=[_agent_worktree(a) for a in agents]
            )
            if request.include_orphaned:
                try:
                    listed.orphaned.extend(pb.OrphanedWorktree(**o) for o in await self._orphans(project))
                except (ConnectError, DaemonUnavailableError) as exc:
                    listed.orphaned_problem = f"the worktrees no record names could not be listed: {exc}"
            return listed

        return await guard(work())

    async def _orphans(self, project: Project) -> list[dict[str, Any]]:
        """The project's worktrees no record names (left by a deleted chat or agent), as its daemon
        finds them."""
        body = {"workspace": project.path, "known": await worktrees_db.named_paths(self.daemons.db, project.id)}
        reply = await self.daemons.ask(project.daemon_id, "worktree.orphans", body, timeout=SLOW_TIMEOUT)
        return list(reply["orphaned"])

    async def _remove_orphaned(self, request: pb.RemoveWorktreeRequest) -> pb.Worktree:
        """An orphaned worktree removed like any other (refused with uncommitted changes unless
        forced); only one still orphaned, so a recorded worktree is never removed behind its record."""
        project = await self.daemons.project(request.project_id)
        found = [o for o in await self._orphans(project) if o["path"] == request.orphaned_path]
        if not found:
            raise ConnectError(
                Code.NOT_FOUND, f"orphaned_path: no orphaned worktree {request.orphaned_path} in project {project.id}"
            )
        orphan = found[0]
        body = {
            "workspace": project.path,
            "path": orphan["path"],
            "force": request.force,
            "delete_branch": request.delete_branch,
        }
        await self.daemons.ask(project.daemon_id, "worktree.remove", body, timeout=SLOW_TIMEOUT)
        return pb.Worktree(
            project_id=project.id, name=orphan["name"], branch=orphan["branch"], path=orphan["path"], state="removed"
        )

    async def get_worktree_status(self, request: pb.WorktreeRequest, ctx: Ctx) -> pb.WorktreeStatus:
        async def work() -> pb.WorktreeStatus:
            worktree, project = await self._get(request.worktree_id)
            r = await self.daemons.ask(
                project.daemon_id, "worktree.status", {"workspace": project.path, "path": worktree.path}
            )
            return pb.WorktreeStatus(
                branch=r["branch"],
                head=r["head"],
                ahead=r["ahead"],
                behind=r["behind"],
                files=[pb.ChangedFile(**f) for f in r["files"]],
            )

        return await guard(work())

    async def get_worktree_diff(self, request: pb.WorktreeDiffRequest, ctx: Ctx) -> pb.WorktreeDiff:
        async def work() -> pb.WorktreeDiff:
            worktree, project = await self._get(request.worktree_id)
            body = {"workspace": project.path, "path": worktree.path, "base": request.base or worktree.base_commit}
            r = await self.daemons.ask(project.daemon_id, "worktree.diff", body, timeout=SLOW_TIMEOUT)
            return pb.WorktreeDiff(diff=r["diff"], files=r["files"], truncated=r["truncated"])

        return await guard(work())

    async def remove_worktree(self, request: pb.RemoveWorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            if request.orphaned_path:
                if request.worktree_id:
                    raise ConnectError(Code.INVALID_ARGUMENT, "worktree_id: give it or orphaned_path, not both")
                return await self._remove_orphaned(request)
            worktree, project = await self._get(request.worktree_id)
            if worktree.state == "active":
                body = {
                    "workspace": project.path,
                    "path": worktree.path,
                    "force": request.force,
                    "delete_branch": request.delete_branch,
                }
                try:
                    await self.daemons.ask(project.daemon_id, "worktree.remove", body, timeout=SLOW_TIMEOUT)
                except ConnectError as exc:
                    if "changes" in exc.message or "modified" in exc.message or "untracked" in exc.message:
                        raise ConnectError(Code.FAILED_PRECONDITION, exc.message) from None
                    raise
                await worktrees_db.mark_removed(self.daemons.db, worktree.id)
            found = await worktrees_db.get(self.daemons.db, worktree.id)
            assert found is not None
            return _worktree(found)

        return await guard(work())

    async def detach_worktree(self, request: pb.WorktreeRequest, ctx: Ctx) -> pb.Worktree:
        async def work() -> pb.Worktree:
            worktree, _ = await self._get(request.worktree_id)
            await worktrees_db.detach(self.daemons.db, worktree.id)
            found = await worktrees_db.get(self.daemons.db, worktree.id)
            assert found is not None
            return _worktree(found)

        return await guard(work())

    async def get_repository(self, request: pb.RepositoryRequest, ctx: Ctx) -> pb.Repository:
        async def work() -> pb.Repository:
            project = await self.daemons.project(request.project_id)
            r = await self.daemons.ask(project.daemon_id, "worktree.repo", {"workspace": project.path})
            return _repository(r)

        return await guard(work())

    async def init_repository(self, request: pb.InitRepositoryRequest, ctx: Ctx) -> pb.Repository:
        async def work() -> pb.Repository:
            project = await self.daemons.project(request.project_id)
            body = {"workspace": project.path, "commit": request.commit}
            done = await self.daemons.ask(project.daemon_id, "worktree.init", body, timeout=SLOW_TIMEOUT)
            r = await self.daemons.ask(project.daemon_id, "worktree.repo", {"workspace": project.path})
            repository = _repository(r)
            repository.identity = str(done.get("identity") or "")
            return repository

        return await guard(work())


def _repository(r: dict[str, object]) -> pb.Repository:
    return pb.Repository(
        git=bool(r.get("git")),
        commits=bool(r.get("commits")),
        branch=str(r.get("branch") or ""),
        root=str(r.get("root") or ""),
        problem=str(r.get("problem") or ""),
    )


def _agent_worktree(agent: AgentRecord) -> pb.ChatAgentWorktree:
    return pb.ChatAgentWorktree(
        agent_id=agent.id,
        chat_id=agent.chat_id,
        name=agent.name,
        branch=agent.worktree_branch,
        path=agent.worktree_path,
        state=agent.worktree_state,
    )
