"""Two CreateWorktree calls for one chat at once (a double click): one worktree, the other call a
clear failed_precondition, and nothing left behind on disk."""

from __future__ import annotations

import asyncio
import subprocess

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.wire.v1 import chat_pb2, workspace_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.workspace_connect import WorktreeServiceClient
from tests.api.conftest import ApiEnv


async def test_racing_worktree_creations_for_one_chat_leave_one_worktree(api_env: ApiEnv) -> None:
    workspace = api_env.workspace
    (workspace / "notes.txt").write_text("hello\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(workspace)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run([*git, *args], check=True)
    h = api_env.headers
    async with (
        ProjectServiceClient(api_env.url) as projects,
        ChatServiceClient(api_env.url) as chats,
        WorktreeServiceClient(api_env.url) as worktrees,
    ):
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(workspace), daemon_id=api_env.settings.daemon_id), headers=h
        )
        chat = await chats.create_chat(chat_pb2.CreateChatRequest(project_id=project.id), headers=h)

        async def create(name: str) -> object:
            request = workspace_pb2.CreateWorktreeRequest(project_id=project.id, chat_id=chat.id, name=name)
            try:
                return await worktrees.create_worktree(request, headers=h)
            except ConnectError as exc:
                return exc

        results = await asyncio.gather(*(create(f"race-{i}") for i in range(4)))
        made = [r for r in results if isinstance(r, workspace_pb2.Worktree)]
        refused = [r for r in results if isinstance(r, ConnectError)]
        assert len(made) == 1, results
        assert all(r.code == Code.FAILED_PRECONDITION and "already has a worktree" in r.message for r in refused)
        listed = await worktrees.list_worktrees(workspace_pb2.ListWorktreesRequest(project_id=project.id), headers=h)
        assert [w.id for w in listed.worktrees] == [made[0].id]
    on_disk = subprocess.run([*git, "worktree", "list", "--porcelain"], capture_output=True, text=True, check=True)
    assert on_disk.stdout.count("worktree ") == 2  # the project itself and the one worktree
