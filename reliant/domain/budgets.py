"""Spending budgets: the amounts of dollars a budget may be, wherever one is set (the api's chat
budget and settings, a workflow input named budget_usd)."""

from __future__ import annotations

import logging
import math

logger = logging.getLogger(__name__)

BUDGET_INPUT = "budget_usd"  # a workflow input of this name is the chat's spending budget
MAX_BUDGET_USD = 1_000_000.0
MIN_BUDGET_USD = 0.0001  # a chat's budget is stored to a hundredth of a cent (numeric(12, 4)); 0 is none


def budget_problem(usd: float) -> str:
    """Why `usd` cannot be a budget ("" when it can)."""
    if not math.isfinite(usd) or not 0 <= usd <= MAX_BUDGET_USD:
        return f"must be a number of dollars from 0 to {MAX_BUDGET_USD:,.0f}"
    if 0 < usd < MIN_BUDGET_USD:
        return f"must be 0 (no budget) or at least ${MIN_BUDGET_USD}: a smaller one would be stored as 0"
    return ""


def chat_budget_in_force(own: float | None, stored: str | None, configured: float) -> tuple[float, str]:
    """The budget a chat spends against, in USD (0: none), and where it is set: "chat" (its own),
    "api" (the settings screen's, `stored` as text), "config" (`configured`: reliant.toml's
    [budget]) or "" (nowhere). The worker's budget check and the api's agent tree both ask here."""
    if own is not None:
        return own, "chat"
    try:
        if stored:
            return float(stored), "api"
    except ValueError:
        logger.warning("ignoring a budget setting that is not a number: %r", stored)
    return configured, "config" if configured else ""
