"""Spending budgets: checked before every model call of any agent in the chat's tree (a scripted model
priced through the settings); a call that would cross the budget is never made."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reliant.api.agents import Agents
from reliant.db import agents as agents_db
from reliant.db import budgets as budgets_db
from reliant.db import messages as messages_db
from reliant.db import settings as settings_db
from reliant.domain.agents import AgentStatus
from reliant.domain.chat import Role, Usage
from reliant.worker.budget import Spending
from tests.conftest import Infra
from tests.worker.agent_env import AgentEnv, agent_env, calls_in
from tests.worker.test_workflow_runs import flow_chat, write_flow


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AsyncIterator[AgentEnv]:
    async with agent_env(infra, tmp_path) as e:
        yield e


async def test_a_child_that_would_cross_the_chats_budget_pauses_before_the_call_and_goes_on_once_raised(
    env: AgentEnv,
) -> None:
    log = env.scripts / "child.jsonl"
    usage = {"input_tokens": 100_000, "output_tokens": 10_000, "cache_read_tokens": 0, "cache_write_tokens": 0}
    child = env.script(
        [
            {"tools": [{"name": "shell", "input": {"command": "echo hi"}}], "usage": usage},
            {"text": "child done", "usage": usage},
        ],
        call_log=str(log),
    )
    # Priced like claude-haiku-4-5 ($1 in, $5 out per million tokens): each of its calls costs $0.15,
    # so a second one would cross $0.20.
    await settings_db.put(env.db, {"model_prices": json.dumps({child: {"input": 1, "output": 5}})})
    parent = env.script(
        [{"tools": [{"name": "spawn_agent", "input": {"task": "work", "model": child}}]}, {"text": "ok"}]
    )
    chat = await env.new_chat(parent)
    agents = Agents(env.chats)
    await agents.set_budget(chat.id, 0.20)
    try:
        await env.chats.send(chat.id, "delegate")
        paused = await env.status(chat.id, "paused", timeout=60)
        assert paused.status_reason.startswith("budget reached: $0.15 of $0.20"), paused.status_reason
        assert [c["turn"] for c in calls_in(log)] == [0], "the call that would cross the budget was never made"
        tree = await agents.tree(chat.id)
        assert tree["spent_usd"] == pytest.approx(0.15) and tree["budget_usd"] == pytest.approx(0.20)
        [agent] = tree["agents"]
        assert agent["cost_usd"] == pytest.approx(0.15) and agent["status"] == "running", "costs show per agent"

        await agents.set_budget(chat.id, 1.0)
        await env.chats.resume(chat.id)
        await env.finished(chat.id, timeout=60)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})
    assert [c["turn"] for c in calls_in(log)] == [0, 1]
    [record] = await agents_db.for_chat(env.db, chat.id)
    assert record.status is AgentStatus.DONE and record.text == "child done"
    assert (await agents.tree(chat.id))["spent_usd"] == pytest.approx(0.30), "the tree's calls roll up to the chat"


async def test_a_price_written_between_two_model_calls_of_a_chat_prices_the_second(env: AgentEnv) -> None:
    """A model call reads the settings once, when it starts (its budget check and its price agree):
    nothing of them is kept for the next, which finds a price written in between."""
    usage = {"input_tokens": 100_000, "output_tokens": 10_000, "cache_read_tokens": 0, "cache_write_tokens": 0}
    model = env.script([{"text": "first", "usage": usage}, {"text": "second", "usage": usage}])
    chat = await env.new_chat(model)
    try:
        await settings_db.put(env.db, {"model_prices": json.dumps({model: {"input": 1, "output": 5}})})
        await env.chats.send(chat.id, "one")
        await env.finished(chat.id, timeout=60)
        await settings_db.put(env.db, {"model_prices": json.dumps({model: {"input": 2, "output": 10}})})
        await env.chats.send(chat.id, "two")
        await env.finished(chat.id, timeout=60)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})
    answers = [m for m in await messages_db.transcript(env.db, chat.id) if m.role is Role.ASSISTANT]
    assert [m.text() for m in answers] == ["first", "second"]
    assert [m.cost_usd for m in answers] == [pytest.approx(0.15), pytest.approx(0.30)]


async def test_local_models_cost_nothing_unless_priced_and_a_price_can_be_overridden(env: AgentEnv) -> None:
    spending = Spending(env.db, env.chats.providers)
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert await spending.cost("openai:gpt-4o", usage) == pytest.approx(12.5), "the price table"
    await settings_db.put(env.db, {"openai_base_url": "http://127.0.0.1:9/v1"})
    env.chats.providers.invalidate()
    try:
        assert await spending.cost("openai:gpt-4o", usage) == 0.0, "a local server behind a custom base URL"
        await settings_db.put(env.db, {"model_prices": '{"openai:gpt-4o": {"input": 1, "output": 2}}'})
        assert await spending.cost("openai:gpt-4o", usage) == pytest.approx(3.0)
        assert await spending.cost("anthropic:claude-haiku-4-5", usage) == pytest.approx(6.0)
    finally:
        await settings_db.put(env.db, {"openai_base_url": "", "model_prices": ""})


async def test_a_workflow_input_named_budget_usd_sets_the_chats_budget(env: AgentEnv) -> None:
    write_flow(
        env,
        "capped",
        """
        name: capped
        inputs:
          budget_usd: {type: number, default: 0.5}
        entry: say
        nodes:
          - id: say
            type: save_message
            role: assistant
            content: capped
        """,
    )
    chat = await flow_chat(env, "capped")
    assert await budgets_db.chat_budget(env.db, chat.id) is None
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    assert await budgets_db.chat_budget(env.db, chat.id) == pytest.approx(0.5)


async def test_a_compaction_that_would_cross_the_chats_budget_pauses_before_its_summary_call(env: AgentEnv) -> None:
    summary_log = env.workspace / ".scripts" / "summary.jsonl"
    agent_log = env.workspace / ".scripts" / "agent.jsonl"
    usage = {"input_tokens": 100_000, "output_tokens": 10_000, "cache_read_tokens": 0, "cache_write_tokens": 0}
    summariser = env.script([{"text": "unused"}, {"text": "THE SUMMARY"}], in_project=True, call_log=str(summary_log))
    talker = env.script(
        [{"text": "a long first answer", "usage": usage}],
        in_project=True,
        call_log=str(agent_log),
        final_text="after the summary",
    )
    write_flow(
        env,
        "compacting",
        f"""
        name: compacting
        entry: compact
        nodes:
          - {{id: compact, type: compact, threshold: 400, model: "{summariser}"}}
          - {{id: agent, type: agent, model: "{talker}"}}
        edges:
          - {{from: compact, default: agent}}
        """,
    )
    # Both priced $1 in, $5 out per million tokens: the first answer costs $0.15; the summary of a
    # thread that large would cost about as much again, past the $0.20 budget.
    prices = {spec: {"input": 1, "output": 5} for spec in (summariser, talker)}
    await settings_db.put(env.db, {"model_prices": json.dumps(prices)})
    chat = await flow_chat(env, "compacting")
    agents = Agents(env.chats)
    await agents.set_budget(chat.id, 0.20)
    try:
        await env.chats.send(chat.id, "first")
        await env.finished(chat.id)
        assert calls_in(summary_log) == [], "a short thread is not compacted"
        await env.chats.send(chat.id, "second")
        paused = await env.status(chat.id, "paused", timeout=60)
        assert paused.status_reason.startswith("budget reached: $0.15 of $0.20"), paused.status_reason
        assert "compact" in paused.status_reason, "the reason names the node"
        assert calls_in(summary_log) == [], "the summary call was never made"
        assert len(calls_in(agent_log)) == 1

        await agents.set_budget(chat.id, 10.0)
        await env.chats.resume(chat.id)
        await env.finished(chat.id, timeout=60)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})
    assert len(calls_in(summary_log)) == 1, "resumed: the summary is made once"
    second = calls_in(agent_log)[-1]
    texts = [b["text"] for m in second["messages"] for b in m["blocks"] if b["type"] == "text"]
    assert "THE SUMMARY" in texts[0]
    spent = (await agents.tree(chat.id))["spent_usd"]
    assert spent > 0.15, "the summary's cost is recorded at the overridden price"


async def test_a_run_whose_budget_usd_input_is_no_budget_pauses_saying_why(env: AgentEnv) -> None:
    """A chat stored with a budget_usd past what a budget may be (made before the api checked it, or
    by a client that did not ask the api) pauses saying why, instead of retrying a write of it forever."""
    write_flow(
        env,
        "capped",
        """
        name: capped
        inputs:
          budget_usd: {type: number, default: 0.5}
        entry: say
        nodes:
          - {id: say, type: save_message, role: assistant, content: capped}
        """,
    )
    chat = await flow_chat(env, "capped", {"budget_usd": 1e12})
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused", timeout=30)
    assert "budget_usd: must be a number of dollars from 0 to 1,000,000" in paused.status_reason, paused.status_reason
    assert await budgets_db.chat_budget(env.db, chat.id) is None
