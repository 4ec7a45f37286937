"""The agent loop with the scripted model, real tools on a real daemon, and real services."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from temporalio.worker import Replayer

from embedded.ports import free_port
from reliant.api.errors import InvalidArgumentError
from reliant.api.role import ApiRole
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import Role, ToolState
from reliant.worker.chat_workflow import ChatWorkflow
from reliant.worker.workflows import AgentWorkflow
from tests.conftest import Infra
from tests.support import RoleRunner, eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(1, len(seqs) + 1))


async def test_a_text_answer_streams_and_is_stored(env: AgentEnv) -> None:
    model = env.script([{"text": "Hello there, I am a scripted model."}])
    chat = await env.new_chat(model)
    client = await env.watch(chat.id)
    sent = await env.chats.send(chat.id, "hi")
    done = await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [(m.role, m.text() if m.role is Role.ASSISTANT else m.blocks[0].text) for m in transcript] == [
        (Role.USER, "hi"),
        (Role.ASSISTANT, "Hello there, I am a scripted model."),
    ]
    assert transcript[0].id == sent.message.id
    updates = await env.updates(chat.id)
    assert contiguous([u.seq for u in updates])
    kinds = [u.kind for u in updates]
    assert kinds.index("message_queued") < kinds.index("message_created") < kinds.index("message_completed")
    assert kinds[-1] == "chat_status" and updates[-1].payload["status"] == "idle"
    # The answer streamed to clients through the live tail, and left no row behind.
    assert not {"message_started", "block_started", "block_delta"} & set(kinds)
    await eventually(lambda: client.log() == updates)
    assert "message_started" in client.kinds() and client.text() == "Hello there, I am a scripted model."
    assert done.title == "hi"


async def test_tools_run_on_the_daemon_and_their_results_reach_the_model(env: AgentEnv) -> None:
    (env.workspace / "notes.txt").write_text("alpha\nbeta\n")
    model = env.script(
        [
            {"text": "Reading.", "tools": [{"name": "view", "input": {"path": "notes.txt"}}]},
            {"tools": [{"name": "shell", "input": {"command": "echo ran >> effects.log; cat notes.txt | wc -l"}}]},
            {"tools": [{"name": "edit", "input": {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"}}]},
            {"text": "Done."},
        ]
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "change beta to gamma")
    await env.finished(chat.id)
    assert (env.workspace / "notes.txt").read_text() == "alpha\ngamma\n"
    assert (env.workspace / "effects.log").read_text() == "ran\n"
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER] + [Role.ASSISTANT, Role.TOOL] * 3 + [Role.ASSISTANT]
    shell_result = transcript[4].blocks[0]
    assert shell_result.text.strip().startswith("2") and not shell_result.is_error
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert {r.state for r in runs.values()} == {ToolState.COMPLETED}
    assert all(r.attempts == 1 for r in runs.values())
    updates = await env.updates(chat.id)
    assert contiguous([u.seq for u in updates])
    finished = [u.payload for u in updates if u.kind == "tool_finished"]
    assert [p["tool_name"] for p in finished] == ["view", "shell", "edit"]
    assert all(p["status"] == "ok" for p in finished)


async def test_a_nul_byte_a_command_prints_reaches_the_model_as_a_replacement_character_and_the_chat_completes(
    env: AgentEnv,
) -> None:
    """Postgres stores no NUL character: reliant stores U+FFFD in its place (database.storable)."""
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [{"tools": [{"name": "shell", "input": {"command": r"printf 'a\0b\n'; printf 'c\0' >&2"}}]}, {"text": "Seen."}],
        call_log=str(log),
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "print a NUL")
    await env.finished(chat.id)

    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    assert "a\ufffdb" in transcript[2].blocks[0].text and "c\ufffd" in transcript[2].blocks[0].text
    [run] = (await tool_runs_db.for_chat(env.db, chat.id)).values()
    assert run.state is ToolState.COMPLETED and "a\ufffdb" in run.output
    [finished] = [u.payload for u in await env.updates(chat.id) if u.kind == "tool_finished"]
    assert finished["status"] == "ok"
    # The model was given the output with the NUL shown.
    [result] = calls_in(log)[1]["messages"][-1]["blocks"]
    assert "a\ufffdb" in result["text"] and "\0" not in result["text"]


async def test_read_only_calls_of_one_turn_run_in_parallel(env: AgentEnv) -> None:
    for name in "abc":
        (env.workspace / f"{name}.txt").write_text(name)
    model = env.script([{"tools": [{"name": "view", "input": {"path": f"{n}.txt"}} for n in "abc"]}, {"text": "ok"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "read all")
    await env.finished(chat.id)
    updates = await env.updates(chat.id)
    kinds = [u.kind for u in updates if u.kind in ("tool_started", "tool_finished")]
    assert kinds[:3] == ["tool_started"] * 3, kinds


async def test_messages_sent_during_a_turn_are_queued_and_taken_in_order(env: AgentEnv) -> None:
    model = env.script([{"text": "first answer", "delay_ms": 100}, {"text": "second answer"}, {"text": "third"}])
    chat = await env.new_chat(model)
    first = await env.chats.send(chat.id, "one")
    await env.status(chat.id, "running")
    second = await env.chats.send(chat.id, "two")
    third = await env.chats.send(chat.id, "three")
    assert second.queued and third.queued
    await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.id for m in transcript if m.role is Role.USER] == [first.message.id, second.message.id, third.message.id]
    assert [m.text() for m in transcript if m.role is Role.ASSISTANT] == ["first answer", "second answer", "third"]


async def test_a_message_stored_by_an_api_that_died_before_handing_it_over_is_answered_once_an_api_starts(
    env: AgentEnv,
) -> None:
    """The api stores a message, then hands it to the chat's workflow. An api killed in between (a
    power cut) left it queued with no workflow holding it: the next api to start hands it over, and
    it is answered once; a message the workflow holds already is not handed over again."""
    log = env.scripts / "calls.jsonl"
    model = env.script([{"text": "first answer", "delay_ms": 200}, {"text": "second answer"}], call_log=str(log))
    chat = await env.new_chat(model)
    lost = await messages_db.enqueue_user(env.db, chat.id, "one")  # stored; the api died here
    held = await env.chats.send(chat.id, "two")  # handed over: the workflow starts with it
    await env.status(chat.id, "running")
    settings = dataclasses.replace(env.settings, api_port=free_port(), api_token="test-api-token")
    async with RoleRunner(ApiRole(settings)):
        await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.id for m in transcript if m.role is Role.USER] == [held.message.id, lost.id]
    assert [m.text() for m in transcript if m.role is Role.ASSISTANT] == ["first answer", "second answer"]
    assert [c["turn"] for c in calls_in(log)] == [0, 1]  # the model was asked once per message


async def test_a_429_waits_as_told_and_the_turn_is_called_again(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [{"text": "after the wait", "error": {"status": 429, "message": "slow down", "retry_after": 1.2}}],
        call_log=str(log),
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    waits = [u.payload for u in await env.updates(chat.id) if u.kind == "retry_wait"]
    assert len(waits) == 1 and waits[0]["seconds"] == pytest.approx(1.2) and "slow down" in waits[0]["reason"]
    calls = calls_in(log)
    assert len(calls) == 2 and calls[1]["time"] - calls[0]["time"] >= 1.1


async def test_a_fatal_provider_error_pauses_the_chat_with_the_reason(env: AgentEnv) -> None:
    model = env.script([{"text": "never", "error": {"status": 401, "message": "invalid x-api-key", "times": 99}}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused")
    assert "invalid x-api-key" in paused.status_reason


async def test_the_thinking_budget_setting_reaches_the_model(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, thinking_budget=6000) as env:
        log = env.scripts / "calls.jsonl"
        chat = await env.new_chat(env.script([{"text": "thought about it"}], call_log=str(log)))
        await env.chats.send(chat.id, "think")
        await env.finished(chat.id)
        assert [c["thinking_budget"] for c in calls_in(log)] == [6000]


async def test_a_missing_api_key_pauses_with_a_clear_message_and_the_worker_lives_on(env: AgentEnv) -> None:
    # The api refuses such a model (tests/api/test_api.py); a chat made while there was a key, or by
    # an api that has one the worker lacks, meets it at its first call.
    project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
    chat = await chats_db.create(env.db, project_id=project.id, model="anthropic:claude-sonnet-4-6")
    await env.chats.send(chat.id, "hello")
    paused = await env.status(chat.id, "paused")
    assert "ANTHROPIC_API_KEY" in paused.status_reason
    other = await env.new_chat(env.script([{"text": "still here"}]))
    await env.chats.send(other.id, "are you alive?")
    await env.finished(other.id)


async def test_an_unknown_model_is_refused_when_the_chat_is_created(env: AgentEnv) -> None:
    project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
    with pytest.raises(InvalidArgumentError, match="unknown model"):
        await env.chats.create_chat(project.id, "gpt-4o")
    with pytest.raises(InvalidArgumentError, match="unknown model"):
        await env.chats.create_chat(project.id, "mystery:thing")


async def test_max_turns_stops_a_model_that_never_finishes(env: AgentEnv, infra: Infra, tmp_path: Path) -> None:
    model = env.script([{"tools": [{"name": "view", "input": {"path": "."}}]}] * 10)
    chat = await env.new_chat(model)
    # A short max_turns for this chat's runs: an input of the built-in agent workflow (default 200).
    await chats_db.set_workflow(env.db, chat.id, "agent", {"max_turns": 3})
    await env.chats.send(chat.id, "loop forever")
    done = await env.finished(chat.id)
    assert "max_turns" in done.status_reason
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER] + [Role.ASSISTANT, Role.TOOL] * 3


async def test_cancel_during_a_slow_answer_aborts_it_and_the_chat_takes_the_next_message(env: AgentEnv) -> None:
    words = " ".join(["word"] * 30)
    model = env.script([{"text": words, "delay_ms": 60}])
    chat = await env.new_chat(model)
    client = await env.watch(chat.id)
    await env.chats.send(chat.id, "talk a lot")
    await eventually(lambda: "block_delta" in client.kinds())
    assert await env.chats.cancel(chat.id)
    done = await env.finished(chat.id)
    assert done.status_reason == "cancelled by the user"
    kinds = [u.kind for u in await env.updates(chat.id)]
    assert "message_aborted" in kinds and "message_completed" not in kinds
    await env.chats.send(chat.id, "again")
    await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    # The aborted answer was never stored, so the scripted model plays its first turn again, in full.
    assert [m.role for m in transcript] == [Role.USER, Role.USER, Role.ASSISTANT]
    assert transcript[-1].text() == words


async def test_a_daemon_outage_pauses_the_chat_and_its_return_resumes_it(env: AgentEnv) -> None:
    model = env.script([{"tools": [{"name": "shell", "input": {"command": "echo hi > out.txt"}}]}, {"text": "ok"}])
    chat = await env.new_chat(model)
    await env.daemon_runner.stop()
    await env.chats.send(chat.id, "write a file")
    paused = await env.status(chat.id, "paused", timeout=60)
    assert paused.status_reason.startswith("daemon offline")
    assert not (env.workspace / "out.txt").exists()
    from reliant.daemon.role import DaemonRole
    from tests.support import RoleRunner

    async with RoleRunner(DaemonRole(env.settings)):
        await env.finished(chat.id, timeout=60)
    assert (env.workspace / "out.txt").read_text() == "hi\n"


async def test_history_replays_deterministically(env: AgentEnv) -> None:
    (env.workspace / "f.txt").write_text("x")
    model = env.script([{"tools": [{"name": "view", "input": {"path": "f.txt"}}]}, {"text": "done"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "look")
    await env.finished(chat.id)
    handle = env.client.get_workflow_handle(f"chat-{chat.id}")
    replayer = Replayer(workflows=[ChatWorkflow, AgentWorkflow], data_converter=env.client.data_converter)
    await replayer.replay_workflow(await handle.fetch_history())


@pytest.mark.timeout(600)
async def test_two_thousand_tool_calls_continue_as_new_without_a_history_warning(env: AgentEnv) -> None:
    (env.workspace / "f.txt").write_text("x")
    turn = {"tools": [{"name": "view", "input": {"path": "f.txt"}} for _ in range(10)]}
    model = env.script([turn] * 200 + [{"text": "read it 2,000 times"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "read the file a lot")
    await env.finished(chat.id, timeout=600)
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert len(runs) == 2000 and {r.state for r in runs.values()} == {ToolState.COMPLETED}
    lengths = []
    async for execution in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'"):
        description = await env.client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
        lengths.append(description.raw_description.workflow_execution_info.history_length)
    assert max(lengths) < 10_240, f"a run reached Temporal's history warning: {lengths}"


async def test_a_long_run_continues_as_new_mid_turn_and_carries_its_state(env: AgentEnv) -> None:

    (env.workspace / "f.txt").write_text("x")
    turn = {
        "tools": [{"name": "view", "input": {"path": "f.txt"}}, {"name": "shell", "input": {"command": "echo x >> n"}}]
    }
    model = env.script([turn] * 30 + [{"text": "done"}])
    chat = await env.new_chat(model)
    # A low history limit makes the run continue as new many times, also between tool calls.
    await env.send_with_history_limit(chat.id, "go", 60)
    await env.finished(chat.id, timeout=120)
    assert (env.workspace / "n").read_text() == "x\n" * 30, "every call ran exactly once across the runs"
    runs = [e async for e in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'")]
    assert len(runs) > 5
    transcript = await messages_db.transcript(env.db, chat.id)
    assert transcript[-1].text() == "done" and len(transcript) == 1 + 30 * 2 + 1


async def test_the_stream_of_a_finished_chat_has_every_update_once(env: AgentEnv) -> None:
    from reliant.api.streaming import stream_updates

    model = env.script([{"text": "a b c d e f g", "delay_ms": 5}])
    chat = await env.new_chat(model)
    seen: list[int] = []

    async def watch() -> None:
        async for update in stream_updates(env.db, env.bus, chat.id, 0):
            if update.seq:
                seen.append(update.seq)
            if update.kind == "chat_status" and update.payload["status"] == "idle":
                return

    watcher = asyncio.create_task(watch())
    await env.chats.send(chat.id, "letters")
    await asyncio.wait_for(watcher, 30)
    assert contiguous(seen)
