"""Model specs (`provider:model`) and the providers that serve them, built on first use."""

from __future__ import annotations

import asyncio
import logging

from reliant.domain.model_spec import PROVIDER_NAMES, ModelSpec, split_model_spec
from reliant.llm.base import ListedModel, Provider
from reliant.llm.broken_stream import DEFAULT_READ_TIMEOUT
from reliant.llm.demo import DEMO_MODEL
from reliant.llm.errors import FatalLlmError, UnknownModelError

logger = logging.getLogger(__name__)

DEFAULT_ANTHROPIC_MODELS = ("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5")
DEFAULT_OPENAI_MODELS = ("gpt-5.4", "gpt-5.4-mini")


def parse_model(spec: str, known: list[str] | None = None) -> ModelSpec:
    """`scripted:<name|/abs/path.yaml>`, `anthropic:<model>` or `openai:<model>` as a ModelSpec.

    `known` (the configured models) is only named in the error."""
    parsed = split_model_spec(spec)
    if parsed is None:
        raise UnknownModelError(spec, known if known is not None else [DEMO_MODEL])
    return parsed


class Providers:
    """The configured providers, each created (and its SDK imported) when first asked for.

    Built from plain values; `close()` releases the clients of those that were created.
    """

    def __init__(
        self,
        *,
        anthropic_api_key: str = "",
        anthropic_base_url: str = "",
        openai_api_key: str = "",
        openai_base_url: str = "",
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        """`read_timeout`: the longest silence of a provider, before its answer or within it."""
        self._read_timeout = read_timeout or DEFAULT_READ_TIMEOUT
        self._anthropic_api_key = anthropic_api_key
        self._anthropic_base_url = anthropic_base_url
        self._openai_api_key = openai_api_key
        self._openai_base_url = openai_base_url
        self._created: dict[str, Provider] = {}

    def __repr__(self) -> str:  # never show the keys
        return f"Providers(created={sorted(self._created)})"

    def get(self, spec: str | ModelSpec) -> tuple[Provider, str]:
        """The provider for `spec` and the model id to put in its LlmRequest.

        Raises UnknownModelError for a malformed spec or an unknown script, FatalLlmError
        (kind="missing_key") for a provider without a key."""
        parsed = spec if isinstance(spec, ModelSpec) else parse_model(spec, self.available_models())
        provider = self._created.get(parsed.provider)
        if provider is None:
            provider = self._create(parsed.provider)
            self._created[parsed.provider] = provider
        if parsed.provider == "scripted":
            from reliant.llm.scripted import ScriptedProvider

            assert isinstance(provider, ScriptedProvider)
            provider.script(parsed.model)  # fail now on an unknown or invalid script
        return provider, parsed.model

    def available_models(self) -> list[str]:
        """Models to offer: the demo always, a provider's defaults when it is configured."""
        models = [DEMO_MODEL]
        if self._anthropic_api_key:
            models += [f"anthropic:{m}" for m in DEFAULT_ANTHROPIC_MODELS]
        if self._openai_api_key or self._openai_base_url:
            models += [f"openai:{m}" for m in DEFAULT_OPENAI_MODELS]
        return models

    def configured(self, name: str) -> bool:
        """Whether provider `name` has what it needs to be called (a key, or a base URL for openai)."""
        if name == "anthropic":
            return bool(self._anthropic_api_key)
        if name == "openai":
            return bool(self._openai_api_key or self._openai_base_url)
        return name == "scripted"

    def require(self, name: str) -> None:
        """Raise FatalLlmError (kind "missing_key", naming the setting to give) if provider `name` is
        not configured; creates nothing. Asked where a model is chosen (a chat, a message's model,
        an agent), so that it is refused there instead of pausing the chat at its first call."""
        if self.configured(name):
            return
        from reliant.llm import anthropic, openai

        missing = {anthropic.NAME: anthropic.MISSING_KEY, openai.NAME: openai.MISSING_KEY}
        if name not in missing:
            raise UnknownModelError(f"{name}:", self.available_models())
        raise FatalLlmError(name, missing[name], kind="missing_key")

    async def prepare(self, name: str) -> None:
        """Creates provider `name` in a thread: that imports its SDK (seconds on a busy machine), and
        the event loop goes on meanwhile; a timed call to the provider then times only the call."""
        if name not in PROVIDER_NAMES:
            raise UnknownModelError(f"{name}:", self.available_models())
        if name in self._created:
            return
        provider = await asyncio.to_thread(self._create, name)
        if self._created.setdefault(name, provider) is not provider:
            await provider.close()  # created meanwhile by another caller

    async def list_models(self, name: str, timeout: float = 10.0) -> list[ListedModel]:
        """The models provider `name` lists through its API. Raises LlmError (FatalLlmError with
        kind "missing_key" for a provider that is not configured)."""
        if name not in PROVIDER_NAMES:
            raise UnknownModelError(f"{name}:", self.available_models())
        provider = self._created.get(name)
        if provider is None:
            provider = self._create(name)
            self._created[name] = provider
        return await provider.list_models(timeout)

    async def close(self) -> None:
        created, self._created = self._created, {}
        for name, provider in created.items():
            try:
                await provider.close()
            except Exception:  # keep closing the others
                logger.exception("closing the %s provider failed", name)

    def _create(self, name: str) -> Provider:
        if name == "anthropic":
            from reliant.llm.anthropic import AnthropicProvider

            return AnthropicProvider(
                api_key=self._anthropic_api_key, base_url=self._anthropic_base_url, read_timeout=self._read_timeout
            )
        if name == "openai":
            from reliant.llm.openai import OpenAIProvider

            return OpenAIProvider(
                api_key=self._openai_api_key, base_url=self._openai_base_url, read_timeout=self._read_timeout
            )
        from reliant.llm.scripted import ScriptedProvider

        return ScriptedProvider()
