"""SettingsService: provider keys and the default model, written through the api and never read
back in clear (nor credentials in a base URL); the spending budgets and model price overrides the
worker checks every model call against (reliant.worker.budget reads the same settings keys); and
the models a model field suggests (model_choices.py). REST twin: GET and PATCH /api/settings
(rest_settings.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from connectrpc.request import RequestContext

from reliant.api.connect import call
from reliant.api.context import ApiContext
from reliant.api.errors import InvalidFieldError
from reliant.api.model_choices import ModelChoices
from reliant.clients.providers import WRITABLE, ProviderPool
from reliant.config import mask, mask_url
from reliant.db import budgets as budgets_db
from reliant.db import projects as projects_db
from reliant.db import settings as settings_db
from reliant.domain.budgets import MAX_BUDGET_USD
from reliant.llm.errors import LlmError
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place
from reliant.wire.v1 import settings_pb2 as pb

MAX_VALUE_CHARS = 4096
MAX_PRICE_USD = 100_000.0  # per million tokens
MAX_PRICES = 200
BUDGET_FIELDS = {
    "budget_chat_usd": budgets_db.CHAT_BUDGET_KEY,
    "budget_project_day_usd": budgets_db.PROJECT_BUDGET_KEY,
}


class SettingsService:
    def __init__(self, ctx: ApiContext, providers: ProviderPool) -> None:
        self.ctx = ctx
        self.providers = providers
        self.choices = ModelChoices(ctx, providers)

    async def list_model_choices(
        self, request: pb.ListModelChoicesRequest, ctx: RequestContext[Any, Any]
    ) -> pb.ModelChoices:
        return await self.choices.choices(refresh=request.refresh)

    async def get_settings(self, request: pb.GetSettingsRequest, ctx: RequestContext[Any, Any]) -> pb.Settings:
        return await self.current()

    async def update_settings(self, request: pb.UpdateSettingsRequest, ctx: RequestContext[Any, Any]) -> pb.Settings:
        return await call(self.update(request))

    async def update(self, request: pb.UpdateSettingsRequest) -> pb.Settings:
        """Only the fields present change; every field is checked before any is stored."""
        changes = {key: getattr(request, key).strip() for key in WRITABLE if request.HasField(key)}
        for key, value in changes.items():
            if len(value) > MAX_VALUE_CHARS or "\n" in value:
                raise InvalidFieldError(key, "is not a valid value")
            if key.endswith("_base_url") and value and not value.startswith(("http://", "https://")):
                raise InvalidFieldError(key, "must be an http(s) URL")
            if key.endswith("_api_key") and not all("!" <= c <= "~" for c in value):
                # it goes into an HTTP header: printable ASCII without spaces, or it can never be sent
                raise InvalidFieldError(key, "may only contain printable ASCII without spaces")
        for field, key in BUDGET_FIELDS.items():
            if request.HasField(field):
                changes[key] = _amount(field, getattr(request, field), MAX_BUDGET_USD)
        if request.HasField("model_prices"):
            changes[budgets_db.PRICES_KEY] = _prices_json(request.model_prices)
        if changes.get("default_model"):
            await self._check_default_model(changes["default_model"])
        await settings_db.put(self.ctx.db, changes)
        self.providers.invalidate()
        return await self.current()

    async def _check_default_model(self, spec: str) -> None:
        """A scripted default must lie inside a registered project or the data dir (each chat's
        model is checked again against its own project when it is used)."""
        try:
            parsed = parse_model(spec)
            if parsed.provider == "scripted":
                projects = await projects_db.list_all(self.ctx.db)
                check_script_place(parsed.model, [self.ctx.settings.data_dir, *(Path(p.path) for p in projects)])
        except LlmError as exc:
            raise InvalidFieldError("default_model", exc.message) from None

    async def current(self) -> pb.Settings:
        effective = await self.providers.effective()
        v, source = effective.values, effective.source
        out = pb.Settings(
            default_model=v["default_model"] or self.ctx.settings.default_model,
            models=(await self.providers.providers()).available_models(),
        )
        for name in ("anthropic", "openai"):
            key, url = v[f"{name}_api_key"], v[f"{name}_base_url"]
            out.providers.append(
                pb.ProviderSettings(
                    name=name,
                    configured=bool(key or (name == "openai" and url)),
                    api_key_masked=mask(key) if key else "",
                    base_url=mask_url(url),
                    source=source[f"{name}_api_key"] or source[f"{name}_base_url"],
                )
            )
        stored = await settings_db.all_values(self.ctx.db)
        configured = {
            "budget_chat_usd": self.ctx.settings.budget_chat_usd,
            "budget_project_day_usd": self.ctx.settings.budget_project_day_usd,
        }
        sources = set()
        for field, key in BUDGET_FIELDS.items():
            value = _stored_number(stored.get(key))
            sources.add("api" if value is not None else "config" if configured[field] else "")
            setattr(out, field, value if value is not None else configured[field])
        out.budget_source = "api" if "api" in sources else "config" if "config" in sources else ""
        out.model_prices.extend(_prices_pb(stored.get(budgets_db.PRICES_KEY, "")))
        return out


def _amount(field: str, value: float, limit: float) -> str:
    """A number of dollars as the settings table stores it; refused naming the field."""
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise InvalidFieldError(field, f"must be a number of dollars from 0 to {limit:,.0f}")
    return repr(float(value))


def _stored_number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None  # the worker ignores it too (and logs it)


def _prices_json(prices: pb.ModelPrices) -> str:
    """The price overrides as the worker reads them (reliant.worker.budget); "" for none."""
    if len(prices.prices) > MAX_PRICES:
        raise InvalidFieldError("model_prices", f"at most {MAX_PRICES} models may be priced")
    doc: dict[str, dict[str, float]] = {}
    for i, price in enumerate(prices.prices):
        where = f"model_prices.prices[{i}]"
        model = price.model.strip()
        if not model or len(model) > 200 or any(c.isspace() for c in model):
            raise InvalidFieldError(f"{where}.model", "must name a model (provider:model), without spaces")
        if model in doc:
            raise InvalidFieldError(f"{where}.model", f"{model} is priced twice")
        entry: dict[str, float] = {}
        for name in ("input", "output"):
            # Left out is not $0: a model that costs money would be counted free.
            if not price.HasField(name):
                raise InvalidFieldError(
                    f"{where}.{name}", f"is missing: USD per million {name} tokens (0 if the model is free)"
                )
            entry[name] = float(_amount(f"{where}.{name}", getattr(price, name), MAX_PRICE_USD))
        for name in ("cache_read", "cache_write"):
            if price.HasField(name):
                entry[name] = float(_amount(f"{where}.{name}", getattr(price, name), MAX_PRICE_USD))
        doc[model] = entry
    return json.dumps(doc) if doc else ""


def _prices_pb(raw: str) -> list[pb.ModelPrice]:
    try:
        doc = json.loads(raw) if raw else {}
        return [
            pb.ModelPrice(
                model=str(model),
                input=float(v["input"]),
                output=float(v["output"]),
                cache_read=float(v["cache_read"]) if "cache_read" in v else None,
                cache_write=float(v["cache_write"]) if "cache_write" in v else None,
            )
            for model, v in doc.items()
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []  # not what the worker can read either: it ignores it
