"""A workflow node's runs side by side in git worktrees (count/worktree) and the worktree node that
merges, keeps or removes them: real services, daemon and git, a scripted model per agent. Branches,
worktrees and commits are read from disk after each run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reliant.clients.daemons import control
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import UpdateLog
from reliant.db import agents as agents_db
from reliant.db import chats as chats_db
from reliant.db import runs as runs_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.agents import AgentStatus
from reliant.domain.runs import RunOutcome
from reliant.worker.activities.agents import AgentActivities
from reliant.worker.activities.types import SettleWorktreesInput
from reliant.worker.activities.worktree_runs import WorktreeRunActivities
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in
from tests.worker.test_agents import git, make_repo
from tests.worker.test_workflow_runs import contiguous, write_flow

TEST = "python3 -c \"import greet; assert greet.greet() == 'hello'\""


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def writes(env: AgentEnv, name: str, content: str, *, also: str = "") -> str:
    """A script that reads greet.py, writes `content` into it (and `also`, a file of its own), and says so."""
    tools: list[dict[str, Any]] = [{"name": "write", "input": {"path": "greet.py", "content": content}}]
    if also:
        tools.append({"name": "write", "input": {"path": also, "content": f"{name}\n"}})
    return env.script(
        [
            {"tools": [{"name": "view", "input": {"path": "greet.py"}}]},
            {"tools": tools},
            {"text": f"{name} is done."},
        ],
        call_log=str(env.scripts / f"{name}.jsonl"),
        delay_ms=100,
    )


def repo_with_greet(workspace: Path) -> None:
    make_repo(workspace)
    (workspace / "greet.py").write_text("def greet():\n    return ''\n")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "greet")


async def start(env: AgentEnv, model: str, workflow: str, inputs: dict[str, Any]) -> str:
    chat = await env.new_chat(model)
    if (env.workspace / ".reliant" / "workflows").is_dir():  # the project's own workflow: trusted as it is
        await env.trust_project()
    await chats_db.set_workflow(env.db, chat.id, workflow, inputs)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=120)
    return chat.id


async def top_run(env: AgentEnv, chat_id: str) -> Any:
    [run] = [r for r in await runs_db.for_chat(env.db, chat_id) if r.parent_id is None]
    return run


def worktrees_on_disk(workspace: Path) -> list[str]:
    """`git worktree list` besides the main checkout."""
    lines = git(workspace, "worktree", "list", "--porcelain").splitlines()
    paths = [line.split(" ", 1)[1] for line in lines if line.startswith("worktree ")]
    return [p for p in paths if Path(p) != workspace]


def settler(env: AgentEnv) -> WorktreeRunActivities:
    return WorktreeRunActivities(
        AgentActivities(env.db, env.bus, UpdateLog(env.db, env.bus), ProviderPool(env.db, env.settings))
    )


async def test_best_of_three_merges_the_judges_pick_and_removes_the_other_worktrees_and_branches(
    env: AgentEnv,
) -> None:
    repo_with_greet(env.workspace)
    base = git(env.workspace, "rev-parse", "HEAD").strip()
    models = [
        writes(env, "a", "def greet():\n    return 'hi'\n"),
        writes(env, "b", "def greet():\n    return 'hello'\n", also="b.txt"),
        writes(env, "c", "def greet():\n    return 'hey'\n", also="c.txt"),
    ]
    judge_log = env.scripts / "judge.jsonl"
    judge = env.script(
        [{"tools": [{"name": "respond", "input": {"winner": 2, "reason": "b passes its test"}}]}],
        call_log=str(judge_log),
    )
    task = 'greet() in greet.py returns "hello"'
    chat_id = await start(
        env, judge, "best-of-n", {"task": task, "n": 3, "test_command": TEST, "models": ",".join(models)}
    )

    run = await top_run(env, chat_id)
    assert run.status is RunOutcome.DONE, run.error
    head = git(env.workspace, "rev-parse", "HEAD").strip()
    out = run.outputs
    assert (out["winner"], out["reason"], out["merged"], out["removed"]) == (2, "b passes its test", True, 2)
    assert out["commit"] == head and out["conflicts"] == [] and out["problem"] == ""
    assert "+    return 'hello'" in out["diff"] and "b.txt" in out["diff"]
    # On disk: the winner's work merged into the checked-out branch (a merge commit over the base),
    # the worktrees gone, no agent branch left.
    assert (env.workspace / "greet.py").read_text() == "def greet():\n    return 'hello'\n"
    assert (env.workspace / "b.txt").read_text() == "b\n" and not (env.workspace / "c.txt").exists()
    parents = git(env.workspace, "rev-list", "--parents", "-n", "1", "HEAD").split()[1:]
    assert len(parents) == 2 and parents[0] == base
    assert worktrees_on_disk(env.workspace) == []
    assert git(env.workspace, "branch", "--list", "reliant/*").strip() == ""
    assert not any((env.workspace / ".reliant" / "worktrees").iterdir())
    assert git(env.workspace, "status", "--porcelain", "--untracked-files=no").strip() == ""
    # The runs were agents of the chat, side by side, each in its own worktree on its own branch.
    agents = sorted(await agents_db.for_chat(env.db, chat_id), key=lambda a: a.name)
    assert [(a.name, a.status, a.depth, a.parent_id, a.workflow) for a in agents] == [
        (f"solve #{i}", AgentStatus.DONE, 1, "", "solve") for i in (1, 2, 3)
    ]
    assert [a.worktree_state for a in agents] == ["removed", "merged", "removed"]
    assert agents[1].worktree_commit == head and out["branch"] == agents[1].worktree_branch
    assert len({a.worktree_branch for a in agents}) == 3 and all(a.base_commit == base for a in agents)
    assert [a.model for a in agents] == [f"scripted:{m.removeprefix('scripted:')}" for m in models]
    assert max(a.created_at for a in agents) < min(a.finished_at or 0 for a in agents), "they ran side by side"
    # Each agent's model was called three times, its test ran once (in its worktree); the judge once,
    # with every candidate's diff and test result before it.
    for name in ("a", "b", "c"):
        assert len(calls_in(env.scripts / f"{name}.jsonl")) == 3
    tests = [r for r in (await tool_runs_db.for_chat(env.db, chat_id)).values() if r.tool_name == "run_command"]
    assert sorted(r.data["exit_code"] for r in tests) == [0, 1, 1]
    [judged] = calls_in(judge_log)
    prompt = judged["messages"][-1]["blocks"][0]["text"]
    assert "## Candidate 1: done" in prompt and "## Candidate 3: done" in prompt
    assert "+    return 'hey'" in prompt and "test_exit_code: 0" in prompt
    updates = await env.updates(chat_id)
    assert contiguous(updates)
    kinds = [u.kind for u in updates]
    assert kinds.count("agent_started") == 3 and kinds.count("agent_finished") == 3
    shown = [
        (u.payload["name"], u.payload["worktree"]["state"])
        for u in updates
        if u.kind == "agent_status" and u.payload["worktree"]["state"] != "active"
    ]
    assert sorted(shown) == [("solve #1", "removed"), ("solve #2", "merged"), ("solve #3", "removed")]

    # A retried merge step (the worker died after the merge was recorded) reports it again and
    # merges nothing twice.
    again = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agents[1].id], "merge"))
    assert (again.ok, again.merged, again.commit) == (True, [agents[1].id], head)
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head


FLOW = """
name: race
outputs:
  ok: "{{nodes.merge.ok}}"
  conflicts: "{{nodes.merge.conflicts}}"
  reason: "{{nodes.merge.reason}}"
  path: "{{nodes.solve.runs[0].worktree.path}}"
  removed: "{{nodes.drop.removed}}"
entry: solve
nodes:
  - id: solve
    type: workflow
    workflow: solve
    worktree: true
    inputs: {task: greet says hello}
  - id: meanwhile
    type: run
    command: >-
      printf 'def greet():\\n    return "main"\\n' > greet.py && git commit -qam 'main moved on'
  - id: merge
    type: worktree
    action: merge
    of: "{{nodes.solve.runs[0]}}"
  - id: drop
    type: worktree
    action: remove
    force: true
    of: "{{nodes.solve.runs.map(r, r.agent_id)}}"
edges:
  - {from: solve, default: meanwhile}
  - {from: meanwhile, default: merge}
  - {from: merge, default: drop}
"""


async def test_a_merge_over_a_conflict_is_reported_and_changes_nothing(env: AgentEnv) -> None:
    repo_with_greet(env.workspace)
    write_flow(env, "race", FLOW)
    git(env.workspace, "add", ".")
    git(env.workspace, "commit", "-q", "-m", "the race workflow")
    model = writes(env, "solo", "def greet():\n    return 'hello'\n")
    chat_id = await start(env, model, "race", {})

    run = await top_run(env, chat_id)
    assert run.status is RunOutcome.DONE, run.error
    out = run.outputs
    assert out["ok"] is False and out["conflicts"] == ["greet.py"]
    assert "not merged, nothing changed" in out["reason"] and "conflicts with" in out["reason"]
    # The workspace's own change stands, untouched; the branch was never merged.
    assert (env.workspace / "greet.py").read_text() == 'def greet():\n    return "main"\n'
    assert git(env.workspace, "log", "-1", "--format=%s").strip() == "main moved on"
    assert git(env.workspace, "status", "--porcelain", "--untracked-files=no").strip() == ""
    [agent] = await agents_db.for_chat(env.db, chat_id)
    assert agent.worktree_state == "removed" and agent.worktree_commit == ""
    assert out["removed"] == [agent.id] and not Path(out["path"]).exists()
    assert worktrees_on_disk(env.workspace) == [] and git(env.workspace, "branch", "--list", "reliant/*") == ""


KEEP = """
name: attempt
outputs:
  runs: "{{nodes.solve.runs.map(r, r.agent_id)}}"
entry: solve
nodes:
  - id: solve
    type: workflow
    workflow: solve
    worktree: true
    inputs: {task: greet says hello}
"""


async def test_a_merge_made_before_a_crash_is_recorded_once_and_never_made_again(env: AgentEnv) -> None:
    repo_with_greet(env.workspace)
    write_flow(env, "attempt", KEEP)
    model = writes(env, "solo", "def greet():\n    return 'hello'\n")
    chat_id = await start(env, model, "attempt", {})
    [agent] = await agents_db.for_chat(env.db, chat_id)
    assert agent.worktree_state == "active" and [agent.worktree_path] == worktrees_on_disk(env.workspace)
    # The merge reached git, then the worker died before it was recorded.
    where = {"workspace": str(env.workspace), "path": agent.worktree_path, "message": "merged before the crash"}
    merged = await control(env.bus, env.settings.daemon_id, "worktree.merge", where, timeout=60)
    assert merged["merged"] is True
    head = git(env.workspace, "rev-parse", "HEAD").strip()
    # The retried step finds the branch merged: no second merge commit, the merge recorded, the
    # worktree and its branch removed.
    settled = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "merge"))
    assert (settled.ok, settled.merged, settled.commit) == (True, [agent.id], head)
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head
    assert git(env.workspace, "rev-list", "--count", "--merges", "HEAD").strip() == "1"
    assert (env.workspace / "greet.py").read_text() == "def greet():\n    return 'hello'\n"
    [agent] = await agents_db.for_chat(env.db, chat_id)
    assert (agent.worktree_state, agent.worktree_commit) == ("merged", head)
    assert worktrees_on_disk(env.workspace) == [] and git(env.workspace, "branch", "--list", "reliant/*") == ""
    # Asked again, it is the same answer; a removal of a merged worktree is refused, changing nothing.
    again = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "merge"))
    assert (again.ok, again.commit) == (True, head)
    removed = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "remove"))
    assert removed.ok is False and "is merged: it cannot be removed" in removed.reason


async def test_a_worktree_node_removes_a_worktree_with_uncommitted_changes_only_when_it_says_force(
    env: AgentEnv,
) -> None:
    """A workflow's removal is no user's say-so: a worktree holding changes not committed (the run's
    work, and the user's edit made there since) is kept, its files named in the reason; `force`
    removes it with them. It used to be removed, with them, always."""
    repo_with_greet(env.workspace)
    write_flow(env, "attempt", KEEP)
    model = writes(env, "solo", "def greet():\n    return 'hello'\n")
    chat_id = await start(env, model, "attempt", {})
    [agent] = await agents_db.for_chat(env.db, chat_id)
    path = Path(agent.worktree_path)
    (path / "notes.txt").write_text("the user's notes\n")

    kept = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "remove"))

    assert kept.ok is False and kept.removed == [], kept
    assert "worktree is kept" in kept.reason and "uncommitted changes to 2 files (greet.py, notes.txt)" in kept.reason
    assert (path / "notes.txt").read_text() == "the user's notes\n" and worktrees_on_disk(env.workspace) == [str(path)]
    [agent] = await agents_db.for_chat(env.db, chat_id)
    assert agent.worktree_state == "active"

    forced = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "remove", force=True))

    assert (forced.ok, forced.removed) == (True, [agent.id]), forced
    assert not path.exists() and worktrees_on_disk(env.workspace) == []
    assert git(env.workspace, "branch", "--list", "reliant/*") == ""


async def test_approvals_of_runs_side_by_side_are_tagged_with_their_agent_and_a_cancel_stops_them_all(
    env: AgentEnv,
) -> None:
    repo_with_greet(env.workspace)
    models = [writes(env, name, "def greet():\n    return 'hello'\n") for name in ("a", "b")]
    judge_log = env.scripts / "judge.jsonl"
    judge = env.script([{"text": "never asked"}], call_log=str(judge_log))
    chat = await env.new_chat(judge)
    await env.chats.set_mode(chat.id, "manual")
    inputs = {"task": "greet", "n": 2, "models": ",".join(models)}
    await chats_db.set_workflow(env.db, chat.id, "best-of-n", inputs)
    await env.chats.send(chat.id, "go")

    async def two_waiting() -> list[Any] | None:
        found = await env.gates.pending_approvals(chat.id)
        return found if len(found) == 2 else None

    waiting = await eventually(two_waiting, timeout=60)
    assert sorted(w.agent.name for w in waiting if w.agent is not None) == ["solve #1", "solve #2"]
    await env.chats.cancel(chat.id)

    async def all_stopped() -> list[Any] | None:
        agents = await agents_db.for_chat(env.db, chat.id)
        return agents if len(agents) == 2 and all(a.status is AgentStatus.CANCELLED for a in agents) else None

    agents = await eventually(all_stopped, timeout=60)
    await env.status(chat.id, "idle", timeout=60)
    assert await env.gates.pending_approvals(chat.id) == []
    assert not judge_log.exists(), "the judge was never asked"
    run = await top_run(env, chat.id)
    assert run.status is RunOutcome.CANCELLED
    # Nothing was merged; the worktrees are left for the user to look at, merge or remove.
    assert (env.workspace / "greet.py").read_text() == "def greet():\n    return ''\n"
    assert sorted(worktrees_on_disk(env.workspace)) == sorted(a.worktree_path for a in agents)
    assert all(a.worktree_state == "active" for a in agents)


async def test_runs_in_worktrees_outside_a_git_repository_pause_the_chat_saying_why_and_start_nothing(
    env: AgentEnv,
) -> None:
    model = writes(env, "a", "def greet():\n    return 'hello'\n")
    chat = await env.new_chat(model)
    await chats_db.set_workflow(env.db, chat.id, "best-of-n", {"task": "greet", "n": 2, "models": model})
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused", timeout=60)
    assert "node solve: the runs cannot have worktrees" in paused.status_reason
    assert "is not a git repository" in paused.status_reason
    assert await agents_db.for_chat(env.db, chat.id) == []
    assert not (env.scripts / "a.jsonl").exists(), "no agent was asked anything"


async def test_best_of_n_over_a_conflict_keeps_the_picks_worktree_and_says_why(env: AgentEnv) -> None:
    repo_with_greet(env.workspace)
    # Agent a also changes greet.py in the workspace itself (as a person might meanwhile) and commits it.
    meddle = f"cd {env.workspace} && printf 'def greet():\\n    return \"mine\"\\n' > greet.py && git commit -qam mine"
    a = env.script(
        [{"tools": [{"name": "shell", "input": {"command": meddle}}]}, {"text": "a changed the workspace"}],
    )
    b = writes(env, "b", "def greet():\n    return 'hello'\n")
    judge = env.script([{"tools": [{"name": "respond", "input": {"winner": 2, "reason": "b says hello"}}]}])
    chat_id = await start(env, judge, "best-of-n", {"task": "greet", "n": 2, "models": f"{a},{b}"})

    run = await top_run(env, chat_id)
    assert run.status is RunOutcome.DONE, run.error
    out = run.outputs
    assert (out["winner"], out["merged"], out["commit"], out["conflicts"]) == (2, False, "", ["greet.py"])
    assert "was not merged, nothing changed" in out["problem"] and "its worktree is kept" in out["problem"]
    assert out["removed"] == 1
    # Nothing was overwritten: the workspace keeps its own change; the pick waits in its worktree.
    assert (env.workspace / "greet.py").read_text() == 'def greet():\n    return "mine"\n'
    assert git(env.workspace, "log", "-1", "--format=%s").strip() == "mine"
    agents = sorted(await agents_db.for_chat(env.db, chat_id), key=lambda x: x.name)
    assert [x.worktree_state for x in agents] == ["removed", "active"]
    assert worktrees_on_disk(env.workspace) == [agents[1].worktree_path]
    assert (Path(agents[1].worktree_path) / "greet.py").read_text() == "def greet():\n    return 'hello'\n"
    kept = git(env.workspace, "branch", "--list", "--format=%(refname:short)", "reliant/*").split()
    assert kept == [agents[1].worktree_branch]


async def test_best_of_n_in_a_chat_with_its_own_worktree_starts_from_it_and_merges_into_it(env: AgentEnv) -> None:
    """The runs of a chat that works in a worktree of its own branch from the commit checked out
    there, and the pick is merged there: the project's checkout keeps its files and HEAD."""
    repo_with_greet(env.workspace)
    head = git(env.workspace, "rev-parse", "HEAD").strip()
    models = [
        writes(env, "a", "def greet():\n    return 'hi'\n"),
        writes(env, "b", "def greet():\n    return 'hello'\n", also="b.txt"),
    ]
    judge = env.script([{"tools": [{"name": "respond", "input": {"winner": 2, "reason": "b says hello"}}]}])
    chat = await env.new_chat(judge)
    mine = await env.chat_worktree(chat)
    (mine / "greet.py").write_text("def greet():\n    return 'chat'\n")
    git(mine, "commit", "-qam", "the chat's own")
    chat_head = git(mine, "rev-parse", "HEAD").strip()
    await chats_db.set_workflow(env.db, chat.id, "best-of-n", {"task": "greet", "n": 2, "models": ",".join(models)})
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=120)

    run = await top_run(env, chat.id)
    assert run.status is RunOutcome.DONE, run.error
    assert (run.outputs["merged"], run.outputs["problem"]) == (True, ""), run.outputs
    agents = sorted(await agents_db.for_chat(env.db, chat.id), key=lambda x: x.name)
    assert [a.base_commit for a in agents] == [chat_head, chat_head], "the runs start from the chat's commit"
    assert "return 'chat'" in json.dumps(calls_in(env.scripts / "b.jsonl")[1]), "and read the chat's greet.py"
    assert (mine / "greet.py").read_text() == "def greet():\n    return 'hello'\n" and (mine / "b.txt").exists()
    assert git(mine, "rev-parse", "HEAD").strip() == run.outputs["commit"] == agents[1].worktree_commit
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head, "the project's checkout did not move"
    assert (env.workspace / "greet.py").read_text() == "def greet():\n    return ''\n"
    assert not (env.workspace / "b.txt").exists() and git(env.workspace, "status", "--porcelain").strip() == ""
    assert worktrees_on_disk(env.workspace) == [str(mine)]


async def test_runs_that_cannot_all_start_start_none_and_leave_no_worktree(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, agents_max_per_chat=2) as env:
        repo_with_greet(env.workspace)
        model = writes(env, "a", "def greet():\n    return 'hello'\n")
        chat = await env.new_chat(model)
        await chats_db.set_workflow(env.db, chat.id, "best-of-n", {"task": "greet", "n": 3, "models": model})
        await env.chats.send(chat.id, "go")
        paused = await env.status(chat.id, "paused", timeout=60)
        assert "node solve: run 3 of 3 cannot start: this chat has spawned 2 agents" in paused.status_reason
        agents = await agents_db.for_chat(env.db, chat.id)
        assert [(a.status, a.worktree_state) for a in agents] == [(AgentStatus.FAILED, "removed")] * 2
        assert all(a.error.startswith("not started: run 3 of 3 cannot start") for a in agents)
        assert worktrees_on_disk(env.workspace) == []
        assert git(env.workspace, "branch", "--list", "reliant/*").strip() == ""
        assert not (env.scripts / "a.jsonl").exists(), "no agent was asked anything"


async def test_a_worktree_node_waits_for_a_users_settling_of_the_same_worktree_and_then_honours_it(
    env: AgentEnv,
) -> None:
    """The user removes an agent's worktree (the api holds its lock) while a worktree node merges it:
    the node's step fails to be retried rather than merging under the removal (both used to run),
    and retried once the user's is done, it reads the worktree removed and merges nothing."""
    repo_with_greet(env.workspace)
    write_flow(env, "attempt", KEEP)
    chat_id = await start(env, writes(env, "solo", "def greet():\n    return 'hello'\n"), "attempt", {})
    [agent] = await agents_db.for_chat(env.db, chat_id)
    head = git(env.workspace, "rev-parse", "HEAD").strip()

    async with env.db.tx() as tx:  # the user's request, under way
        assert await agents_db.try_lock_worktree(tx, agent.id)
        with pytest.raises(RuntimeError, match="being settled by another request"):
            await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "merge"))
        assert git(env.workspace, "rev-parse", "HEAD").strip() == head, "nothing merged meanwhile"
        await agents_db.set_worktree_state(tx, agent.id, "removed")  # what it made of the worktree

    retried = await settler(env).settle_worktrees(SettleWorktreesInput(chat_id, [agent.id], "merge"))
    assert retried.ok is False and "is removed: it cannot be merged" in retried.reason
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head


async def test_a_count_of_a_million_runs_pauses_at_once_saying_how_many_may_run(env: AgentEnv) -> None:
    model = writes(env, "a", "def greet():\n    return 'hello'\n")
    chat = await env.new_chat(model)
    await chats_db.set_workflow(env.db, chat.id, "best-of-n", {"task": "greet", "n": 1_000_000, "models": model})
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused", timeout=30)  # it made a million keys, then looked each one up
    assert "node solve: 1,000,000 runs cannot start: at most 8 may run at once in a chat (max_concurrent)" in (
        paused.status_reason
    )
    assert await agents_db.for_chat(env.db, chat.id) == []
    assert not (env.scripts / "a.jsonl").exists(), "no agent was asked anything"
