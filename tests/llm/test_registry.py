"""Model specs and the Providers registry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reliant.llm import FatalLlmError, ModelSpec, Providers, ScriptedProvider, UnknownModelError, parse_model
from reliant.llm.anthropic import AnthropicProvider
from reliant.llm.openai import OpenAIProvider


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("scripted:demo", ModelSpec("scripted", "demo")),
        ("scripted:/tmp/x.yaml", ModelSpec("scripted", "/tmp/x.yaml")),
        ("anthropic:claude-sonnet-4-6", ModelSpec("anthropic", "claude-sonnet-4-6")),
        ("openai:gpt-5.4", ModelSpec("openai", "gpt-5.4")),
        ("openai:llama3.1:8b", ModelSpec("openai", "llama3.1:8b")),  # Ollama tags keep their colon
        (" openai:gpt-5.4 ", ModelSpec("openai", "gpt-5.4")),
    ],
)
def test_parse_model(spec: str, expected: ModelSpec) -> None:
    assert parse_model(spec) == expected
    assert str(expected) == spec.strip()


@pytest.mark.parametrize("spec", ["", "demo", "gemini:pro", "anthropic:", "openai: "])
def test_parse_model_rejects_what_it_cannot_route(spec: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        parse_model(spec)
    assert caught.value.spec == spec


def test_available_models_follow_the_configuration() -> None:
    assert Providers().available_models() == ["scripted:demo"]

    anthropic_only = Providers(anthropic_api_key="k").available_models()
    assert anthropic_only[0] == "scripted:demo"
    assert len(anthropic_only) > 2
    assert all(m.startswith("anthropic:claude-") for m in anthropic_only[1:])

    local = Providers(openai_base_url="http://127.0.0.1:11434/v1").available_models()
    assert [m.split(":")[0] for m in local] == ["scripted", "openai", "openai"]
    assert Providers(openai_api_key="k").available_models() == local


async def test_providers_are_created_once_and_closed() -> None:
    providers = Providers(anthropic_api_key="k-anthropic", openai_api_key="k-openai")

    scripted, model = providers.get("scripted:demo")
    anthropic, claude = providers.get("anthropic:claude-haiku-4-5")
    openai, gpt = providers.get(ModelSpec("openai", "gpt-5.4-mini"))

    assert (model, claude, gpt) == ("demo", "claude-haiku-4-5", "gpt-5.4-mini")
    assert isinstance(scripted, ScriptedProvider)
    assert isinstance(anthropic, AnthropicProvider)
    assert isinstance(openai, OpenAIProvider)
    assert providers.get("anthropic:claude-opus-4-6")[0] is anthropic
    assert "k-anthropic" not in repr(providers)
    await providers.close()
    await providers.close()  # twice is fine


def test_a_provider_without_a_key_fails_when_asked_for() -> None:
    providers = Providers()

    with pytest.raises(FatalLlmError) as caught:
        providers.get("anthropic:claude-sonnet-4-6")
    assert caught.value.kind == "missing_key"

    with pytest.raises(FatalLlmError) as caught:
        providers.get("openai:gpt-5.4")
    assert caught.value.kind == "missing_key"


def test_require_names_the_missing_key_without_creating_a_provider() -> None:
    providers = Providers()
    for name, setting in (("anthropic", "RELIANT_ANTHROPIC_API_KEY"), ("openai", "RELIANT_OPENAI_BASE_URL")):
        with pytest.raises(FatalLlmError) as caught:
            providers.require(name)
        assert caught.value.kind == "missing_key" and setting in caught.value.message
    providers.require("scripted")
    Providers(openai_base_url="http://127.0.0.1:9/v1").require("openai")  # a local server needs no key
    Providers(anthropic_api_key="k-anthropic").require("anthropic")
    assert repr(providers) == "Providers(created=[])"


def test_an_unknown_script_fails_when_asked_for() -> None:
    with pytest.raises(UnknownModelError) as caught:
        Providers(anthropic_api_key="k").get("scripted:nope")
    assert "scripted:demo" in str(caught.value)


def test_importing_the_llm_package_does_not_import_the_sdks() -> None:
    code = "import sys, reliant.llm; print(sorted(m for m in ('anthropic', 'openai') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
