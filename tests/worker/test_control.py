"""The human in control: modes, approvals, questions, pause/resume, cancel and interrupt, with the
scripted model and real tools on a real daemon."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from reliant.api.errors import FailedPreconditionError
from reliant.db import messages as messages_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import Role, ToolState
from tests.conftest import Infra
from tests.support import eventually, pid_alive
from tests.worker.agent_env import AgentEnv, agent_env, calls_in


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def shell(command: str) -> dict[str, Any]:
    return {"name": "shell", "input": {"command": command}}


async def tool_results(env: AgentEnv, chat_id: str) -> list[str]:
    transcript = await messages_db.transcript(env.db, chat_id)
    return [b.text for m in transcript if m.role is Role.TOOL for b in m.blocks]


async def test_manual_mode_asks_before_mutating_calls_only(env: AgentEnv) -> None:
    (env.workspace / "a.txt").write_text("a")
    model = env.script(
        [
            {"tools": [{"name": "view", "input": {"path": "a.txt"}}]},
            {"tools": [shell("echo x >> effects")]},
            {"text": "ok"},
        ]
    )
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    approval = await env.pending_approval(chat.id)
    assert approval.tool_name == "shell" and approval.input == {"command": "echo x >> effects"}
    waiting = await env.status(chat.id, "waiting")
    assert waiting.pending_gates == 1 and not (env.workspace / "effects").exists()
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert [r.state for r in runs.values() if r.tool_name == "view"] == [ToolState.COMPLETED]
    await env.gates.approve(approval.id)
    await env.finished(chat.id)
    assert (env.workspace / "effects").read_text() == "x\n"
    kinds = [u.kind for u in await env.updates(chat.id)]
    assert kinds.count("approval_requested") == 1 and kinds.count("approval_resolved") == 1


async def test_plan_mode_offers_only_read_only_tools_and_refuses_the_rest(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    model = env.script([{"tools": [shell("echo no >> effects")]}, {"text": "Here is the plan."}], call_log=str(log))
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "plan")
    await env.chats.send(chat.id, "plan it")
    await env.finished(chat.id)
    offered = set(calls_in(log)[0]["tools"])
    assert offered == {"view", "glob", "grep", "ask_user"} or (
        {"view", "ask_user"} <= offered and "shell" not in offered
    )
    assert "write" not in offered and "edit" not in offered and "shell" not in offered
    assert "plan mode" in calls_in(log)[0]["system"]
    assert not (env.workspace / "effects").exists()
    assert "plan mode" in (await tool_results(env, chat.id))[0]
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert [r.state for r in runs.values()] == [ToolState.DENIED]


async def test_auto_mode_offers_every_tool(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    chat = await env.new_chat(env.script([{"text": "hi"}], call_log=str(log)))
    await env.chats.send(chat.id, "hi")
    await env.finished(chat.id)
    assert {"view", "write", "edit", "shell", "ask_user"} <= set(calls_in(log)[0]["tools"])


async def test_a_denial_with_a_message_reaches_the_model_and_the_loop_goes_on(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [{"tools": [shell("rm -rf build; echo ran >> effects")]}, {"text": "Understood, I won't."}], call_log=str(log)
    )
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "clean up")
    approval = await env.pending_approval(chat.id)
    run_id = (await env.client.get_workflow_handle(f"chat-{chat.id}").describe()).run_id
    await env.gates.deny(approval.id, "keep the build directory")
    await env.finished(chat.id)
    results = await tool_results(env, chat.id)
    assert results == ["The user denied this tool call. Their message: keep the build directory"]
    assert not (env.workspace / "effects").exists()
    assert [c["turn"] for c in calls_in(log)] == [0, 1], "no turn was asked twice"
    assert (await env.client.get_workflow_handle(f"chat-{chat.id}").describe()).run_id == run_id, "nothing restarted"
    transcript = await messages_db.transcript(env.db, chat.id)
    assert transcript[-1].text() == "Understood, I won't."


async def test_always_allow_scopes_a_shell_prefix(env: AgentEnv) -> None:
    model = env.script(
        [
            {"tools": [shell("touch one")]},
            {"tools": [shell("touch two")]},
            {"tools": [shell("mkdir other")]},
            {"text": "done"},
        ]
    )
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    first = await env.pending_approval(chat.id)
    await env.gates.approve(first.id, scope="prefix", command_prefix="touch ")
    # "touch two" matches the prefix and runs without asking; "mkdir other" does not and asks.
    second = await env.pending_approval(chat.id, after=first)
    assert second.input == {"command": "mkdir other"}
    assert (env.workspace / "one").exists() and (env.workspace / "two").exists()
    await env.gates.approve(second.id, scope="chat")
    await env.finished(chat.id)
    assert (env.workspace / "other").exists()


async def test_a_shell_prefix_allows_that_command_alone_not_one_chained_after_it(env: AgentEnv) -> None:
    """Allowing `git status` for good lets the model run `git status ...`, not `git status; rm -rf ~`
    nor `git statusx`: a command line that runs (or writes) anything else asks again."""
    sneaky = [
        "git status; touch chained",
        "git status && touch chained",
        "git status | touch chained",
        "git status $(touch chained)",
        "git status `touch chained`",
        "git status\ntouch chained",
        "git status >(touch chained)",
        "git status > written",
        "git statusx",
    ]
    model = env.script(
        [
            {"tools": [shell("git status")]},
            {"tools": [shell("git status --short")]},
            *({"tools": [shell(command)]} for command in sneaky),
            {"text": "done"},
        ]
    )
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    first = await env.pending_approval(chat.id)
    await env.gates.approve(first.id, scope="prefix", command_prefix="git status")
    asked = await env.pending_approval(chat.id, after=first)  # `git status --short` ran without asking
    for command in sneaky:
        assert asked.input == {"command": command}
        await env.gates.deny(asked.id, "no")
        if command != sneaky[-1]:
            asked = await env.pending_approval(chat.id, after=asked)
    await env.finished(chat.id)
    assert not (env.workspace / "chained").exists() and not (env.workspace / "written").exists()


async def test_racing_answers_and_a_cancel_give_one_outcome_and_clean_errors(env: AgentEnv) -> None:
    model = env.script([{"tools": [shell("echo once >> effects")]}, {"text": "done"}])
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    approval = await env.pending_approval(chat.id)
    outcomes = await asyncio.gather(
        env.gates.approve(approval.id),
        env.gates.deny(approval.id, "no"),
        env.gates.approve(approval.id, scope="chat"),
        env.chats.cancel(chat.id),
        return_exceptions=True,
    )
    answers = outcomes[:3]
    errors = [o for o in answers if isinstance(o, Exception)]
    assert all(isinstance(e, FailedPreconditionError) for e in errors), errors
    assert len(errors) >= 2, "at most one answer is accepted"
    await env.finished(chat.id)
    effects = (env.workspace / "effects").read_text() if (env.workspace / "effects").exists() else ""
    assert effects in ("", "once\n")
    with pytest.raises(FailedPreconditionError):
        await env.gates.approve(approval.id)


async def test_a_call_cancelled_while_it_waits_for_approval_is_announced_finished(env: AgentEnv) -> None:
    # A client that follows the updates must learn how every call ended without reloading: the call
    # the stop settled (it never ran) gets its tool_finished like any other.
    model = env.script([{"tools": [shell("echo never >> effects")]}, {"text": "done"}])
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    approval = await env.pending_approval(chat.id)
    await env.chats.cancel(chat.id)
    await env.finished(chat.id)
    finished = [u.payload for u in await env.updates(chat.id) if u.kind == "tool_finished"]
    assert [(p["tool_call_id"], p["status"]) for p in finished] == [(approval.tool_call_id, "interrupted")]
    assert "cancelled" in finished[0]["error"]
    assert not (env.workspace / "effects").exists()


async def test_cancel_during_a_long_shell_kills_its_process_group_quickly(env: AgentEnv) -> None:
    model = env.script([{"tools": [shell("echo $$ > pid; sleep 120")]}, {"text": "next answer"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "sleep a while")
    pid_file = env.workspace / "pid"
    pid = int(await eventually(lambda: pid_file.exists() and pid_file.read_text().strip()))
    assert pid_alive(pid)
    began = time.monotonic()
    assert await env.chats.cancel(chat.id)
    await eventually(lambda: not pid_alive(pid), timeout=5, interval=0.02)
    assert time.monotonic() - began < 2.0, "the process group outlived the cancel by 2 s"
    done = await env.finished(chat.id)
    assert done.status_reason == "cancelled by the user"
    runs = await tool_runs_db.for_chat(env.db, chat.id)
    assert [r.state for r in runs.values()] == [ToolState.INTERRUPTED]
    await env.chats.send(chat.id, "and now?")
    await env.finished(chat.id)


async def test_ask_user_waits_for_the_answers_which_become_the_result(env: AgentEnv) -> None:
    question = {"questions": [{"question": "Which database?", "choices": ["postgres", "sqlite"]}, {"question": "Why?"}]}
    model = env.script([{"tools": [{"name": "ask_user", "input": question}]}, {"text": "Noted."}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "set it up")

    async def asked() -> Any:
        found = await env.gates.pending_questions(chat.id)
        return found[0] if found else None

    pending = await eventually(asked)
    assert [q["question"] for q in pending.questions] == ["Which database?", "Why?"]
    await env.status(chat.id, "waiting")
    with pytest.raises(Exception, match="one answer per question"):
        await env.gates.answer(pending.id, ["postgres"])
    await env.gates.answer(pending.id, ["postgres", "it is already running"])
    await env.finished(chat.id)
    assert await tool_results(env, chat.id) == ["Q: Which database?\nA: postgres\n\nQ: Why?\nA: it is already running"]
    with pytest.raises(FailedPreconditionError):
        await env.gates.answer(pending.id, ["again", "again"])


async def test_pause_lets_the_step_finish_then_waits_until_resumed(env: AgentEnv) -> None:
    model = env.script(
        [{"tools": [shell("sleep 1; echo a >> effects")]}, {"tools": [shell("echo b >> effects")]}, {"text": "ok"}]
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "go")
    await eventually(lambda: _started(env, chat.id))
    assert await env.chats.pause(chat.id)
    assert await env.chats.pause(chat.id), "pause is idempotent"
    paused = await env.status(chat.id, "paused")
    assert paused.status_reason == "paused by the user"
    assert (env.workspace / "effects").read_text() == "a\n", "the step in flight finished"
    await asyncio.sleep(0.5)
    assert (env.workspace / "effects").read_text() == "a\n", "nothing runs while paused"
    await env.chats.resume(chat.id)
    await env.finished(chat.id)
    assert (env.workspace / "effects").read_text() == "a\nb\n"


async def _started(env: AgentEnv, chat_id: str) -> bool:
    return any(u.kind == "tool_started" for u in await env.updates(chat_id))


async def test_interrupt_cancels_the_turn_and_answers_the_new_message_next(env: AgentEnv) -> None:
    model = env.script([{"tools": [shell("sleep 60")]}, {"text": "fresh"}])
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "first")
    await eventually(lambda: _started(env, chat.id))
    sent = await env.chats.send(chat.id, "actually, do this instead", interrupt=True)
    assert not sent.queued
    await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    users = [m.blocks[0].text for m in transcript if m.role is Role.USER]
    assert users == ["first", "actually, do this instead"]
    assert transcript[-1].role is Role.ASSISTANT


async def test_an_unanswered_approval_can_time_out_as_a_denial(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, approval_timeout=1.5) as env:
        model = env.script([{"tools": [shell("echo x >> effects")]}, {"text": "fine"}])
        chat = await env.new_chat(model)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id, timeout=30)
        assert "No answer" in (await tool_results(env, chat.id))[0]
        assert not (env.workspace / "effects").exists()
        assert os.path.exists(env.workspace)


async def test_a_pause_during_the_last_step_does_not_carry_over_to_the_next_message(env: AgentEnv) -> None:
    slow = " ".join(["word"] * 20)
    model = env.script([{"text": slow, "delay_ms": 40}, {"text": "second done"}])
    chat = await env.new_chat(model)
    client = await env.watch(chat.id)
    await env.chats.send(chat.id, "go")
    await eventually(lambda: "block_delta" in client.kinds())
    assert await env.chats.pause(chat.id)
    await env.finished(chat.id)  # the last step finishes: the turn ends instead of pausing
    await env.chats.send(chat.id, "again")
    done = await env.finished(chat.id)
    assert done.status_reason == ""
    assert "paused" not in [u.payload.get("status") for u in await env.updates(chat.id) if u.kind == "chat_status"]
