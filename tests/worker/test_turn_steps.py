"""What an agent turn costs in steps: the answer's leading reads run inside its model step, the tool
results message is stored with the last result, and a run's bookkeeping (its opening and end, an
agent tool's records) runs as local activities. Read off the workflows' Temporal histories."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from reliant.db import agents as agents_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import runs as runs_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import Role, ToolState
from reliant.domain.workflows import run_workflow_id
from tests.conftest import Infra
from tests.worker.agent_env import AgentEnv, agent_env


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def steps(history: WorkflowHistory) -> tuple[Counter[str], Counter[str]]:
    """(activities, local activities) the history ran, by type."""
    activities: Counter[str] = Counter()
    local: Counter[str] = Counter()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                data: Any = json.loads(marker.details["data"].payloads[0].data)
                local[data["activity_type"]] += 1
    return activities, local


async def history_of(env: AgentEnv, workflow_id: str) -> WorkflowHistory:
    return await env.client.get_workflow_handle(workflow_id).fetch_history()


async def test_an_agent_turn_runs_its_leading_reads_inside_its_model_step(env: AgentEnv) -> None:
    for name in "ab":
        (env.workspace / f"{name}.txt").write_text(name)
    view = [{"name": "view", "input": {"path": f"{n}.txt"}} for n in "ab"]
    shell = {"name": "shell", "input": {"command": "echo hi > out.txt"}}
    model = env.script([{"tools": view}, {"tools": [shell, view[0]]}, {"text": "done"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)

    activities, local = steps(await history_of(env, f"chat-{chat.id}"))
    assert activities["call_llm"] == 3
    # The first answer's two reads ran in its model step; the second answer's shell call (it
    # changes things) and the read after it ran as steps of their own, in order.
    assert activities["execute_tool"] == 1 and local["execute_tool"] == 1, (activities, local)
    assert (env.workspace / "out.txt").read_text() == "hi\n"

    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert {r.state for r in runs.values()} == {ToolState.COMPLETED}
    assert all(r.attempts == 1 for r in runs.values())
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER] + [Role.ASSISTANT, Role.TOOL] * 2 + [Role.ASSISTANT]
    assert [b.text.split("\t")[-1] for b in transcript[2].blocks] == ["a", "b"]  # both, in the answer's order
    updates = await env.updates(chat.id)
    assert [u.seq for u in updates] == list(range(1, len(updates) + 1))
    tools = [(u.kind, u.payload["tool_call_id"]) for u in updates if u.kind in ("tool_started", "tool_finished")]
    first = [call for kind, call in tools[:4]]
    assert [kind for kind, _ in tools[:4]] == ["tool_started"] * 2 + ["tool_finished"] * 2, tools
    assert sorted(first[:2]) == sorted(first[2:])
    # The tool results came after both results and before the next answer.
    kinds = [u.kind for u in updates]
    results = next(
        i for i, u in enumerate(updates) if u.kind == "message_created" and u.payload["message"]["role"] == "tool"
    )
    assert kinds.index("tool_finished") < results < kinds.index("message_completed", results)


async def test_a_call_llm_node_leaves_its_calls_to_the_execute_tools_node(env: AgentEnv) -> None:
    (env.workspace / "a.txt").write_text("a")
    model = env.script([{"tools": [{"name": "view", "input": {"path": "a.txt"}}]}])
    flows = env.workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "pair.yaml").write_text(
        "name: pair\n"
        "outputs: {executed: '{{nodes.run.executed}}'}\n"
        "entry: ask\n"
        "nodes:\n"
        f"  - {{id: ask, type: call_llm, model: '{model}'}}\n"
        "  - {id: run, type: execute_tools, source: ask}\n"
        "edges:\n"
        "  - {from: ask, default: run}\n"
    )
    chat = await env.new_chat(model)
    await env.trust_project()
    await chats_db.set_workflow(env.db, chat.id, "pair", {})
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    activities, local = steps(await history_of(env, f"chat-{chat.id}"))
    assert local["execute_tool"] == 1, (activities, local)  # the execute_tools node ran it, and counted it
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.outputs == {"executed": 1}


async def test_a_runs_bookkeeping_and_agent_tools_are_local_activities(env: AgentEnv) -> None:
    child = env.script([{"text": "child done"}])
    model = env.script(
        [
            {"tools": [{"name": "spawn_agent", "input": {"task": f"task {i}", "model": child}} for i in range(2)]},
            {"text": "ok"},
        ]
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=60)

    activities, local = steps(await history_of(env, f"chat-{chat.id}"))
    assert local["open_run"] == 1 and local["finish_run"] == 1, (activities, local)
    assert local["begin_agent_tool"] == 2 and local["finish_agent_tool"] == 2, (activities, local)
    assert not {"open_run", "finish_run", "begin_agent_tool", "finish_agent_tool"} & set(activities)
    agents = await agents_db.for_chat(env.db, chat.id)
    assert sorted(a.status.value for a in agents) == ["done", "done"]
    for agent in agents:
        activities, local = steps(await history_of(env, run_workflow_id(chat.id, agent.id)))
        assert local["open_run"] == 1 and local["finish_run"] == 1, (activities, local)
        assert activities["call_llm"] == 1
