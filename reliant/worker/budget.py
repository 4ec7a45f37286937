"""Spending: what a model call costs and whether it may be made.

A chat's budget covers every agent in its tree (they all record their calls in the chat); a
project's covers its chats of the day (UTC). Before each model call the recorded costs plus an
estimate of the call are checked: a call that would cross a budget is not made, and the run pauses
with "budget reached: $X of $Y" until the user raises the budget and resumes.

Prices: the built-in table (reliant.llm.pricing), overridden per model by the `model_prices` setting
(JSON: {"<model spec or id>": {"input": USD per Mtok, "output": ...}}). Models behind a custom
`openai_base_url` (local servers) cost nothing unless priced there.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from reliant.clients.providers import ProviderPool
from reliant.db import Database
from reliant.db import budgets as budgets_db
from reliant.db import settings as settings_db
from reliant.domain.budgets import chat_budget_in_force
from reliant.domain.chat import StoredMessage, Usage
from reliant.domain.model_spec import split_model_spec
from reliant.llm.pricing import CHARS_PER_TOKEN, Price, cost, price

logger = logging.getLogger(__name__)

PRICES_KEY = budgets_db.PRICES_KEY
CHAT_BUDGET_KEY = budgets_db.CHAT_BUDGET_KEY
PROJECT_BUDGET_KEY = budgets_db.PROJECT_BUDGET_KEY
DEFAULT_OUTPUT_ESTIMATE = 1_000  # tokens, before a chat has any answer to go by


@dataclass(frozen=True, slots=True)
class Refusal:
    """The call would cross a budget."""

    spent: float
    limit: float
    scope: str  # chat | project

    def __str__(self) -> str:
        where = "" if self.scope == "chat" else " (the project's for today)"
        return f"budget reached: ${self.spent:.2f} of ${self.limit:.2f}{where}"


@dataclass(frozen=True, slots=True)
class Terms:
    """What one model call is checked and priced by, read once for it: the stored settings (budgets,
    price overrides) and the chat's own budget. Read afresh for every call, so a setting written
    through the api holds from the next call on."""

    settings: dict[str, str]
    chat_budget: float | None  # the chat's own (None: the configured default)


class Spending:
    def __init__(
        self, db: Database, providers: ProviderPool, *, chat_budget: float = 0.0, project_day_budget: float = 0.0
    ) -> None:
        """`chat_budget`, `project_day_budget`: the configured defaults in USD (0: none)."""
        self.db = db
        self.providers = providers
        self.chat_budget = chat_budget
        self.project_day_budget = project_day_budget

    async def terms(self, chat_id: str) -> Terms:
        own, stored = await budgets_db.chat_budget_and_settings(self.db, chat_id)
        return Terms(stored, own)

    async def price(self, model_spec: str, terms: Terms | None = None) -> Price | None:
        """`terms`: the call's (None: the settings stored now)."""
        stored = terms.settings if terms is not None else await settings_db.all_values(self.db)
        overrides = _prices(stored.get(PRICES_KEY, ""))
        model_spec = str(split_model_spec(model_spec) or model_spec.strip())  # as priced: no spaces around
        provider, _, model = model_spec.partition(":")
        for key in (model_spec, model):
            if key in overrides:
                return overrides[key]
        if provider == "openai" and (await self.providers.effective()).values.get("openai_base_url"):
            return None  # a local server behind a custom base URL: free unless priced above
        return price(model_spec)

    async def cost(self, model_spec: str, usage: Usage, terms: Terms | None = None) -> float:
        found = await self.price(model_spec, terms)
        return _cost(found, usage) if found is not None else 0.0

    async def check(
        self,
        chat_id: str,
        project_id: str,
        model_spec: str,
        thread_id: str,
        transcript: list[StoredMessage],
        *,
        terms: Terms | None = None,
    ) -> Refusal | None:
        """None if the call may be made; else the budget it would cross. `terms`: the call's (None:
        read now)."""
        terms = terms if terms is not None else await self.terms(chat_id)
        stored = terms.settings
        chat_limit, _ = chat_budget_in_force(terms.chat_budget, stored.get(CHAT_BUDGET_KEY), self.chat_budget)
        day_limit = _number(stored.get(PROJECT_BUDGET_KEY), self.project_day_budget)
        if not chat_limit and not day_limit:
            return None
        estimate = await self._estimate(chat_id, model_spec, thread_id, transcript, terms)
        if chat_limit:
            spent = await budgets_db.chat_spent(self.db, chat_id)
            if spent + estimate > chat_limit:
                return Refusal(spent, chat_limit, "chat")
        if day_limit:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            spent = await budgets_db.project_spent_since(self.db, project_id, today)
            if spent + estimate > day_limit:
                return Refusal(spent, day_limit, "project")
        return None

    async def _estimate(
        self, chat_id: str, model_spec: str, thread_id: str, transcript: list[StoredMessage], terms: Terms
    ) -> float:
        """The call's likely cost: its context as large as the thread's last call's (or its text's
        length / 4, if larger), its answer as long as the chat's answers on average."""
        found = await self.price(model_spec, terms)
        if found is None:
            return 0.0
        last_in, avg_out = await budgets_db.last_usage(self.db, chat_id, thread_id)
        chars = sum(len(b.text or "") + len(json.dumps(b.tool_input or {})) for m in transcript for b in m.blocks)
        tokens_in = max(last_in, chars // CHARS_PER_TOKEN)
        return _cost(found, Usage(input_tokens=tokens_in, output_tokens=avg_out or DEFAULT_OUTPUT_ESTIMATE))


def _cost(found: Price, usage: Usage) -> float:
    return (
        usage.input_tokens * found.input
        + usage.output_tokens * found.output
        + usage.cache_read_tokens * found.cache_read
        + usage.cache_write_tokens * found.cache_write
    ) / 1_000_000


def _number(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw else default
    except ValueError:
        logger.warning("ignoring a budget setting that is not a number: %r", raw)
        return default


def _prices(raw: str) -> dict[str, Price]:
    if not raw:
        return {}
    try:
        doc = json.loads(raw)
        return {
            str(k): Price(
                float(v["input"]),
                float(v["output"]),
                float(v.get("cache_read", v["input"])),
                float(v.get("cache_write", v["input"])),
            )
            for k, v in doc.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        logger.warning("ignoring the model_prices setting: it is not {model: {input, output}} JSON")
        return {}


async def call_cost(spending: Spending | None, model_spec: str, usage: Usage, terms: Terms | None = None) -> float:
    """What `usage` of `model_spec` cost: by the prices in force (`terms`: a call's, read once for
    it; no `spending`: the price table alone)."""
    if spending is None:
        return cost(model_spec, usage)
    return await spending.cost(model_spec, usage, terms)
