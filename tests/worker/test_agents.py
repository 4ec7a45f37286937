"""Sub-agents spawned by the model (spawn_agent and the other agent tools): child workflows on their
own threads and worktrees, real services and daemon, a scripted model per agent."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from embedded.ports import free_port
from reliant.api.agents import Agents
from reliant.api.errors import FailedPreconditionError, InvalidFieldError
from reliant.api.projects import Projects
from reliant.clients.workflow_files import ProjectFiles
from reliant.db import agents as agents_db
from reliant.db import messages as messages_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.agents import AgentRecord, AgentStatus
from reliant.domain.chat import ChatInfo, ChatStatus, Role, ToolState
from reliant.domain.workflows import run_workflow_id
from reliant.engine import SourceText
from reliant.worker import agent_tools, definitions
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in
from tests.worker.test_workflow_runs import flow_chat, write_flow


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(workspace: Path) -> None:
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "config", "user.email", "t@example.com")
    git(workspace, "config", "user.name", "t")
    (workspace / "README.md").write_text("base\n")
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "base")


def spawn(task: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"name": "spawn_agent", "input": {"task": task, "model": model, **extra}}


async def tool_results(env: AgentEnv, chat: ChatInfo, name: str) -> list[Any]:
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    return sorted((r for r in runs.values() if r.tool_name == name), key=lambda r: r.key)


async def refused_spawn(env: AgentEnv, chat: ChatInfo) -> str:
    """Send the chat its message and wait for it to end: its one spawn_agent call failed and no
    agent was made. Its error."""
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)
    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.state is ToolState.FAILED, (result.output, result.error)
    assert await agents_db.for_chat(env.db, chat.id) == []
    return str(result.error)


async def test_three_children_in_parallel_two_in_worktrees_and_the_parent_answers_with_their_results(
    env: AgentEnv,
) -> None:
    make_repo(env.workspace)
    children = []
    for name, slow in (("a", 150), ("b", 150), ("c", 150)):
        children.append(
            env.script(
                [
                    {
                        "tools": [
                            {
                                "name": "shell",
                                "input": {
                                    "command": f"echo {name} > {name}.txt; echo {name} >> {env.scripts}/effects.log"
                                },
                            }
                        ]
                    },
                    {"text": f"child {name} wrote {name}.txt"},
                ],
                delay_ms=slow,
            )
        )
    log = env.scripts / "parent.jsonl"
    parent = env.script(
        [
            {
                "tools": [
                    spawn("write a.txt", children[0], name="A", worktree=True),
                    spawn("write b.txt", children[1], name="B", worktree=True),
                    spawn("write c.txt", children[2], name="C"),
                ]
            },
            {"text": "all three are done"},
        ],
        call_log=str(log),
    )
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "split the work")
    await env.finished(chat.id, timeout=90)

    agents = sorted(await agents_db.for_chat(env.db, chat.id), key=lambda a: a.name)
    assert [(a.name, a.status, a.depth, a.parent_id) for a in agents] == [
        (n, AgentStatus.DONE, 1, "") for n in ("A", "B", "C")
    ]
    assert [a.text for a in agents] == ["child a wrote a.txt", "child b wrote b.txt", "child c wrote c.txt"]
    assert max(a.created_at for a in agents) < min(a.finished_at or 0 for a in agents), "they ran side by side"
    # Effects on disk: each ran its command once, two in their own worktrees on their own branches.
    assert sorted((env.scripts / "effects.log").read_text().split()) == ["a", "b", "c"]
    a, b, c = agents
    assert (Path(a.worktree_path) / "a.txt").read_text() == "a\n" and (Path(b.worktree_path) / "b.txt").exists()
    assert Path(a.worktree_path).parent == env.workspace / ".reliant" / "worktrees"
    assert (env.workspace / "c.txt").read_text() == "c\n" and not c.worktree_path
    assert not (env.workspace / "a.txt").exists() and not (env.workspace / "b.txt").exists()
    branches = git(env.workspace, "branch", "--list", "--format=%(refname:short)", "reliant/*").split()
    assert sorted(branches) == sorted([a.worktree_branch, b.worktree_branch])
    # The parent read each child's answer (and a worktree's diff) as its spawn_agent results.
    spawns = await tool_results(env, chat, "spawn_agent")
    assert [r.state.value for r in spawns] == ["completed"] * 3
    assert "child a wrote a.txt" in spawns[0].output and "+a" in spawns[0].output and "Worktree:" in spawns[0].output
    assert "child c wrote c.txt" in spawns[2].output and "Worktree:" not in spawns[2].output
    calls = calls_in(log)
    assert len(calls) == 2, "the parent's model was called twice: the spawns, then its answer"
    updates = await env.updates(chat.id)
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    kinds = [u.kind for u in updates]
    assert kinds.count("agent_started") == 3 and kinds.count("agent_finished") == 3


async def child_history_kinds(env: AgentEnv, chat: ChatInfo, agent_id: str) -> list[str]:
    history = await env.client.get_workflow_handle(run_workflow_id(chat.id, agent_id)).fetch_history()
    return [e.WhichOneof("attributes") or "" for e in history.events]


async def test_agents_left_running_across_a_continue_as_new_report_their_ends_to_the_next_run(env: AgentEnv) -> None:
    """The run that spawns an agent learns of its end from the child workflow's handle, so the
    agent sends no signal of its own. A run that continues as new holds no handle: the agents still
    running must then tell its next run, or a wait_agents there would wait for ever."""
    (env.workspace / "f.txt").write_text("x")
    release = env.scripts / "release"  # A and B run until the next run waits for them
    hold = {"name": "shell", "input": {"command": f"while [ ! -f {release} ]; do sleep 0.05; done"}}
    slow = [env.script([{"tools": [hold]}, {"text": f"{n} done"}]) for n in ("A", "B")]
    quick = env.script([{"text": "C done"}])
    parent = env.script([{"text": "not yet written"}])
    chat = await env.new_chat(parent)
    a, b = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{chat.id}:call_0_{i}")) for i in (0, 1))
    reads = {"tools": [{"name": "view", "input": {"path": "f.txt"}}] * 2}
    Path(parent.removeprefix("scripted:")).write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {
                        "tools": [
                            spawn("sleep, then answer", slow[0], name="A", wait=False),
                            spawn("sleep, then answer", slow[1], name="B", wait=False),
                            spawn("answer at once", quick, name="C"),
                        ]
                    },
                    *[reads] * 8,
                    {"tools": [{"name": "wait_agents", "input": {"ids": [a, b]}}]},
                    {"text": "all three are done"},
                ]
            }
        )
    )
    # A low history limit makes the chat's run continue as new while A and B still run.
    await env.send_with_history_limit(chat.id, "go", 60)

    async def waiting_after_continuing() -> bool:
        """The run after the continue-as-new waits on A and B: only their word can end its wait."""
        waits = await tool_results(env, chat, "wait_agents")
        runs = [r async for r in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'")]
        return len(runs) > 1 and bool(waits) and waits[0].state is ToolState.EXECUTING

    await eventually(waiting_after_continuing, timeout=60, interval=0.1)

    async def read_them_running() -> bool:
        """The latest run recorded its read of A's and B's records (a local activity's marker)."""
        history = await env.client.get_workflow_handle(f"chat-{chat.id}").fetch_history()
        return any(
            b"agent_statuses" in e.marker_recorded_event_attributes.details["data"].SerializeToString()
            for e in history.events
            if e.HasField("marker_recorded_event_attributes")
        )

    await eventually(read_them_running, timeout=30, interval=0.05)
    release.touch()
    await env.finished(chat.id, timeout=90)

    agents = {x.name: x for x in await agents_db.for_chat(env.db, chat.id)}
    assert {n: x.status for n, x in agents.items()} == {n: AgentStatus.DONE for n in "ABC"}
    [waited] = await tool_results(env, chat, "wait_agents")
    assert waited.state is ToolState.COMPLETED and "A done" in waited.output and "B done" in waited.output
    runs = [r async for r in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'")]
    first = min(runs, key=lambda r: r.start_time)
    assert len(runs) > 1 and first.close_time is not None
    assert first.close_time.timestamp() < min(agents["A"].finished_at or 0, agents["B"].finished_at or 0), (
        "the run that spawned A and B continued as new before they ended"
    )
    # A and B told the run after; C's spawner held its handle, and C sent nothing.
    for name in "AB":
        assert "signal_external_workflow_execution_initiated_event_attributes" in await child_history_kinds(
            env, chat, agents[name].id
        ), name
    assert "signal_external_workflow_execution_initiated_event_attributes" not in await child_history_kinds(
        env, chat, agents["C"].id
    )


async def test_a_note_from_message_agent_reaches_the_running_agent_before_its_next_model_call_once(
    env: AgentEnv,
) -> None:
    log = env.scripts / "child.jsonl"
    started = env.scripts / "child-started"
    go_on = env.scripts / "go-on"
    child = env.script(
        [
            {
                "tools": [
                    {
                        "name": "shell",
                        "input": {"command": f"touch {started}; while [ ! -f {go_on} ]; do sleep 0.05; done"},
                    }
                ]
            },
            {"text": "painted it"},
        ],
        call_log=str(log),
    )
    parent = env.script([{"text": "not yet written"}])
    chat = await env.new_chat(parent)
    agent_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{chat.id}:call_0_0"))
    Path(parent.removeprefix("scripted:")).write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {"tools": [spawn("paint the shed", child, name="painter", wait=False)]},
                    {"tools": [{"name": "message_agent", "input": {"id": agent_id, "message": "use blue"}}]},
                    {"tools": [{"name": "wait_agents", "input": {"ids": [agent_id]}}]},
                    {"text": "the shed is painted"},
                ]
            }
        )
    )
    await env.chats.send(chat.id, "go")
    await eventually(lambda: started.exists() or None, timeout=60)

    async def note_sent() -> Any:
        sent = await tool_results(env, chat, "message_agent")
        return sent if sent and sent[0].state is ToolState.COMPLETED else None

    await eventually(note_sent, timeout=60)
    go_on.touch()  # the note was sent while the agent's command ran: its next call carries it
    await env.finished(chat.id, timeout=60)

    calls = calls_in(log)
    assert len(calls) == 2
    seen = [json.dumps(call["messages"]) for call in calls]
    note = "A note from the agent that started you: use blue"
    assert note not in seen[0] and seen[1].count(note) == 1
    [waited] = await tool_results(env, chat, "wait_agents")
    assert "painted it" in waited.output


async def test_depth_past_the_limit_is_a_tool_error_and_the_chain_answers_up(env: AgentEnv) -> None:
    deeper = env.scripts / "deeper.yaml"
    model = f"scripted:{deeper}"
    deeper.write_text(
        "turns:\n"
        f"  - tools: [{{name: spawn_agent, input: {{task: go deeper, model: '{model}'}}}}]\n"
        "  - text: 'below me: ${result}'\n"
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go deep")
    await env.finished(chat.id, timeout=90)
    agents = sorted(await agents_db.for_chat(env.db, chat.id), key=lambda a: a.depth)
    assert [(a.depth, a.status) for a in agents] == [(d, AgentStatus.DONE) for d in (1, 2, 3)]
    spawns = await tool_results(env, chat, "spawn_agent")
    failed = [r for r in spawns if r.state.value == "failed"]
    assert len(failed) == 1 and "nested 3 deep at most" in failed[0].error
    assert "nested 3 deep at most" in agents[2].text, "the deepest agent read the error"


async def test_the_ninth_concurrent_child_gets_a_tool_error_and_a_cancel_stops_every_waiting_child(
    env: AgentEnv,
) -> None:
    child = env.script([{"tools": [{"name": "shell", "input": {"command": "sleep 0; echo ran"}}]}, {"text": "ok"}])
    parent = env.script(
        [
            {"tools": [spawn(f"task {i}", child, name=f"k{i}") for i in range(9)]},
            {"text": "spawned"},
        ]
    )
    chat = await env.new_chat(parent)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "fan out")

    async def eight_waiting() -> list[Any] | None:
        found = await env.gates.pending_approvals(chat.id)
        return found if len(found) == 8 else None

    waiting = await eventually(eight_waiting, timeout=60)
    spawns = await tool_results(env, chat, "spawn_agent")
    refused = [r for r in spawns if r.state.value == "failed"]
    assert len(refused) == 1 and "8 agents are running in this chat" in refused[0].error
    assert len({w.tool_call_id for w in waiting}) == 8
    await env.chats.cancel(chat.id)

    async def all_stopped() -> list[Any] | None:
        agents = await agents_db.for_chat(env.db, chat.id)
        ended = all(a.status is AgentStatus.CANCELLED for a in agents)
        return agents if ended and len(agents) == 8 else None

    await eventually(all_stopped, timeout=60)
    assert await env.gates.pending_approvals(chat.id) == []
    assert not list(env.workspace.glob("*.txt"))


def marked_processes(marker: str) -> list[psutil.Process]:
    """Live processes that carry `marker` in their command line or their environment."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if marker in " ".join(proc.cmdline()) or marker in "".join(f"{k}={v}" for k, v in proc.environ().items()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


async def agent_workflows_ended(env: AgentEnv, chat: ChatInfo) -> bool:
    """Whether the workflow of every agent of the chat has ended (or never started), not only its record."""
    for agent in await agents_db.for_chat(env.db, chat.id):
        try:
            described = await env.client.get_workflow_handle(run_workflow_id(chat.id, agent.id)).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                continue
            raise
        if described.status is WorkflowExecutionStatus.RUNNING:
            return False
    return True


async def reliant(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reliant", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_cancel_of_the_parent_stops_every_agent_its_gates_and_every_process_on_the_daemon(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        marker = f"reliant-cancel-{uuid.uuid4().hex[:12]}"
        # Each sleeper leaves a command in the background and waits on another, both marked.
        sleeps = f"export MARK={marker}; sleep 300 & sleep 300; wait"
        sleeper = env.script([{"tools": [{"name": "shell", "input": {"command": sleeps}}]}, {"text": "slept"}])
        deep = env.script([{"tools": [{"name": "shell", "input": {"command": sleeps}}]}, {"text": "deep slept"}])
        waiter = env.script(
            [
                {"tools": [{"name": "shell", "input": {"command": f"echo never >> {env.scripts}/effects"}}]},
                {"text": "w"},
            ]
        )
        question = {"questions": [{"question": "Which one?", "choices": ["a", "b"]}]}
        asker = env.script([{"tools": [{"name": "ask_user", "input": question}]}, {"text": "asked"}])
        middle = env.script([{"tools": [spawn("sleep below", deep, name="deep")]}, {"text": "middle done"}])
        parent = env.script(
            [
                {
                    "tools": [
                        spawn("sleep", sleeper, name="sleeper"),
                        spawn("wait for the user", waiter, name="waiter"),
                        spawn("ask the user", asker, name="asker"),
                        spawn("delegate a sleep", middle, name="middle"),
                    ]
                },
                {"text": "all done"},
            ]
        )
        chat = await env.new_chat(parent)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "fan out")

        async def three_waiting() -> list[Any] | None:
            found = await env.gates.pending_approvals(chat.id)
            return found if len(found) == 3 else None

        waiting = await eventually(three_waiting, timeout=60)
        for approval in waiting:
            if marker in approval.input["command"]:
                await env.gates.approve(approval.id)
        # Two sleepers (a child and a grandchild), each with two marked sleeps running on the daemon.
        await eventually(
            lambda: len([p for p in marked_processes(marker) if p.name() == "sleep"]) == 4, timeout=30, interval=0.2
        )
        await eventually(lambda: env.gates.pending_questions(chat.id), timeout=30)
        [still] = await env.gates.pending_approvals(chat.id)
        assert still.input["command"].startswith("echo never")
        by_name = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
        assert sorted(by_name) == ["asker", "deep", "middle", "sleeper", "waiter"]
        assert {a.status for a in by_name.values()} == {AgentStatus.RUNNING}

        await env.chats.cancel(chat.id)

        async def all_cancelled() -> list[Any] | None:
            agents = await agents_db.for_chat(env.db, chat.id)
            return agents if all(a.status is AgentStatus.CANCELLED for a in agents) else None

        await eventually(all_cancelled, timeout=60)
        await env.finished(chat.id, timeout=60)
        assert await env.gates.pending_approvals(chat.id) == []
        assert await env.gates.pending_questions(chat.id) == []

        await eventually(lambda: agent_workflows_ended(env, chat), timeout=30)
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]
        code, out, err = await reliant("approvals", "--chat", chat.id, *where)
        assert (code, out) == (0, "nothing waits for an answer\n"), err
        await eventually(lambda: not marked_processes(marker), timeout=10, interval=0.2)
        assert not (env.scripts / "effects").exists()
        runs = await tool_runs_db.for_chat(env.db, chat.id)
        shells = sorted(r.state for r in runs.values() if r.tool_name == "shell")
        assert ToolState.COMPLETED not in shells and len(shells) == 3, shells
        kinds = [u.kind for u in await env.updates(chat.id)]
        assert kinds.count("approval_requested") == 3 and kinds.count("approval_resolved") == 3
        assert kinds.count("question_asked") == 1 and kinds.count("question_answered") == 1


async def test_a_cancel_stops_the_background_processes_of_its_turn_and_its_agents_and_leaves_earlier_ones(
    env: AgentEnv,
) -> None:
    marks = {name: f"reliant-bg-{name}-{uuid.uuid4().hex[:10]}" for name in ("before", "parent", "child", "busy")}

    def background(name: str) -> dict[str, Any]:
        command = f"export MARK={marks[name]}; sleep 300"
        return {"name": "shell", "input": {"command": command, "run_in_background": True}}

    busy = {"name": "shell", "input": {"command": f"export MARK={marks['busy']}; sleep 300"}}
    child = env.script([{"tools": [background("child")]}, {"tools": [busy]}, {"text": "never"}])
    parent = env.script(
        [
            {"tools": [background("before")]},
            {"text": "a server runs"},
            {"tools": [background("parent")]},
            {"tools": [spawn("start another and wait", child, name="child")]},
            {"text": "never"},
        ]
    )
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "start a server")
    await env.finished(chat.id, timeout=60)
    await env.chats.send(chat.id, "start more, then wait")

    def sleeping(name: str) -> bool:
        return any(p.name() == "sleep" for p in marked_processes(marks[name]))

    await eventually(lambda: all(sleeping(n) for n in marks) or None, timeout=60, interval=0.2)
    await env.chats.cancel(chat.id)
    await env.finished(chat.id, timeout=60)
    try:
        await eventually(
            lambda: not any(marked_processes(marks[n]) for n in ("parent", "child", "busy")), timeout=15, interval=0.2
        )
        assert sleeping("before"), "a background process of an earlier turn goes on"
    finally:
        for proc in marked_processes(marks["before"]):
            proc.kill()


async def test_a_cancel_while_an_agent_is_being_spawned_ends_its_record_too(env: AgentEnv) -> None:
    # The agent is recorded, then its worktree is made: a cancel in between stops the parent before
    # the agent's workflow starts. The record must not stay "running" (it would count against the
    # chat's limits for ever).
    make_repo(env.workspace)
    release = env.scripts / "release"
    hook = env.workspace / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\nwhile [ ! -f {release} ]; do sleep 0.05; done\n")
    hook.chmod(0o755)
    child = env.script([{"text": "never asked"}])
    chat = await env.new_chat(env.script([{"tools": [spawn("t", child, name="late", worktree=True)]}, {"text": "x"}]))
    await env.chats.send(chat.id, "go")
    [agent] = await eventually(lambda: agents_db.for_chat(env.db, chat.id), timeout=30)
    assert agent.status is AgentStatus.RUNNING
    await env.chats.cancel(chat.id)
    await env.finished(chat.id, timeout=30)
    release.touch()  # the worktree is made now, for a spawn nobody waits for

    async def ended() -> Any:
        [found] = await agents_db.for_chat(env.db, chat.id)
        return found if found.status is AgentStatus.CANCELLED else None

    await eventually(ended, timeout=30)
    await eventually(lambda: agent_workflows_ended(env, chat), timeout=30)
    finished = [u.payload for u in await env.updates(chat.id) if u.kind == "agent_finished"]
    assert [(p["agent_id"], p["status"]) for p in finished] == [(agent.id, "cancelled")]
    [spawned] = await tool_results(env, chat, "spawn_agent")
    assert spawned.state is ToolState.INTERRUPTED


async def test_an_interrupt_stops_the_running_agents_and_the_top_agent_answers_the_new_message(
    env: AgentEnv,
) -> None:
    marker = f"reliant-interrupt-{uuid.uuid4().hex[:12]}"
    sleeps = f"export MARK={marker}; sleep 300 & sleep 300; wait"
    sleeper = env.script([{"tools": [{"name": "shell", "input": {"command": sleeps}}]}, {"text": "slept"}])
    waiter = env.script(
        [{"tools": [{"name": "shell", "input": {"command": f"echo never >> {env.scripts}/effects"}}]}, {"text": "w"}]
    )
    middle = env.script([{"tools": [spawn("sleep below", sleeper, name="deep")]}, {"text": "middle done"}])
    log = env.scripts / "parent.jsonl"
    parent = env.script(
        [
            {
                "tools": [
                    spawn("sleep", sleeper, name="sleeper"),
                    spawn("wait for the user", waiter, name="waiter"),
                    spawn("delegate", middle, name="middle"),
                ]
            },
            {"text": "answering the new message"},
        ],
        call_log=str(log),
    )
    chat = await env.new_chat(parent)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "fan out")

    async def three_waiting() -> list[Any] | None:
        found = await env.gates.pending_approvals(chat.id)
        return found if len(found) == 3 else None

    for approval in await eventually(three_waiting, timeout=60):
        if marker in approval.input["command"]:
            await env.gates.approve(approval.id)
    await eventually(
        lambda: len([p for p in marked_processes(marker) if p.name() == "sleep"]) == 4, timeout=60, interval=0.2
    )
    sent = await env.chats.send(chat.id, "stop that and answer this", interrupt=True)
    assert not sent.queued

    async def all_cancelled() -> list[Any] | None:
        agents = await agents_db.for_chat(env.db, chat.id)
        return agents if len(agents) == 4 and all(a.status is AgentStatus.CANCELLED for a in agents) else None

    await eventually(all_cancelled, timeout=60)
    await env.finished(chat.id, timeout=60)
    assert await env.gates.pending_approvals(chat.id) == []
    await eventually(lambda: agent_workflows_ended(env, chat), timeout=30)
    await eventually(lambda: not marked_processes(marker), timeout=10, interval=0.2)
    assert not (env.scripts / "effects").exists()
    calls = calls_in(log)
    assert len(calls) == 2, "the top agent's model: the spawns, then the new message"
    last_user = [m for m in calls[1]["messages"] if m["role"] == "user"][-1]
    assert [b.get("text") for b in last_user["blocks"]] == ["stop that and answer this"]
    transcript = await messages_db.transcript(env.db, chat.id)
    main = [m for m in transcript if m.thread_id == transcript[0].thread_id]
    assert [m.text() for m in main if m.role is Role.USER] == ["fan out", "stop that and answer this"]
    assert main[-1].role is Role.ASSISTANT and main[-1].text() == "answering the new message"
    spawns = await tool_results(env, chat, "spawn_agent")
    assert len(spawns) == 4 and ToolState.COMPLETED not in [r.state for r in spawns]


async def test_agent_nodes_offer_the_agent_tools_unless_their_preset_switches_them_off(env: AgentEnv) -> None:
    on_log, off_log = env.workspace / ".scripts" / "on.jsonl", env.workspace / ".scripts" / "off.jsonl"
    on = env.script([{"text": "on"}], in_project=True, call_log=str(on_log))
    off = env.script([{"text": "off"}], in_project=True, call_log=str(off_log))
    presets = env.workspace / ".reliant" / "presets"
    presets.mkdir(parents=True)
    (presets / "solo.yaml").write_text(f"description: works alone\nmodel: '{off}'\nagents: false\n")
    write_flow(
        env,
        "two",
        f"""
        name: two
        entry: first
        nodes:
          - id: first
            type: agent
            model: "{on}"
          - id: second
            type: agent
            preset: solo
        edges:
          - {{from: first, default: second}}
        """,
    )
    chat = await flow_chat(env, "two")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    [with_agents], [without] = calls_in(on_log), calls_in(off_log)
    assert {"spawn_agent", "wait_agents", "message_agent", "cancel_agent", "list_agents"} <= set(with_agents["tools"])
    assert not {"spawn_agent", "wait_agents"} & set(without["tools"]) and "shell" in without["tools"]


async def test_an_approval_raised_by_a_grandchild_is_answered_by_the_user_and_reaches_that_agent_only(
    env: AgentEnv,
) -> None:
    grandchild = env.script(
        [
            {"tools": [{"name": "shell", "input": {"command": f"echo once >> {env.scripts}/grand.log"}}]},
            {"text": "grandchild: ${result}"},
        ]
    )
    child = env.script(
        [
            {"tools": [spawn("run the command", grandchild, name="grand")]},
            {"text": "child: ${result}"},
        ]
    )
    parent = env.script([{"tools": [spawn("delegate further", child, name="kid")]}, {"text": "parent: ${result}"}])
    chat = await env.new_chat(parent)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    approval = await env.pending_approval(chat.id, timeout=60)
    agents = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    assert (agents["grand"].depth, agents["grand"].parent_id) == (2, agents["kid"].id)
    assert approval.tool_name == "shell" and approval.workflow_id == run_workflow_id(chat.id, agents["grand"].id)
    await env.gates.approve(approval.id)
    await env.finished(chat.id, timeout=60)
    assert (env.scripts / "grand.log").read_text() == "once\n"
    done = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    assert done["grand"].status is AgentStatus.DONE and "once" not in done["kid"].error
    assert done["kid"].text.startswith("child: Agent grand") and "grandchild:" in done["kid"].text


async def test_in_plan_mode_the_model_spawns_no_workflow_that_runs_a_command_unasked(env: AgentEnv) -> None:
    """A plan-mode (or manual) chat changes nothing unasked: spawn_agent is not gated (its agent's
    tool calls are), but a workflow's `run` step is not either. The model, not the user, chose the
    workflow: tdd would run the repository's tests (its conftest.py) unasked."""
    marker = env.scripts / "conftest-ran"
    (env.workspace / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    child = env.script([{"text": "a test, in words"}], final_text="done")
    parent = env.script(
        [{"tools": [spawn("add a feature", child, workflow="tdd", name="tdd")]}, {"text": "parent: ${result}"}]
    )
    chat = await env.new_chat(parent)
    await env.chats.set_mode(chat.id, "plan")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.error.startswith("not spawned: workflow tdd runs the shell command of its step red"), result.error
    assert "plan mode does not allow" in result.error
    assert await agents_db.for_chat(env.db, chat.id) == []
    assert not marker.exists()


async def test_a_spawned_workflow_without_a_task_input_gets_the_task_as_its_first_message(env: AgentEnv) -> None:
    """spawn_agent hands its task to a workflow that takes a `task` input; any other workflow finds
    it as the first message of its thread (it used to be refused: "task: no such input")."""
    flows = env.workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "tidy.yaml").write_text(
        "name: tidy\ninputs: {style: {type: string, default: neat}}\nentry: go\nnodes:\n"
        "  - {id: go, type: agent, prompt: 'Keep it {{inputs.style}}.'}\n"
    )
    log = env.scripts / "tidy.jsonl"
    child = env.script([{"text": "tidied"}], call_log=str(log))
    parent = env.script(
        [{"tools": [spawn("tidy the readme", child, workflow="tidy", name="t")]}, {"text": "parent: ${result}"}]
    )
    chat = await env.new_chat(parent)
    await env.trust_project()  # the project's own workflow, trusted as it is
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.state is ToolState.COMPLETED and result.output.endswith(": done"), (result.error, result.output)
    [agent] = await agents_db.for_chat(env.db, chat.id)
    assert agent.status is AgentStatus.DONE and agent.workflow == "tidy", agent
    [call] = calls_in(log)
    texts = [b.get("text", "") for m in call["messages"] for b in m["blocks"]]
    assert texts[0] == "tidy the readme" and "Keep it neat." in texts, texts


def test_a_spawned_workflow_keeps_to_the_chats_mode_in_its_own_steps_and_its_childrens() -> None:
    """Steps with a mode of their own that asks less than the chat's, or one not known before it
    runs (a template), are refused too, also in a workflow it runs; one that asks as much is not."""
    flows = {
        "build": "name: build\ninputs: {task: {type: string}}\nentry: go\nnodes:\n"
        "  - {id: go, type: agent, mode: auto, prompt: '{{inputs.task}}'}\n",
        "chosen": "name: chosen\ninputs: {task: {type: string}}\nentry: go\nnodes:\n"
        "  - {id: go, type: agent, mode: '{{inputs.task}}', prompt: x}\n",
        "outer": "name: outer\ninputs: {task: {type: string}}\nentry: go\nnodes:\n"
        "  - {id: go, type: workflow, workflow: build, inputs: {task: '{{inputs.task}}'}}\n",
        "careful": "name: careful\ninputs: {task: {type: string}}\nentry: go\nnodes:\n"
        "  - {id: go, type: agent, mode: plan, prompt: '{{inputs.task}}'}\n",
    }
    project = ProjectFiles(tuple(SourceText(n, f"{n}.yaml", t) for n, t in flows.items()))
    assert "step go in a mode of its own (auto)" in definitions.unasked("build", project, "manual")
    assert "workflow chosen runs its step go in a mode of its own" in definitions.unasked("chosen", project, "plan")
    assert "workflow build" in definitions.unasked("outer", project, "manual")
    assert definitions.unasked("careful", project, "manual") == ""
    assert definitions.unasked("build", project, "auto") == ""
    assert definitions.unasked("agent", project, "plan") == ""
    assert "step red" in definitions.unasked("tdd", project, "manual")


async def test_a_forked_child_reads_the_parents_thread_without_the_unanswered_call_that_spawned_it(
    env: AgentEnv,
) -> None:
    log = env.scripts / "forked.jsonl"
    child = env.script([{"text": "forked answer"}], call_log=str(log), own_turns=True)
    parent = env.script(
        [
            {"text": "looking first", "tools": [{"name": "list_agents", "input": {}}]},
            {"text": "now delegating", "tools": [spawn("carry on", child, name="f", thread="fork")]},
            {"text": "parent: ${result}"},
        ]
    )
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "remember the word kumquat")
    await env.finished(chat.id, timeout=60)
    [call] = calls_in(log)
    messages = call["messages"]
    texts = [b.get("text", "") for m in messages for b in m["blocks"]]
    assert "remember the word kumquat" in texts and "looking first" in texts, "it read the parent's thread"
    called = [b["tool_name"] for m in messages for b in m["blocks"] if b["type"] == "tool_call"]
    answered = [b for m in messages for b in m["blocks"] if b["type"] == "tool_result"]
    assert called == ["list_agents"] and len(answered) == 1, "every call it reads has its result"
    assert "now delegating" not in texts and "carry on" in texts[-1]
    [agent] = await agents_db.for_chat(env.db, chat.id)
    assert (agent.thread_mode, agent.text) == ("fork", "forked answer")


async def test_a_sub_agent_on_a_new_thread_has_nothing_to_compact_and_asks_no_activity(env: AgentEnv) -> None:
    """The built-in agent workflow compacts first; a new thread holds only the task (no answer for a
    summary to stand for), so its compact node ends at once. A forked child's thread is the parent's:
    it asks compact_thread, as the chat's own run does."""
    child = env.script([{"text": "done"}])
    both = [spawn("a new thread", child, name="new"), spawn("a fork", child, name="fork", thread="fork")]
    parent = env.script([{"tools": both}, {"text": "both done"}])
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    async def compactions(workflow_id: str) -> int:
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events]
        return scheduled.count("compact_thread")

    agents = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    assert {n: a.status for n, a in agents.items()} == {"new": AgentStatus.DONE, "fork": AgentStatus.DONE}
    assert await compactions(run_workflow_id(chat.id, agents["new"].id)) == 0
    assert await compactions(run_workflow_id(chat.id, agents["fork"].id)) == 1
    assert await compactions(f"chat-{chat.id}") == 1
    # Its compact node is shown done, with the task's size.
    done = [
        u.payload
        for u in await env.updates(chat.id)
        if u.kind == "node_state" and u.payload.get("run_id") == agents["new"].id and u.payload.get("path") == "compact"
    ]
    assert done and done[-1]["status"] == "done"
    assert done[-1]["outputs"]["compacted"] is False and done[-1]["outputs"]["tokens_before"] > 0


async def test_an_agents_worktree_is_merged_kept_or_removed_and_a_conflict_changes_nothing(env: AgentEnv) -> None:
    make_repo(env.workspace)
    writes = {"A": "echo a > a.txt", "B": "echo b > README.md", "C": "echo c > c.txt"}
    spawns = [
        spawn(
            f"write {n}",
            env.script([{"tools": [{"name": "shell", "input": {"command": cmd}}]}, {"text": n}]),
            name=n,
            worktree=True,
        )
        for n, cmd in writes.items()
    ]
    chat = await env.new_chat(env.script([{"tools": spawns}, {"text": "done"}]))
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=90)
    by_name = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    (env.workspace / "README.md").write_text("main\n")
    git(env.workspace, "commit", "-qam", "main moves on")
    (env.workspace / "c.txt").write_text("mine, uncommitted\n")
    agents = Agents(env.chats)

    merged = await agents.worktree(chat.id, by_name["A"].id, "merge")
    assert merged["worktree"]["state"] == "merged" and merged["files"] == ["a.txt"]
    assert (env.workspace / "a.txt").read_text() == "a\n"
    assert git(env.workspace, "log", "-1", "--format=%s").startswith("Merge the work of agent A")
    recorded = await agents_db.get(env.db, by_name["A"].id)
    assert (
        recorded is not None
        and recorded.worktree_commit == merged["commit"] == git(env.workspace, "rev-parse", "HEAD").strip()
    )
    assert not Path(by_name["A"].worktree_path).exists()
    assert by_name["A"].worktree_branch not in git(env.workspace, "branch", "--list")

    with pytest.raises(FailedPreconditionError, match=r"conflicts with main: README\.md"):
        await agents.worktree(chat.id, by_name["B"].id, "merge")
    assert (env.workspace / "README.md").read_text() == "main\n" and Path(by_name["B"].worktree_path).exists()
    with pytest.raises(FailedPreconditionError, match=r"uncommitted changes to files .*: c\.txt"):
        await agents.worktree(chat.id, by_name["C"].id, "merge")
    assert (env.workspace / "c.txt").read_text() == "mine, uncommitted\n"
    assert git(env.workspace, "status", "--porcelain").split() == ["??", "c.txt"], "nothing else changed"

    removed = await agents.worktree(chat.id, by_name["B"].id, "remove")
    assert removed["worktree"]["state"] == "removed" and not Path(by_name["B"].worktree_path).exists()
    assert by_name["B"].worktree_branch not in git(env.workspace, "branch", "--list")
    kept = await agents.worktree(chat.id, by_name["C"].id, "keep")
    assert kept["worktree"]["state"] == "kept" and (Path(by_name["C"].worktree_path) / "c.txt").exists()
    with pytest.raises(FailedPreconditionError, match="merged already"):
        await agents.worktree(chat.id, by_name["A"].id, "merge")
    with pytest.raises(InvalidFieldError, match="action"):
        await agents.worktree(chat.id, by_name["C"].id, "squash")
    statuses = [
        (u.payload["name"], u.payload["worktree"]["state"])
        for u in await env.updates(chat.id)
        if u.kind == "agent_status" and u.payload["worktree"]["state"] != "active"
    ]
    assert statuses == [("A", "merged"), ("B", "removed"), ("C", "kept")]


async def an_agent_of_a_chat_in_a_worktree(env: AgentEnv, command: str) -> tuple[ChatInfo, AgentRecord, Path]:
    """A chat working in a worktree of its own (in a fresh repository) commits chat.txt there, then
    spawns an agent A in a worktree, which runs `command`; the chat, the agent and the chat's worktree."""
    make_repo(env.workspace)
    child = env.script([{"tools": [{"name": "shell", "input": {"command": command}}]}, {"text": "A"}])
    commit = "echo chat > chat.txt && git add chat.txt && git commit -q -m chat"
    parent = env.script(
        [
            {"tools": [{"name": "shell", "input": {"command": commit}}]},
            {"tools": [spawn(command, child, name="A", worktree=True)]},
            {"text": "ok"},
        ]
    )
    chat = await env.new_chat(parent)
    mine = await env.chat_worktree(chat)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=90)
    [agent] = await agents_db.for_chat(env.db, chat.id)
    return chat, agent, mine


async def test_an_agent_of_a_chat_in_its_own_worktree_starts_there_and_is_merged_there(env: AgentEnv) -> None:
    """A chat working in a worktree of its own commits a file, then spawns an agent in a worktree:
    the agent's worktree starts from the chat's commit (it reads the file), and its work is merged
    into the chat's worktree; the project's own checkout is left as it was (files and HEAD)."""
    chat, agent, mine = await an_agent_of_a_chat_in_a_worktree(env, "cat chat.txt; echo b > b.txt")
    head = git(env.workspace, "rev-parse", "HEAD").strip()
    chat_head = git(mine, "rev-parse", "HEAD").strip()
    assert chat_head != head and agent.base_commit == chat_head, "the agent starts from the chat's commit"
    [read] = [r for r in await tool_results(env, chat, "shell") if r.input["command"].startswith("cat")]
    assert read.state is ToolState.COMPLETED and read.output.strip() == "chat", read

    merged = await Agents(env.chats).worktree(chat.id, agent.id, "merge")

    assert merged["worktree"]["state"] == "merged" and merged["files"] == ["b.txt"], merged
    assert (mine / "b.txt").read_text() == "b\n" and git(mine, "rev-parse", "HEAD").strip() == merged["commit"]
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head, "the project's checkout did not move"
    assert not (env.workspace / "b.txt").exists() and not (env.workspace / "chat.txt").exists()
    assert git(env.workspace, "status", "--porcelain") == ""
    assert not Path(agent.worktree_path).exists()


async def test_agents_in_worktrees_side_by_side_each_take_their_workspaces_snapshot_once(env: AgentEnv) -> None:
    """A chat in its own worktree spawns two agents in theirs, each making two model calls side by
    side: each workspace's context is taken once (one `context` update per thread, the prompt the
    same on every call there), and the chat's instruction files stay its own workspace's."""
    make_repo(env.workspace)
    logs = {name: env.scripts / f"{name}.jsonl" for name in ("chat", "A", "B")}
    children = [
        env.script(
            [{"tools": [{"name": "shell", "input": {"command": f"echo {n} > {n}.txt"}}]}, {"text": n}],
            delay_ms=150,
            call_log=str(logs[n]),
        )
        for n in ("A", "B")
    ]
    parent = env.script(
        [
            {"tools": [spawn(f"write {n}.txt", m, name=n, worktree=True) for n, m in zip("AB", children, strict=True)]},
            {"text": "both done"},
        ],
        call_log=str(logs["chat"]),
    )
    chat = await env.new_chat(parent)
    mine = await env.chat_worktree(chat)
    (mine / "AGENTS.md").write_text("Chat rule: only the chat's workspace has it.\n")  # not in its commit
    await env.chats.send(chat.id, "split the work")
    await env.finished(chat.id, timeout=90)

    agents = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    updates = [u.payload for u in await env.updates(chat.id) if u.kind == "context"]
    assert sorted(u["workspace"] for u in updates) == sorted(
        [str(mine), agents["A"].worktree_path, agents["B"].worktree_path]
    ), "each workspace's snapshot taken once, though its calls alternate with the others'"
    assert len({u["thread_id"] for u in updates}) == 3
    for name, log in logs.items():
        first, second = calls_in(log)
        assert first["system"] == second["system"], f"{name}: the same prompt on both calls (the cache holds)"
    assert "Chat rule" in calls_in(logs["chat"])[0]["system"] and "Chat rule" not in calls_in(logs["A"])[0]["system"]
    [own] = [u for u in updates if u["workspace"] == str(mine)]
    assert [f["shown"] for f in own["instructions"]] == ["AGENTS.md"]
    assert [f.path for f in await env.chats.instructions(chat.id)] == [str(mine / "AGENTS.md")]


def test_the_model_is_told_an_agents_worktree_holds_its_last_commit_not_its_uncommitted_changes() -> None:
    """A model that edited files and spawns an agent in a worktree would expect it to see them: it
    is told the worktree starts from its workspace's last commit, so it commits first."""
    said = agent_tools.SPAWN_SCHEMA["properties"]["worktree"]["description"]
    assert "last commit" in said and "not committed" in said, said


async def test_a_grandchild_in_a_worktree_starts_from_and_is_merged_into_its_parents_worktree(env: AgentEnv) -> None:
    make_repo(env.workspace)
    head = git(env.workspace, "rev-parse", "HEAD").strip()
    grandchild = env.script([{"tools": [{"name": "shell", "input": {"command": "cat c.txt > g.txt"}}]}, {"text": "G"}])
    commit = "echo c > c.txt && git add c.txt && git commit -q -m c"
    child = env.script(
        [
            {"tools": [{"name": "shell", "input": {"command": commit}}]},
            {"tools": [spawn("copy c.txt", grandchild, name="G", worktree=True)]},
            {"text": "C"},
        ]
    )
    chat = await env.new_chat(
        env.script([{"tools": [spawn("commit c.txt", child, name="C", worktree=True)]}, {"text": "ok"}])
    )
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=90)
    by_name = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
    parents = Path(by_name["C"].worktree_path)
    assert by_name["G"].base_commit == git(parents, "rev-parse", "HEAD").strip() != head

    merged = await Agents(env.chats).worktree(chat.id, by_name["G"].id, "merge")

    assert merged["files"] == ["g.txt"] and (parents / "g.txt").read_text() == "c\n"
    assert git(parents, "rev-parse", "HEAD").strip() == merged["commit"]
    assert git(env.workspace, "rev-parse", "HEAD").strip() == head and not (env.workspace / "g.txt").exists()
    await Agents(env.chats).worktree(chat.id, by_name["C"].id, "merge")  # the child's, with it, into the project
    assert (env.workspace / "g.txt").read_text() == "c\n" and (env.workspace / "c.txt").read_text() == "c\n"


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("gpt5", "names no provider reliant has"),
        ("anthropic:claude-sonnet-4-6", "cannot be called: anthropic: no API key configured: set RELIANT_ANTHROPIC"),
    ],
)
async def test_a_spawn_with_a_model_it_cannot_call_is_a_tool_error_and_starts_nothing(
    env: AgentEnv, model: str, why: str
) -> None:
    """A model's typo in spawn_agent's `model`, or a provider without a key, is its to correct: the
    call fails saying why, and no agent (nor its workflow) starts (it used to start, fail its first
    model call and pause the whole chat)."""
    parent = env.script([{"tools": [spawn("look around", model)]}, {"text": "parent: ${result}"}])
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.state is ToolState.FAILED, (result.output, result.error)
    assert result.error.startswith(f"not spawned: model {model!r} {why}"), result.error
    assert await agents_db.for_chat(env.db, chat.id) == []
    agent_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{chat.id}:{result.key}"))
    with pytest.raises(RPCError) as caught:
        await env.client.get_workflow_handle(run_workflow_id(chat.id, agent_id)).describe()
    assert caught.value.status == RPCStatusCode.NOT_FOUND


async def test_a_spawn_of_a_workflow_naming_a_model_it_cannot_call_is_a_tool_error_naming_the_node(
    env: AgentEnv,
) -> None:
    """The agent's own model was checked, not those its workflow names: a workflow one of whose
    workflows' nodes says `model: anthropic:...` was spawned without that key, and paused the chat
    at that node's first call. It is refused the way the api refuses it for a chat, and nothing
    starts."""
    flows = env.workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "review.yaml").write_text(
        "name: review\nentry: look\nnodes:\n"
        "  - {id: look, type: call_llm, model: 'anthropic:claude-sonnet-4-6', prompt: Review it.}\n"
    )
    (flows / "ship.yaml").write_text(
        "name: ship\ninputs: {task: {type: string}}\nentry: go\nnodes:\n"
        "  - {id: go, type: agent, prompt: '{{inputs.task}}'}\n"
        "  - {id: check, type: workflow, workflow: review}\n"
        "edges:\n  - {from: go, default: check}\n"
    )
    child = env.script([{"text": "shipped"}], final_text="done")
    parent = env.script([{"tools": [spawn("ship it", child, workflow="ship")]}, {"text": "parent: ${result}"}])
    chat = await env.new_chat(parent)
    await env.trust_project()
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.state is ToolState.FAILED, (result.output, result.error)
    assert result.error.startswith(
        "not spawned: workflow ship cannot run: workflow review's node `look`: model "
        "'anthropic:claude-sonnet-4-6' cannot be called: anthropic: no API key configured: set RELIANT_ANTHROPIC"
    ), result.error
    assert await agents_db.for_chat(env.db, chat.id) == []


KEYLESS_PRESET = "description: Careful.\nmodel: 'anthropic:claude-sonnet-4-6'\n"
NO_ANTHROPIC_KEY = "cannot be called: anthropic: no API key configured: set RELIANT_ANTHROPIC"


async def test_a_spawn_naming_a_project_preset_whose_model_has_no_key_is_a_tool_error_naming_the_preset(
    env: AgentEnv,
) -> None:
    """spawn_agent's `preset` may name one of the project's own presets: a model it names without
    that provider's key is refused like a `model` the spawn names itself, saying which preset named
    it, and nothing starts."""
    presets = env.workspace / ".reliant" / "presets"
    presets.mkdir(parents=True)
    (presets / "careful.yaml").write_text(KEYLESS_PRESET)
    call = {"name": "spawn_agent", "input": {"task": "look around", "preset": "careful"}}
    parent = env.script([{"tools": [call]}, {"text": "parent: ${result}"}])
    chat = await env.new_chat(parent)
    await env.trust_project()
    error = await refused_spawn(env, chat)
    assert error.startswith(f"not spawned: preset careful: model 'anthropic:claude-sonnet-4-6' {NO_ANTHROPIC_KEY}"), (
        error
    )


async def test_a_spawn_of_the_projects_own_agent_workflow_naming_a_model_without_a_key_is_a_tool_error(
    env: AgentEnv,
) -> None:
    """A project's `.reliant/workflows/agent.yaml` shadows the default workflow a spawn runs when it
    names none. Only other workflows' models were checked: an agent whose node took a preset naming
    `anthropic:...` was spawned without that key and paused the chat at its first call. It is
    refused naming the node, its preset and the key, and nothing starts."""
    (env.workspace / ".reliant" / "presets").mkdir(parents=True)
    (env.workspace / ".reliant" / "presets" / "careful.yaml").write_text(KEYLESS_PRESET)
    (env.workspace / ".reliant" / "workflows").mkdir()
    (env.workspace / ".reliant" / "workflows" / "agent.yaml").write_text(
        "name: agent\nentry: work\nnodes:\n  - {id: work, type: agent, preset: careful}\n"
    )
    (env.workspace / ".reliant" / "workflows" / "boss.yaml").write_text(
        "name: boss\nentry: lead\nnodes:\n  - {id: lead, type: agent}\n"
    )
    child = env.script([{"text": "looked"}], final_text="done")
    parent = env.script([{"tools": [spawn("look around", child)]}, {"text": "parent: ${result}"}])
    project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
    await env.trust_project()
    chat = await env.chats.create_chat(project.id, parent, workflow="boss")  # the chat's own run is not agent
    error = await refused_spawn(env, chat)
    assert error.startswith(
        "not spawned: workflow agent cannot run: node `work` (preset `careful`): "
        f"model 'anthropic:claude-sonnet-4-6' {NO_ANTHROPIC_KEY}"
    ), error


async def test_wait_agents_with_a_timeout_of_0_says_how_they_stand_at_once(env: AgentEnv) -> None:
    """A model that asks to wait 0 seconds means "do not wait": it is told at once which agents are
    still running (a timeout of 0 used to mean none, and the call waited for as long as they ran)."""
    mark = f"reliant-wait0-{uuid.uuid4().hex[:10]}"
    child = env.script([{"tools": [{"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300"}}]}])
    parent = env.script([{"text": "rewritten below, once the chat's id gives the agent's"}])
    chat = await env.new_chat(parent)
    agent_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliant:agent:{chat.id}:call_0_0"))
    turns = [
        {"tools": [spawn("sleep", child, name="sleeper", wait=False)]},
        {"tools": [{"name": "wait_agents", "input": {"ids": [agent_id], "timeout_seconds": 0}}]},
        {"tools": [{"name": "cancel_agent", "input": {"id": agent_id}}]},
        {"text": "done"},
    ]
    Path(parent.removeprefix("scripted:")).write_text(yaml.safe_dump({"turns": turns}))
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=30)

    [waited] = await tool_results(env, chat, "wait_agents")
    assert waited.state is ToolState.COMPLETED, waited.error
    assert waited.output == f"Agent sleeper ({agent_id}): running", waited.output
    [agent] = await agents_db.for_chat(env.db, chat.id)
    assert agent.status is AgentStatus.CANCELLED


async def test_a_blank_task_or_note_is_a_tool_error_and_no_agent_starts(env: AgentEnv) -> None:
    """A task (or a note) of spaces and newlines says nothing: the call fails saying so (it used to
    start an agent whose first message was blank, which a provider refuses, pausing the chat)."""
    child = env.script([{"tools": [{"name": "shell", "input": {"command": "sleep 0"}}]}, {"text": "done"}])
    parent = env.script(
        [
            {"tools": [spawn(" \n\t ", child)]},
            {"tools": [spawn("real work", child, name="w")]},
            {"tools": [{"name": "message_agent", "input": {"id": "0", "message": "   "}}]},
            {"text": "parent: ${result}"},
        ]
    )
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    blank, _ = await tool_results(env, chat, "spawn_agent")
    assert (blank.state, blank.error) == (ToolState.FAILED, "invalid spawn_agent call: task: is blank"), blank.error
    [note] = await tool_results(env, chat, "message_agent")
    assert note.error == "invalid message_agent call: message: is blank", note.error
    assert [a.name for a in await agents_db.for_chat(env.db, chat.id)] == ["w"]


async def test_a_task_past_the_limit_is_refused_by_its_size_not_quoted_back_whole(env: AgentEnv) -> None:
    """A 100,000-character task: the error the model reads says how long it is (it used to quote the
    whole task back, and the model read it again on every later call)."""
    parent = env.script([{"tools": [spawn("x" * 100_000, env.script([{"text": "never"}]))]}, {"text": "ok"}])
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    assert result.error == "invalid spawn_agent call: task: a text of 100,000 characters is too long"
    assert await agents_db.for_chat(env.db, chat.id) == []


async def test_a_spawn_of_a_workflow_there_is_not_is_refused_before_an_agent_or_worktree_is_made(
    env: AgentEnv,
) -> None:
    """A model's made-up workflow name: the call fails naming the workflows there are, and nothing
    is left behind (an agent used to be recorded, counted against the chat's limits, and given a
    worktree and a branch the user then had to remove, before its run found no such workflow)."""
    make_repo(env.workspace)
    child = env.script([{"text": "never"}])
    parent = env.script([{"tools": [spawn("go", child, workflow="nosuchflow", worktree=True)]}, {"text": "ok"}])
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    [result] = await tool_results(env, chat, "spawn_agent")
    said = "not spawned: no workflow called 'nosuchflow'; the workflows are agent,"
    assert result.error.startswith(said), result.error
    assert await agents_db.for_chat(env.db, chat.id) == []
    assert not (env.workspace / ".reliant").exists()
    assert git(env.workspace, "branch", "--list", "reliant/*") == ""


async def test_deleting_a_chat_stops_its_agents_workflows_and_their_running_commands(env: AgentEnv) -> None:
    """A chat deleted while its sub-agent runs a long command: the agent's workflow ends and the
    command is killed (only the chat's own workflow used to be terminated: its agents, abandoned
    children, ran on for as long as their commands took, on a chat that was no more)."""
    mark = f"reliant-delete-{uuid.uuid4().hex[:10]}"
    busy = {"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300"}}
    child = env.script([{"tools": [busy]}, {"text": "never"}])
    chat = await env.new_chat(env.script([{"tools": [spawn("busy", child, name="busy")]}, {"text": "never"}]))
    await env.chats.send(chat.id, "go")
    await eventually(lambda: any(p.name() == "sleep" for p in marked_processes(mark)) or None, timeout=60)
    [agent] = await agents_db.for_chat(env.db, chat.id)
    handle = env.client.get_workflow_handle(run_workflow_id(chat.id, agent.id))

    await env.chats.delete(chat.id)

    await ended_with_its_command(handle, mark)


async def ended_with_its_command(handle: WorkflowHandle[Any, Any], mark: str) -> None:
    """The agent's workflow ends and the command it ran (carrying `mark`) is killed."""
    try:

        async def agent_ended() -> bool:
            return (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING

        await eventually(agent_ended, timeout=15, interval=0.2)
        await eventually(lambda: not marked_processes(mark), timeout=15, interval=0.2)
    finally:
        for proc in marked_processes(mark):
            proc.kill()


async def test_deleting_a_chat_kills_every_background_process_it_and_its_agents_started(env: AgentEnv) -> None:
    """Background processes outlive their turn (a dev server), and a cancel leaves an earlier turn's
    running; a deleted chat leaves nothing to show or stop them from, so delete kills them all, its
    agents' too (it used to kill none: `sleep 300` ran on after the chat was gone)."""
    marks = {name: f"reliant-del-bg-{name}-{uuid.uuid4().hex[:10]}" for name in ("before", "parent", "child")}

    def background(name: str) -> dict[str, Any]:
        command = f"export MARK={marks[name]}; sleep 300"
        return {"name": "shell", "input": {"command": command, "run_in_background": True}}

    child = env.script([{"tools": [background("child")]}, {"text": "started"}])
    parent = env.script(
        [
            {"tools": [background("before")]},
            {"text": "a server runs"},
            {"tools": [background("parent"), spawn("start another", child, name="child")]},
            {"text": "all run"},
        ]
    )
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "start a server")
    await env.finished(chat.id, timeout=60)
    await env.chats.send(chat.id, "start more")
    await env.finished(chat.id, timeout=60)

    def sleeping(name: str) -> list[psutil.Process]:
        return [p for p in marked_processes(marks[name]) if p.name() == "sleep"]

    await eventually(lambda: all(sleeping(n) for n in marks) or None, timeout=60, interval=0.2)
    pids = {p.pid for n in marks for p in sleeping(n)}

    await env.chats.delete(chat.id)

    try:
        await eventually(lambda: not any(psutil.pid_exists(pid) for pid in pids) or None, timeout=10, interval=0.2)
    finally:
        for mark in marks.values():
            for proc in marked_processes(mark):
                proc.kill()


async def test_removing_a_project_kills_the_background_processes_of_its_chats(env: AgentEnv) -> None:
    """Removing a project forgets its chats (it is refused only while one runs a turn): an idle
    chat's background process (a dev server) ran on with no chat left to stop it from."""
    mark = f"reliant-rm-project-{uuid.uuid4().hex[:10]}"
    background = {"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300", "run_in_background": True}}
    chat = await env.new_chat(env.script([{"tools": [background]}, {"text": "a server runs"}]))
    await env.chats.send(chat.id, "start a server")
    await env.finished(chat.id, timeout=60)
    await eventually(lambda: [p.pid for p in marked_processes(mark) if p.name() == "sleep"] or None, timeout=30)
    pids = {p.pid for p in marked_processes(mark)}

    removed = await Projects(env.chats.ctx).delete(chat.project_id)

    try:
        assert removed.chats_deleted == 1, removed
        await eventually(lambda: not any(psutil.pid_exists(pid) for pid in pids) or None, timeout=10, interval=0.2)
    finally:
        for proc in marked_processes(mark):
            proc.kill()


async def test_removing_a_project_stops_the_agents_of_a_paused_chat_and_their_commands(env: AgentEnv) -> None:
    """A chat paused by a failed model call while its agent runs a command can be removed with its
    project (only a chat running a turn holds it). That terminated each chat's own workflow only:
    the agent (an abandoned child) ran on, and with it its `sleep 300` on the daemon, for a chat
    that was no more."""
    mark = f"reliant-rm-project-agent-{uuid.uuid4().hex[:10]}"
    busy = {"name": "shell", "input": {"command": f"export MARK={mark}; sleep 300"}}
    child = env.script([{"tools": [busy]}, {"text": "never"}])
    refused = {"error": {"status": 400, "message": "refused"}}
    chat = await env.new_chat(env.script([{"tools": [spawn("busy", child, name="busy", wait=False)]}, refused]))
    await env.chats.send(chat.id, "go")
    await eventually(lambda: any(p.name() == "sleep" for p in marked_processes(mark)) or None, timeout=60)
    await eventually(lambda: _status_is(env, chat, ChatStatus.PAUSED), timeout=60)
    [agent] = await agents_db.for_chat(env.db, chat.id)
    handle = env.client.get_workflow_handle(run_workflow_id(chat.id, agent.id))

    removed = await Projects(env.chats.ctx).delete(chat.project_id)

    await ended_with_its_command(handle, mark)
    assert removed.chats_deleted == 1, removed


async def _status_is(env: AgentEnv, chat: ChatInfo, status: ChatStatus) -> bool:
    return (await env.chats.chat(chat.id)).status is status
