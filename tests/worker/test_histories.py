"""Replay committed workflow histories against the current workflow code, to catch changes that
would break chats already running (non-determinism) before they ship.

The scenarios below run for real on every test run and their fresh histories are replayed too
(that catches non-determinism within the current code, e.g. a branch on wall-clock time). With
`RELIANT_RECORD_HISTORIES=1` they are written next to this file instead of a temp dir: re-record
only when a change is meant to be incompatible (and then version the workflow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from reliant.worker.workflows import AgentWorkflow, DoctorWorkflow
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env

HISTORIES = Path(__file__).with_name("histories")
RECORD = os.environ.get("RELIANT_RECORD_HISTORIES") == "1"


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=[AgentWorkflow, DoctorWorkflow]).replay_workflow(history)


def test_histories_are_committed() -> None:
    assert len(list(HISTORIES.glob("*.json"))) >= 4, "record them: RELIANT_RECORD_HISTORIES=1 pytest " + __file__


async def test_the_scenarios_record_histories_that_replay(infra: Infra, tmp_path: Path) -> None:
    target = HISTORIES if RECORD else tmp_path / "histories"
    target.mkdir(exist_ok=True)

    async def _save(env: AgentEnv, chat_id: str, name: str) -> None:
        history = await env.client.get_workflow_handle(f"chat-{chat_id}").fetch_history()
        (target / f"{name}.json").write_text(history.to_json())

    async with agent_env(infra, tmp_path) as env:
        (env.workspace / "a.txt").write_text("alpha\n")
        view = {"name": "view", "input": {"path": "a.txt"}}
        shell = {"name": "shell", "input": {"command": "echo hi >> out"}}

        chat = await env.new_chat(env.script([{"text": "hello"}]))
        await env.chats.send(chat.id, "hi")
        await env.finished(chat.id)
        await _save(env, chat.id, "agent-text")

        chat = await env.new_chat(env.script([{"tools": [view, view]}, {"tools": [shell]}, {"text": "done"}]))
        await env.chats.send(chat.id, "work")
        await env.finished(chat.id)
        await _save(env, chat.id, "agent-tools")

        chat = await env.new_chat(env.script([{"tools": [shell]}, {"tools": [shell]}, {"text": "done"}]))
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "ask me")
        first = await env.pending_approval(chat.id)
        await env.gates.approve(first.id)
        second = await env.pending_approval(chat.id, after=first)
        await env.gates.deny(second.id, "not twice")
        await env.finished(chat.id)
        await _save(env, chat.id, "agent-approvals")

        question = {"questions": [{"question": "Which?", "choices": ["a", "b"]}]}
        chat = await env.new_chat(env.script([{"tools": [{"name": "ask_user", "input": question}]}, {"text": "ok"}]))
        await env.chats.send(chat.id, "ask")

        async def asked() -> object:
            found = await env.gates.pending_questions(chat.id)
            return found[0] if found else None

        pending = await eventually(asked)
        await env.gates.answer(pending.id, ["a"])
        await env.finished(chat.id)
        await _save(env, chat.id, "agent-question")

        chat = await env.new_chat(env.script([{"tools": [{"name": "shell", "input": {"command": "sleep 30"}}]}]))
        await env.chats.send(chat.id, "sleep")
        await eventually(lambda: _started(env, chat.id))
        await env.chats.cancel(chat.id)
        await env.finished(chat.id)
        await _save(env, chat.id, "agent-cancel")

    recorded = sorted(target.glob("*.json"))
    assert [p.stem for p in recorded] == sorted(p.stem for p in HISTORIES.glob("*.json"))
    replayer = Replayer(workflows=[AgentWorkflow, DoctorWorkflow])
    for path in recorded:
        await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, path.read_text()))


async def _started(env: AgentEnv, chat_id: str) -> bool:
    return any(u.kind == "tool_started" for u in await env.updates(chat_id))
