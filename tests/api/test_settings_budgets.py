"""Spending budgets and model price overrides in the settings: read and written through
SettingsService and its REST twin, validated field by field (a bad one is refused naming it, and
nothing changes), and what the worker's budget check then goes by."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.clients.providers import ProviderPool
from reliant.db import Database
from reliant.wire.v1 import settings_pb2
from reliant.wire.v1.settings_connect import SettingsServiceClient
from reliant.worker.budget import Spending
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest


async def test_budgets_and_prices_are_written_and_read_through_the_service_and_rest(api_env: ApiEnv) -> None:
    status, before = await rest(api_env, "GET", "/api/settings")
    assert status == 200
    assert before["budget_chat_usd"] == 0 and before["budget_project_day_usd"] == 0 and before["model_prices"] == []
    assert before["budget_source"] == ""
    async with SettingsServiceClient(api_env.url) as settings:
        updated = await settings.update_settings(
            settings_pb2.UpdateSettingsRequest(
                budget_chat_usd=2.5,
                budget_project_day_usd=10,
                model_prices=settings_pb2.ModelPrices(
                    prices=[settings_pb2.ModelPrice(model="openai:local", input=0.5, output=1.5, cache_read=0.05)]
                ),
            ),
            headers=api_env.headers,
        )
        assert (updated.budget_chat_usd, updated.budget_project_day_usd, updated.budget_source) == (2.5, 10, "api")
        [price] = updated.model_prices
        assert (price.model, price.input, price.output, price.cache_read) == ("openai:local", 0.5, 1.5, 0.05)
        assert not price.HasField("cache_write")
        # Only the fields present change.
        again = await settings.update_settings(
            settings_pb2.UpdateSettingsRequest(budget_chat_usd=3), headers=api_env.headers
        )
        assert (again.budget_chat_usd, again.budget_project_day_usd, len(again.model_prices)) == (3, 10, 1)
        read = await settings.get_settings(settings_pb2.GetSettingsRequest(), headers=api_env.headers)
        assert read.budget_chat_usd == 3

    status, patched = await rest(
        api_env,
        "PATCH",
        "/api/settings",
        {"budget_project_day_usd": 0, "model_prices": {"prices": [{"model": "scripted:x", "input": 1, "output": 5}]}},
    )
    assert status == 200, patched
    assert patched["budget_chat_usd"] == 3 and patched["budget_project_day_usd"] == 0
    assert [(p["model"], p["output"]) for p in patched["model_prices"]] == [("scripted:x", 5)]
    assert (await rest(api_env, "GET", "/api/settings"))[1]["model_prices"] == patched["model_prices"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"budget_chat_usd": -1}, "budget_chat_usd"),
        ({"budgetChatUsd": "lots"}, "budgetChatUsd"),
        ({"budget_project_day_usd": "NaN"}, "budget_project_day_usd"),
        ({"budget_project_day_usd": "abc"}, "budget_project_day_usd"),
        ({"model_prices": {"prices": [{"model": "a:b", "input": -2, "output": 1}]}}, "model_prices.prices[0].input"),
        ({"model_prices": {"prices": [{"model": "", "input": 1, "output": 1}]}}, "model_prices.prices[0].model"),
        ({"model_prices": {"prices": [{"model": "a:b", "input": 1, "output": "x"}]}}, "output"),
        # A price left out is not $0: the model would be counted free.
        ({"model_prices": {"prices": [{"model": "anthropic:claude-sonnet-4-5", "input": 3}]}}, "prices[0].output"),
        ({"model_prices": {"prices": [{"model": "openai:local", "output": 2}]}}, "model_prices.prices[0].input"),
    ],
)
async def test_a_bad_budget_or_price_is_refused_naming_the_field_and_nothing_changes(
    api_env: ApiEnv, body: dict[str, Any], field: str
) -> None:
    status, error = await rest(api_env, "PATCH", "/api/settings", {"budget_chat_usd": 1, **body})
    assert status == 400, error
    assert field in error["detail"], error
    assert (await rest(api_env, "GET", "/api/settings"))[1]["budget_chat_usd"] == 0, "nothing was stored"
    async with SettingsServiceClient(api_env.url) as settings:
        if "budget_chat_usd" in body:
            with pytest.raises(ConnectError) as info:
                request = settings_pb2.UpdateSettingsRequest(budget_chat_usd=body["budget_chat_usd"])
                await settings.update_settings(request, headers=api_env.headers)
            assert info.value.code == Code.INVALID_ARGUMENT and "budget_chat_usd" in info.value.message


async def test_a_price_left_out_is_refused_over_connect_too_and_a_free_model_is_priced_0(api_env: ApiEnv) -> None:
    async with SettingsServiceClient(api_env.url) as settings:
        with pytest.raises(ConnectError) as info:
            request = settings_pb2.UpdateSettingsRequest(
                model_prices=settings_pb2.ModelPrices(prices=[settings_pb2.ModelPrice(model="openai:gpt-4o", input=2)])
            )
            await settings.update_settings(request, headers=api_env.headers)
        assert info.value.code == Code.INVALID_ARGUMENT
        assert "model_prices.prices[0].output" in info.value.message and "0 if" in info.value.message
        free = settings_pb2.ModelPrice(model="openai:local", input=0, output=0)
        request = settings_pb2.UpdateSettingsRequest(model_prices=settings_pb2.ModelPrices(prices=[free]))
        [price] = (await settings.update_settings(request, headers=api_env.headers)).model_prices
        assert (price.model, price.input, price.output) == ("openai:local", 0, 0)
        await settings.update_settings(
            settings_pb2.UpdateSettingsRequest(model_prices=settings_pb2.ModelPrices()), headers=api_env.headers
        )


async def test_the_worker_checks_model_calls_against_the_budgets_set_in_the_settings(
    api_env: ApiEnv, migrated_db: Database
) -> None:
    # No chat has spent anything; a call is estimated at 1,000 output tokens: $0.005 at $5 per Mtok.
    spending = Spending(migrated_db, ProviderPool(migrated_db, api_env.settings))
    prices = {"model_prices": {"prices": [{"model": "scripted:x", "input": 1, "output": 5}]}}
    chat, project, thread = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await rest(api_env, "PATCH", "/api/settings", {**prices, "budget_chat_usd": 0.01})
    assert await spending.check(chat, project, "scripted:x", thread, []) is None, "under the chat's budget"
    await rest(api_env, "PATCH", "/api/settings", {"budget_chat_usd": 0.001})
    refusal = await spending.check(chat, project, "scripted:x", thread, [])
    assert refusal is not None and (refusal.scope, refusal.limit) == ("chat", 0.001)
    await rest(api_env, "PATCH", "/api/settings", {"budget_chat_usd": 0, "budget_project_day_usd": 0.002})
    refusal = await spending.check(chat, project, "scripted:x", thread, [])
    assert refusal is not None and (refusal.scope, refusal.limit) == ("project", 0.002)
    await rest(api_env, "PATCH", "/api/settings", {"model_prices": {"prices": []}})
    assert await spending.check(chat, project, "scripted:x", thread, []) is None, "unpriced: a scripted call is free"


async def test_a_price_override_holds_for_the_model_written_with_spaces(api_env: ApiEnv, migrated_db: Database) -> None:
    spending = Spending(migrated_db, ProviderPool(migrated_db, api_env.settings))
    prices = {"model_prices": {"prices": [{"model": "openai:local", "input": 1, "output": 5}]}}
    await rest(api_env, "PATCH", "/api/settings", prices)
    try:
        for spec in ("openai:local", " openai: local ", "openai:local "):
            found = await spending.price(spec)
            assert found is not None and (found.input, found.output) == (1, 5), spec
    finally:
        await rest(api_env, "PATCH", "/api/settings", {"model_prices": {"prices": []}})


async def test_a_chat_budget_too_small_to_be_stored_is_refused_not_turned_into_none(api_env: ApiEnv) -> None:
    """A chat's budget is kept to a hundredth of a cent, and 0 means none: $0.00004 would be
    stored as 0, a chat with no budget at all."""
    status, project = await rest(
        api_env, "POST", "/api/projects", {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    )
    assert status == 201, project
    status, chat = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"]})
    assert status == 201, chat
    status, error = await rest(api_env, "PUT", f"/api/chats/{chat['id']}/budget", {"usd": 0.00004})
    assert status == 400, error
    assert error["detail"].startswith("usd: must be 0 (no budget) or at least $0.0001"), error
    assert (await rest(api_env, "GET", f"/api/chats/{chat['id']}/agents"))[1]["budget_usd"] is None, "nothing changed"
    status, tree = await rest(api_env, "PUT", f"/api/chats/{chat['id']}/budget", {"usd": 0.0001})
    assert status == 200 and tree["budget_usd"] == 0.0001, tree
