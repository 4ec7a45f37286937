"""Provider settings as a role sees them: its own configuration, overlaid with the values written
through the api (stored in Postgres, so every api and worker replica agrees)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reliant.config import Settings, provider_urls, url_secret
from reliant.db import Database
from reliant.db import settings as settings_db
from reliant.llm.registry import Providers
from reliant.redaction import remember

# Settings that may be written through the api.
WRITABLE = ("anthropic_api_key", "anthropic_base_url", "openai_api_key", "openai_base_url", "default_model")
SECRET = frozenset({"anthropic_api_key", "openai_api_key"})


def own_providers(settings: Settings) -> list[str]:
    """The providers a role's own configuration (its environment, reliant.toml) can call: a worker
    names them in its presence record, so that an api without the keys knows the workers have them."""
    own = Providers(
        anthropic_api_key=settings.anthropic_api_key,
        anthropic_base_url=settings.anthropic_base_url,
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url,
    )
    return [name for name in ("anthropic", "openai") if own.configured(name)]


@dataclass(frozen=True, slots=True)
class Effective:
    values: dict[str, str]  # WRITABLE key -> value in force
    source: dict[str, str]  # WRITABLE key -> "api" | "environment" | ""


class ProviderPool:
    """The Providers in force, rebuilt when the stored settings change (checked every `ttl` s)."""

    def __init__(self, db: Database, settings: Settings, ttl: float = 2.0) -> None:
        self._db = db
        self._settings = settings
        self._ttl = ttl
        self._checked = 0.0
        self._stored: dict[str, str] | None = None
        self._providers: Providers | None = None
        self._retired: list[Providers] = []

    async def effective(self) -> Effective:
        if self._stored is None or time.monotonic() - self._checked > self._ttl:
            stored = {k: v for k, v in (await settings_db.all_values(self._db)).items() if k in WRITABLE}
            self._checked = time.monotonic()
            if stored != self._stored:
                self._stored = stored
                if self._providers is not None:
                    self._retired.append(self._providers)  # calls in flight keep their clients
                    self._providers = None
        own = {key: str(getattr(self._settings, key)) for key in WRITABLE}
        values = {key: self._stored.get(key) or own[key] for key in WRITABLE}
        source = {key: "api" if self._stored.get(key) else ("environment" if own[key] else "") for key in WRITABLE}
        return Effective(values, source)

    async def providers(self) -> Providers:
        effective = await self.effective()
        if self._providers is None:
            v = effective.values
            # Kept out of logs and error reports from now on: the keys, and the base URLs' passwords.
            remember(*(v[key] for key in SECRET), *(url_secret(url) for url in provider_urls(v)))
            self._providers = Providers(
                anthropic_api_key=v["anthropic_api_key"],
                anthropic_base_url=v["anthropic_base_url"],
                openai_api_key=v["openai_api_key"],
                openai_base_url=v["openai_base_url"],
                read_timeout=self._settings.llm_read_timeout,
            )
        return self._providers

    def invalidate(self) -> None:
        """Re-read the stored settings on the next use (after this process wrote them)."""
        self._checked = 0.0

    async def close(self) -> None:
        for providers in [*self._retired, *([self._providers] if self._providers else [])]:
            await providers.close()
        self._retired = []
        self._providers = None
