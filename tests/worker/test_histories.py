"""Replay committed workflow histories against the current workflow code, to catch changes that
would break chats already running (non-determinism) before they ship.

`histories/*.json` were recorded before payloads were sealed: plaintext, as a data dir written then
still holds them; they replay through the codec's rule for runs older than the key. `histories/sealed/`
were recorded with the codec and the tests' key, and replay with no plaintext allowed at all.

The scenarios below run for real on every test run and their fresh histories are replayed too
(that catches non-determinism within the current code, e.g. a branch on wall-clock time). With
`RELIANT_RECORD_HISTORIES=1` they are written to `histories/sealed/` instead of a temp dir:
re-record only when a change is meant to be incompatible (and then version the workflow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from reliant.clients.codec import CodecKey, RecordedBeforeTheKey, data_converter
from reliant.worker.workflows import AgentWorkflow, DoctorWorkflow
from tests.conftest import TEST_CODEC_KEY, Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env

HISTORIES = Path(__file__).with_name("histories")
SEALED = HISTORIES / "sealed"
RECORD = os.environ.get("RELIANT_RECORD_HISTORIES") == "1"
KEY = CodecKey.parse(TEST_CODEC_KEY, "tests")


def _history(path: Path) -> WorkflowHistory:
    """A recorded history under its own workflow id: sealed payloads open only for the workflow
    they were sealed for."""
    text = path.read_text()
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId", path.stem), text)


def _replayer(*, plaintext_runs: bool) -> Replayer:
    legacy = RecordedBeforeTheKey() if plaintext_runs else None
    return Replayer(workflows=[AgentWorkflow, DoctorWorkflow], data_converter=data_converter(KEY, legacy))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_history_recorded_before_the_codec_replays(path: Path) -> None:
    assert '"encoding": "anNvbi9wbGFpbg=="' in path.read_text(), "plaintext (json/plain) payloads"
    await _replayer(plaintext_runs=True).replay_workflow(_history(path))


@pytest.mark.parametrize("path", sorted(SEALED.glob("*.json")), ids=lambda p: p.stem)
async def test_sealed_history_replays(path: Path) -> None:
    await _replayer(plaintext_runs=False).replay_workflow(_history(path))


async def test_a_plaintext_history_is_refused_without_the_rule_for_old_runs() -> None:
    history = _history(HISTORIES / "agent-text.json")
    result = await _replayer(plaintext_runs=False).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


def test_histories_are_committed() -> None:
    for where in (HISTORIES, SEALED):
        assert len(list(where.glob("*.json"))) >= 4, "record them: RELIANT_RECORD_HISTORIES=1 pytest " + __file__


async def test_the_scenarios_record_histories_that_replay(infra: Infra, tmp_path: Path) -> None:
    target = SEALED if RECORD else tmp_path / "histories"
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
    assert [p.stem for p in recorded] == sorted(p.stem for p in SEALED.glob("*.json"))
    assert [p.stem for p in recorded] == sorted(p.stem for p in HISTORIES.glob("*.json"))
    replayer = _replayer(plaintext_runs=False)
    for path in recorded:
        await replayer.replay_workflow(_history(path))


async def _started(env: AgentEnv, chat_id: str) -> bool:
    return any(u.kind == "tool_started" for u in await env.updates(chat_id))
