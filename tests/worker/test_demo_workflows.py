"""`scripted:demo` plays every built-in workflow to its end in the demo project (`reliant up --demo`):
real services, daemon, git and tools. Each chat works in its own worktree of the demo project; where
the workflow builds, the leap-year tests pass there afterwards and the demo project itself still
holds the bug for the next chat."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reliant.clients.daemons import control
from reliant.db import agents as agents_db
from reliant.db import runs as runs_db
from reliant.db import worktrees as worktrees_db
from reliant.domain.chat import ChatInfo
from reliant.domain.runs import RunOutcome
from reliant.llm.demo import (
    DEMO_INPUTS,
    DEMO_MODEL,
    DEMO_TASK,
    copy_demo_project,
    demo_model,
    demo_project_path,
    make_demo_repository,
)
from reliant.workflow_library import builtin_workflows
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env

BUILTINS = sorted(w.name for w in builtin_workflows())
BUILDS = {"agent", "best-of-n", "plan-then-build", "review", "solve", "tdd"}  # review-changes only reviews
# What each run's outputs say, true to what happened (the fresh demo's changes are still to be made).
SAID: dict[str, dict[str, object]] = {
    "best-of-n": {"winner": 1, "merged": True, "removed": 2},
    "plan-then-build": {"approved": True},
    "review": {"approved": True, "rounds": 1},
    "review-changes": {"verdict": "request_changes"},
    "solve": {"tested": True, "test_exit_code": 0},
    "tdd": {"passed": True, "rounds": 1},
}


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


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("workflow", "extra"),
    # review's reviewer as a sub-agent too: a child run of a demo chat plays its own workflow's demo.
    [*((w, {}) for w in BUILTINS), ("review", {"reviewer": "agent"})],
    ids=[*BUILTINS, "review-by-agent"],
)
async def test_the_demo_model_plays_every_builtin_workflow_to_its_end(
    env: AgentEnv, workflow: str, extra: dict[str, str]
) -> None:
    demo, project_id = await demo_project(env)
    inputs = {**DEMO_INPUTS.get(workflow, {}), **extra}
    chat = await env.chats.create_chat(project_id, DEMO_MODEL, workflow=workflow, inputs=inputs)
    await env.chats.send(chat.id, DEMO_TASK)

    ended = await played(env, chat)

    assert ended.status.value == "idle", ended.status_reason
    [run] = [r for r in await runs_db.for_chat(env.db, chat.id) if r.parent_id is None]
    assert run.status is RunOutcome.DONE, run.error
    said = SAID.get(workflow, {})
    assert {k: run.outputs.get(k) for k in said} == said, run.outputs
    worktree = await worktrees_db.active_for_chat(env.db, chat.id)
    assert worktree is not None, "a demo chat works in a worktree of its own"
    assert leapyear_passes(Path(worktree.path)) is (workflow in BUILDS), run.outputs
    assert not leapyear_passes(demo), "the demo project keeps its bug for the next chat"
    for agent in await agents_db.for_chat(env.db, chat.id):  # best-of-n's candidates, review's reviewer
        assert agent.model == demo_model(DEMO_MODEL, agent.workflow), agent


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
