"""The price table and cost()."""

from __future__ import annotations

import pytest

from reliant.domain.chat import Usage
from reliant.llm import ModelSpec, cost, price
from reliant.llm.pricing import PRICES

MILLION = Usage(
    input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000, cache_write_tokens=1_000_000
)


def test_anthropic_cost_counts_every_kind_of_token() -> None:
    # Sonnet 4.x: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
    usage = Usage(input_tokens=1000, output_tokens=2000, cache_read_tokens=10_000, cache_write_tokens=4000)
    expected = (1000 * 3 + 2000 * 15 + 10_000 * 0.3 + 4000 * 3.75) / 1_000_000
    assert cost("anthropic:claude-sonnet-4-6", usage) == pytest.approx(expected)
    assert cost(ModelSpec("anthropic", "claude-sonnet-4-6"), usage) == pytest.approx(expected)
    assert cost("claude-sonnet-4-6", usage) == pytest.approx(expected)


def test_openai_cached_input_is_cheaper_and_writes_are_free() -> None:
    assert cost("openai:gpt-5.4", MILLION) == pytest.approx(2.5 + 15 + 0.25 + 0)


@pytest.mark.parametrize(
    ("model", "prefix"),
    [
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-5", "claude-opus-4-5"),
        ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
        ("gpt-5.4", "gpt-5.4"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("o3-mini", "o3-mini"),
    ],
)
def test_the_longest_matching_prefix_wins(model: str, prefix: str) -> None:
    assert price(f"openai:{model}" if not model.startswith("claude") else f"anthropic:{model}") is PRICES[prefix]


@pytest.mark.parametrize(
    "spec", ["scripted:demo", "openai:llama3.1:8b", "anthropic:claude-unknown", "openai:gpt-5.9", "gpt-40"]
)
def test_scripted_and_unknown_models_are_free(spec: str) -> None:
    assert price(spec) is None
    assert cost(spec, MILLION) == 0.0


def test_cache_prices_keep_their_ratios() -> None:
    for prefix, p in PRICES.items():
        assert p.cache_read <= p.input, prefix
        if prefix.startswith("claude"):
            assert p.cache_write == pytest.approx(p.input * 1.25), prefix


@pytest.mark.parametrize(
    "spec", [" anthropic:claude-sonnet-4-6", "anthropic: claude-sonnet-4-6", "anthropic:claude-sonnet-4-6 "]
)
def test_a_spec_with_spaces_around_its_parts_costs_what_the_model_costs(spec: str) -> None:
    """The call goes out to the model whatever the spaces (the spec is parsed stripped): so must its cost."""
    assert price(spec) is PRICES["claude-sonnet-4"]
    assert cost(spec, MILLION) == cost("anthropic:claude-sonnet-4-6", MILLION) > 0
