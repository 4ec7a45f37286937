"""A thread that outgrew the model's context window inside one message: the provider's 400 (through
the official SDK clients against the fake servers) makes the chat compact the thread and ask again,
once; a thread that still does not fit pauses saying so, and Resume compacts before it asks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.db import budgets as budgets_db
from reliant.db import messages as messages_db
from reliant.db import settings as settings_db
from reliant.domain.chat import ChatInfo, Role
from reliant.worker.activities.compaction import INSTRUCTIONS, SUMMARY_HEADER
from tests.conftest import Infra
from tests.llm.fakes import (
    FakeLlmServer,
    StreamResponse,
    Text,
    ToolCall,
    anthropic_error,
    anthropic_stream,
    ended_early,
)
from tests.worker.agent_env import AgentEnv, agent_env

TOO_LONG = "prompt is too long: 212345 tokens > 200000 maximum"


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeLlmServer]:
    async with FakeLlmServer() as server:
        yield server


@pytest.fixture
async def env(infra: Infra, tmp_path: Path, fake: FakeLlmServer) -> AsyncIterator[AgentEnv]:
    fake.reset()
    async with agent_env(infra, tmp_path, anthropic_api_key="sk-ant-ctx-test", anthropic_base_url=fake.url) as e:
        (e.workspace / "notes.txt").write_text("alpha\n")
        yield e


def too_long() -> Any:
    return anthropic_error(400, TOO_LONG, error_type="invalid_request_error")


def reading() -> StreamResponse:
    """An answer whose tool call brings a (big, in real life) result into the thread."""
    return anthropic_stream([Text("Reading."), ToolCall("toolu_1", "view", '{"path": "notes.txt"}')])


def summary(text: str) -> StreamResponse:
    return anthropic_stream([Text(text)])


def is_summary_call(request: Any) -> bool:
    return INSTRUCTIONS in str(request.body.get("system"))


def first_text(request: Any) -> str:
    content = request.body["messages"][0]["content"]
    return content if isinstance(content, str) else str(content[0].get("text", ""))


async def start(env: AgentEnv) -> ChatInfo:
    chat = await env.new_chat("anthropic:claude-test")
    await env.chats.send(chat.id, "what is in notes.txt?")
    return chat


async def notices(env: AgentEnv, chat_id: str) -> list[str]:
    """What the chat was told about compacting: notices, since nothing failed (and so no error)."""
    updates = await env.updates(chat_id)
    assert [u.payload for u in updates if u.kind == "error"] == []
    return [u.payload["message"] for u in updates if u.kind == "notice"]


async def test_a_call_too_long_for_the_context_window_compacts_the_thread_and_is_made_again(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(reading(), too_long(), summary("The user asked what notes.txt holds; it holds alpha."))
    fake.enqueue(anthropic_stream([Text("It says alpha.")]))
    chat = await start(env)
    await env.finished(chat.id)

    calls = [r for r in fake.requests if r.path.endswith("/messages")]
    assert [is_summary_call(r) for r in calls] == [False, False, True, False]
    # The call made again reads the summary, not the thread that did not fit.
    assert first_text(calls[3]).startswith(SUMMARY_HEADER)
    assert len(calls[3].body["messages"]) == 1
    transcript = await messages_db.transcript(env.db, chat.id)
    assert transcript[-1].role is Role.ASSISTANT and transcript[-1].text() == "It says alpha."
    [notice] = await notices(env, chat.id)
    assert notice.startswith("The conversation no longer fit the model's context window (anthropic: HTTP 400")
    assert TOO_LONG in notice and "summarised" in notice
    statuses = [u.payload["status"] for u in await env.updates(chat.id) if u.kind == "chat_status"]
    assert "paused" not in statuses


async def test_a_summary_too_long_for_the_model_is_asked_for_again_from_a_shortened_thread(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(reading(), too_long(), too_long(), summary("notes.txt holds alpha."))
    fake.enqueue(anthropic_stream([Text("It says alpha.")]))
    chat = await start(env)
    await env.finished(chat.id)

    calls = [r for r in fake.requests if r.path.endswith("/messages")]
    assert [is_summary_call(r) for r in calls] == [False, False, True, True, False]
    shortened = calls[3].body["messages"]
    assert len(shortened) == 1 and first_text(calls[3]).startswith("The conversation so far, shortened to fit")
    assert "tool: [view answered]" in first_text(calls[3]) and "alpha" in first_text(calls[3])


async def paused_still_too_long(env: AgentEnv, fake: FakeLlmServer) -> ChatInfo:
    fake.enqueue(reading(), too_long(), summary("notes.txt holds alpha."), too_long())
    chat = await start(env)
    return await env.status(chat.id, "paused")


async def test_a_thread_still_too_long_once_compacted_pauses_saying_so(env: AgentEnv, fake: FakeLlmServer) -> None:
    paused = await paused_still_too_long(env, fake)

    reason = paused.status_reason
    assert reason.startswith("the conversation is too long for the model's context window, even summarised")
    assert TOO_LONG in reason
    assert "larger context window and resume" in reason and "new chat" in reason
    calls = [r for r in fake.requests if r.path.endswith("/messages")]
    assert [is_summary_call(r) for r in calls] == [False, False, True, False], "made again once, not forever"


async def test_resume_after_such_a_pause_compacts_before_calling_again(env: AgentEnv, fake: FakeLlmServer) -> None:
    chat = await paused_still_too_long(env, fake)
    fake.enqueue(summary("Shorter: notes.txt holds alpha."), anthropic_stream([Text("It says alpha.")]))

    await env.chats.resume(chat.id)
    await env.finished(chat.id)

    calls = [r for r in fake.requests if r.path.endswith("/messages")]
    assert [is_summary_call(r) for r in calls] == [False, False, True, False, True, False]
    assert "Shorter: notes.txt holds alpha." in first_text(calls[5])
    assert (await notices(env, chat.id))[-1] == (
        "Resumed: the conversation was summarised again to fit the model's context window."
    )


async def test_a_first_message_too_long_by_itself_pauses_saying_nothing_can_be_summarised(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(too_long())
    chat = await start(env)

    paused = await env.status(chat.id, "paused")
    assert paused.status_reason.startswith(
        "the newest message is too long for the model's context window, and nothing before it can be summarised"
    )
    assert len(fake.requests) == 1, "no summary call: there is nothing to summarise"


async def test_a_summary_call_that_broke_after_its_stream_reported_usage_is_counted_once(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    """The summary call was paid for even when its stream broke after reporting usage: the chat's
    spending counts that attempt (once), as it counts a broken model call of the chat's own."""
    prices = {"anthropic:claude-test": {"input": 1, "output": 5}}
    await settings_db.put(env.db, {"model_prices": json.dumps(prices)})
    try:
        broken = ended_early(summary("notes.txt holds alpha, and more."), keep=3)
        fake.enqueue(reading(), too_long(), broken, summary("notes.txt holds alpha."))
        fake.enqueue(anthropic_stream([Text("It says alpha.")]))
        chat = await start(env)
        await env.finished(chat.id)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})

    calls = [r for r in fake.requests if r.path.endswith("/messages")]
    assert [is_summary_call(r) for r in calls] == [False, False, True, True, False]
    failed = await env.db.fetch(
        "SELECT input_tokens, cost_usd FROM messages WHERE chat_id = %s AND aborted AND step LIKE %s",
        (chat.id, "%/summary:failed:%"),
    )
    assert len(failed) == 1 and failed[0]["input_tokens"] > 0 and failed[0]["cost_usd"] > 0, failed
    every = await env.db.fetchrow("SELECT sum(cost_usd) AS total FROM messages WHERE chat_id = %s", (chat.id,))
    assert every is not None
    assert await budgets_db.chat_spent(env.db, chat.id) == pytest.approx(float(every["total"]))
