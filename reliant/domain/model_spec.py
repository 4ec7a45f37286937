"""Model specs: `provider:model`, the provider one of those reliant has (reliant/llm serves them)."""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER_NAMES = ("scripted", "anthropic", "openai")
SPEC_FORMS = "scripted:<name|path.yaml>, anthropic:<model> or openai:<model>"  # in words, for errors


@dataclass(frozen=True, slots=True)
class ModelSpec:
    provider: str  # "scripted" | "anthropic" | "openai"
    model: str  # the provider's own id (for scripted: a script name or an absolute .yaml path)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def split_model_spec(spec: str) -> ModelSpec | None:
    """`spec` as a ModelSpec; None when it names no provider reliant has, or no model."""
    provider, sep, model = spec.strip().partition(":")
    if not sep or provider not in PROVIDER_NAMES or not model.strip():
        return None
    return ModelSpec(provider, model.strip())
