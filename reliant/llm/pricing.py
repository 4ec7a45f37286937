"""What a call costs: USD per million tokens, by model id prefix.

Prices are list prices for standard (not batch, not priority) requests with short contexts; cache
writes are priced at the 5-minute rate. Scripted and unknown models (local servers) cost nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reliant.domain.chat import BlockType, ContentBlock, Usage
from reliant.domain.model_spec import ModelSpec
from reliant.llm.base import LlmRequest, LlmResponse

CHARS_PER_TOKEN = 4  # what a token is taken to be where no count is known


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


def _anthropic(input_price: float, output_price: float, cache_read: float | None = None) -> Price:
    # Anthropic: cache reads 0.1x input unless listed otherwise, 5-minute cache writes 1.25x.
    read = input_price * 0.1 if cache_read is None else cache_read
    return Price(input_price, output_price, read, input_price * 1.25)


def _openai(input_price: float, output_price: float, cached: float) -> Price:
    return Price(input_price, output_price, cached, 0.0)  # OpenAI does not bill cache writes


# Model id -> price; the longest prefix that ends at a "-" (or the end of the id) wins, so dated
# ids like claude-haiku-4-5-20251001 find claude-haiku-4-5.
PRICES: dict[str, Price] = {
    # Anthropic
    "claude-fable-5-1": _anthropic(10.0, 50.0, 0.25),
    "claude-mythos-5-1": _anthropic(10.0, 50.0, 0.25),
    "claude-fable-5": _anthropic(10.0, 50.0),
    "claude-mythos-5": _anthropic(10.0, 50.0),
    "claude-opus-5": _anthropic(5.0, 25.0),
    "claude-opus-4-8": _anthropic(5.0, 25.0),
    "claude-opus-4-7": _anthropic(5.0, 25.0),
    "claude-opus-4-6": _anthropic(5.0, 25.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4-0": _anthropic(15.0, 75.0),
    "claude-opus-4-20250514": _anthropic(15.0, 75.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    "claude-3-haiku": _anthropic(0.25, 1.25),
    # OpenAI
    "gpt-5.5": _openai(5.0, 30.0, 0.5),
    "gpt-5.5-pro": _openai(30.0, 180.0, 30.0),
    "gpt-5.4": _openai(2.5, 15.0, 0.25),
    "gpt-5.4-mini": _openai(0.75, 4.5, 0.075),
    "gpt-5.4-nano": _openai(0.2, 1.25, 0.02),
    "gpt-5.4-pro": _openai(30.0, 180.0, 30.0),
    "gpt-5.2": _openai(1.75, 14.0, 0.175),
    "gpt-5.1": _openai(1.25, 10.0, 0.125),
    "gpt-5": _openai(1.25, 10.0, 0.125),
    "gpt-5-mini": _openai(0.25, 2.0, 0.025),
    "gpt-5-nano": _openai(0.05, 0.4, 0.005),
    "gpt-4.1": _openai(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _openai(0.4, 1.6, 0.1),
    "gpt-4.1-nano": _openai(0.1, 0.4, 0.025),
    "gpt-4o": _openai(2.5, 10.0, 1.25),
    "gpt-4o-mini": _openai(0.15, 0.6, 0.075),
    "gpt-5.2-pro": _openai(21.0, 168.0, 21.0),
    "gpt-5-pro": _openai(15.0, 120.0, 15.0),
    "o3": _openai(2.0, 8.0, 0.5),
    "o3-mini": _openai(1.1, 4.4, 0.55),
    "o4-mini": _openai(1.1, 4.4, 0.275),
}
_BY_LENGTH = sorted(PRICES, key=len, reverse=True)
_PRICED_PROVIDERS = frozenset({"anthropic", "openai"})


def price(spec_or_model: str | ModelSpec) -> Price | None:
    """The price of `anthropic:<model>`, `openai:<model>` or a bare model id; None if unknown."""
    provider, sep, model = str(spec_or_model).partition(":")
    provider, model = provider.strip(), model.strip()  # spaced as typed, the call goes out all the same
    if not sep:
        model = provider
    elif provider not in _PRICED_PROVIDERS:
        return None
    for prefix in _BY_LENGTH:
        if model == prefix or model.startswith(prefix + "-"):
            return PRICES[prefix]
    return None


def usage_to_price(request: LlmRequest, response: LlmResponse) -> Usage:
    """The usage a call is priced by: as the server reported it, or, from a server that reported
    none, estimated from the text's length (CHARS_PER_TOKEN characters a token; images not counted),
    so that a priced model is never counted free. The usage stored stays as reported."""
    if response.usage != Usage():
        return response.usage
    tools = json.dumps([t.input_schema for t in request.tools]) if request.tools else ""
    sent = len(request.system) + len(request.context) + len(tools) + sum(_chars(m.blocks) for m in request.messages)
    return Usage(input_tokens=-(-sent // CHARS_PER_TOKEN), output_tokens=-(-_chars(response.blocks) // CHARS_PER_TOKEN))


def _chars(blocks: tuple[ContentBlock, ...]) -> int:
    return sum(
        len(b.text) + (len(json.dumps(b.tool_input)) if b.tool_input else 0)
        for b in blocks
        if b.type is not BlockType.IMAGE
    )


def cost(spec_or_model: str | ModelSpec, usage: Usage) -> float:
    """USD for one call's usage; 0.0 for scripted and unknown models."""
    found = price(spec_or_model)
    if found is None:
        return 0.0
    return (
        usage.input_tokens * found.input
        + usage.output_tokens * found.output
        + usage.cache_read_tokens * found.cache_read
        + usage.cache_write_tokens * found.cache_write
    ) / 1_000_000
