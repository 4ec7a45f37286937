"""What a model field suggests: the models each configured provider lists through its own API
(Anthropic's Models API, an OpenAI-compatible `/models`: asked through the official SDKs in
reliant/llm), and the models of recently active chats.

Listings are cached per provider and configuration (a new key or base URL asks again) for
CACHE_SECONDS, a failure for FAILED_CACHE_SECONDS. Asking fails soft: a provider that cannot be
reached, refuses the key or takes longer than LIST_TIMEOUT gives its usual models instead, with the
reason. Concurrent requests share one call per provider and configuration: a request after the
configuration changed never waits for (or gets) the answer to the old one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass

from reliant.api.context import ApiContext
from reliant.clients.providers import ProviderPool
from reliant.db import chats as chats_db
from reliant.llm import ListedModel, LlmError
from reliant.llm.registry import DEFAULT_ANTHROPIC_MODELS, DEFAULT_OPENAI_MODELS, Providers
from reliant.wire.v1 import settings_pb2 as pb

logger = logging.getLogger(__name__)

CACHE_SECONDS = 600.0
FAILED_CACHE_SECONDS = 60.0
LIST_TIMEOUT = 8.0
RECENT = 8
PROVIDERS = ("anthropic", "openai", "scripted")
USUAL = {"anthropic": DEFAULT_ANTHROPIC_MODELS, "openai": DEFAULT_OPENAI_MODELS, "scripted": ("demo",)}


@dataclass(frozen=True, slots=True)
class Listing:
    provider: str
    configured: bool
    models: tuple[ListedModel, ...]
    error: str
    fetched: float  # time.time() of the answer (0 when not asked)
    signature: str  # the configuration it was asked with
    expires: float  # time.monotonic()


class ModelChoices:
    def __init__(self, ctx: ApiContext, providers: ProviderPool) -> None:
        self.ctx = ctx
        self.providers = providers
        # Both keyed by (provider, signature of its configuration).
        self._cache: dict[tuple[str, str], Listing] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[Listing]] = {}

    async def choices(self, refresh: bool = False) -> pb.ModelChoices:
        effective = await self.providers.effective()
        providers = await self.providers.providers()
        values = effective.values
        signatures = {n: _signature(values.get(f"{n}_api_key", ""), values.get(f"{n}_base_url", "")) for n in PROVIDERS}
        listings = await asyncio.gather(*(self._listing(n, providers, signatures[n], refresh) for n in PROVIDERS))
        recent = await chats_db.recent_models(self.ctx.db, RECENT)
        out = pb.ModelChoices(default_model=values["default_model"] or self.ctx.settings.default_model)
        seen: set[str] = set()

        def add(model: str, source: str, label: str = "") -> None:
            if model and model not in seen:
                seen.add(model)
                out.choices.append(pb.ModelChoice(model=model, source=source, label=label))

        for model in recent:
            add(model, "recent")
        add(out.default_model, "default")
        for listing in listings:
            out.providers.append(
                pb.ProviderModels(
                    provider=listing.provider,
                    configured=listing.configured,
                    error=listing.error,
                    fetched_unix=listing.fetched,
                )
            )
            if not listing.configured:
                continue
            if listing.models:
                for m in listing.models:
                    add(f"{listing.provider}:{m.id}", "provider", m.label)
            else:
                for model in USUAL[listing.provider]:
                    add(f"{listing.provider}:{model}", "default")
        return out

    async def _listing(self, name: str, providers: Providers, signature: str, refresh: bool) -> Listing:
        if not providers.configured(name):
            return Listing(name, False, (), "not configured: set its key in Settings", 0.0, signature, 0.0)
        key = (name, signature)
        cached = self._cache.get(key)
        if cached is not None and not refresh and time.monotonic() < cached.expires:
            return cached
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._ask(name, providers, signature))
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(running)

    async def _ask(self, name: str, providers: Providers, signature: str) -> Listing:
        try:
            await providers.prepare(name)  # the SDK's import is not the provider's answer time
            models = await asyncio.wait_for(providers.list_models(name, LIST_TIMEOUT), LIST_TIMEOUT + 1)
            listing = Listing(name, True, tuple(models), "", time.time(), signature, time.monotonic() + CACHE_SECONDS)
        except (LlmError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, LlmError) else f"no answer within {LIST_TIMEOUT:.0f} s"
            logger.info("could not list the models of %s: %s", name, message)
            listing = Listing(name, True, (), message, time.time(), signature, time.monotonic() + FAILED_CACHE_SECONDS)
        # One configuration per provider is kept: the one asked last.
        for stale in [k for k in self._cache if k[0] == name and k[1] != signature]:
            del self._cache[stale]
        self._cache[(name, signature)] = listing
        return listing


def _signature(*values: str) -> str:
    return hashlib.sha256("\0".join(values).encode()).hexdigest()
