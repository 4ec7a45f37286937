"""Listing a provider's models through the official SDKs, against the fake servers: Anthropic's
Models API and an OpenAI-compatible /models, their errors classified like a model call's."""

from __future__ import annotations

import pytest

from reliant.llm.anthropic import AnthropicProvider
from reliant.llm.errors import FatalLlmError, RetryableLlmError
from reliant.llm.openai import OpenAIProvider
from reliant.llm.registry import Providers
from tests.llm.fakes import ErrorResponse, FakeLlmServer

KEY = "sk-ant-test-SECRET-123456789"


async def test_anthropic_lists_its_models_with_display_names(fake_llm: FakeLlmServer) -> None:
    fake_llm.listed_models = ["claude-sonnet-4-6", "claude-haiku-4-5"]
    provider = AnthropicProvider(api_key=KEY, base_url=fake_llm.url)
    try:
        models = await provider.list_models(5)
    finally:
        await provider.close()
    assert [(m.id, m.label) for m in models] == [
        ("claude-sonnet-4-6", "Claude Sonnet 4 6"),
        ("claude-haiku-4-5", "Claude Haiku 4 5"),
    ]
    asked = fake_llm.requests[-1]
    assert (asked.method, asked.path) == ("GET", "/v1/models")
    assert KEY in (asked.headers.get("x-api-key", ""), asked.headers.get("authorization", "").removeprefix("Bearer "))


async def test_an_openai_compatible_server_lists_its_models(fake_llm: FakeLlmServer) -> None:
    fake_llm.listed_models = ["llama3.2", "qwen2.5-coder"]
    provider = OpenAIProvider(base_url=fake_llm.openai_url)  # a local server: no key
    try:
        models = await provider.list_models(5)
    finally:
        await provider.close()
    assert [m.id for m in models] == ["llama3.2", "qwen2.5-coder"]
    assert fake_llm.requests[-1].path == "/v1/models"


async def test_a_refused_key_is_fatal_and_an_outage_retryable_and_the_key_never_shows(
    fake_llm: FakeLlmServer,
) -> None:
    provider = AnthropicProvider(api_key=KEY, base_url=fake_llm.url)
    try:
        fake_llm.models_error = ErrorResponse(
            401, {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"}}
        )
        with pytest.raises(FatalLlmError) as refused:
            await provider.list_models(5)
        assert refused.value.kind == "auth" and KEY not in str(refused.value)
        fake_llm.models_error = ErrorResponse(503, {"type": "error", "error": {"type": "api_error", "message": "down"}})
        with pytest.raises(RetryableLlmError):
            await provider.list_models(5)
    finally:
        await provider.close()


async def test_the_registry_says_which_providers_are_configured(fake_llm: FakeLlmServer) -> None:
    fake_llm.listed_models = ["gpt-5.4"]
    providers = Providers(openai_api_key="sk-x", openai_base_url=fake_llm.openai_url)
    try:
        assert providers.configured("openai") and providers.configured("scripted")
        assert not providers.configured("anthropic")
        assert [m.id for m in await providers.list_models("openai")] == ["gpt-5.4"]
        assert [m.id for m in await providers.list_models("scripted")] == ["demo"]
        with pytest.raises(FatalLlmError) as missing:
            await providers.list_models("anthropic")
        assert missing.value.kind == "missing_key"
    finally:
        await providers.close()


@pytest.mark.parametrize("which", ["openai", "anthropic"])
async def test_a_listed_model_without_an_id_is_left_out_not_offered_as_none(
    fake_llm: FakeLlmServer, which: str
) -> None:
    """Some compatible servers list entries by name only: a choice "openai:None" would be offered."""
    data = [{"id": "llama3.2", "type": "model"}, {"name": "by-name-only"}, {"id": ""}, {"id": 7}]
    fake_llm.models_error = ErrorResponse(200, {"object": "list", "data": data, "has_more": False})
    provider = (
        OpenAIProvider(base_url=fake_llm.openai_url)
        if which == "openai"
        else AnthropicProvider(api_key=KEY, base_url=fake_llm.url)
    )
    try:
        assert [m.id for m in await provider.list_models(5)] == ["llama3.2"]
    finally:
        await provider.close()
