"""Chats in the demo project (`reliant up --demo`): real services, daemon, git and tools. Each chat
works in its own worktree of the demo project, and the demo project itself keeps the bug for the
next chat."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reliant.clients.daemons import control
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import ChatInfo
from reliant.llm.demo import (
    DEMO_MODEL,
    copy_demo_project,
    demo_project_path,
    make_demo_repository,
)
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AsyncIterator[AgentEnv]:
    async with agent_env(infra, tmp_path) as e:
        yield e


async def demo_project(env: AgentEnv, *, workflow: str = "") -> tuple[Path, str]:
    """The demo project as `reliant up --demo` sets it up (with a workflow file of its own, trusted),
    and its project id."""
    demo = copy_demo_project(demo_project_path(env.settings.data_dir))
    if workflow:
        (demo / ".reliant" / "workflows").mkdir(parents=True)
        (demo / ".reliant" / "workflows" / "mine.yaml").write_text(workflow)
    assert make_demo_repository(demo) and not leapyear_passes(demo)
    project = await env.chats.create_project(str(demo), daemon_id=env.settings.daemon_id)
    if workflow:
        where = {"workspace": str(demo)}
        trust = (await control(env.bus, env.settings.daemon_id, "trust.get", where, timeout=30))["trust"]
        grant = {**where, "fingerprint": trust["fingerprint"]}
        assert (await control(env.bus, env.settings.daemon_id, "trust.grant", grant, timeout=30))["ok"]
    return demo, project.id


def leapyear_passes(where: Path) -> bool:
    done = subprocess.run(["python3", "test_leapyear.py"], cwd=where, capture_output=True, timeout=60)
    return done.returncode == 0


async def played(env: AgentEnv, chat: ChatInfo) -> ChatInfo:
    """Wait for the chat to end its run, approving what the workflow asks to approve (the plan)."""

    answered: set[str] = set()

    async def settled() -> ChatInfo | None:
        now = await env.chats.chat(chat.id)
        if now.status.value == "waiting":
            for approval in await env.gates.pending_approvals(chat.id):
                if approval.id not in answered:
                    answered.add(approval.id)
                    await env.gates.choose(approval.id, "build")
            return None
        return now if now.status.value in ("idle", "paused", "failed") and not now.queued else None

    return await eventually(settled, timeout=150, interval=0.1)


async def test_a_demo_chat_works_in_its_worktree_from_its_first_node_on(env: AgentEnv) -> None:
    """Not only from its first model call: a run node first (or best-of-n's worktrees, which branch
    from where the run works and merge into it) works in the chat's worktree, not in the demo
    project the next chat starts from."""
    first_a_command = "name: mine\nentry: mark\nnodes:\n  - {id: mark, type: run, command: pwd > here.txt}\n"
    demo, project_id = await demo_project(env, workflow=first_a_command)
    chat = await env.chats.create_chat(project_id, DEMO_MODEL, workflow="mine")
    await env.chats.send(chat.id, "go")

    assert (await played(env, chat)).status.value == "idle"
    worktree = await worktrees_db.active_for_chat(env.db, chat.id)
    assert worktree is not None
    assert (Path(worktree.path) / "here.txt").read_text().strip() == worktree.path
    assert not (demo / "here.txt").exists()
