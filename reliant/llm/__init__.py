"""LLM providers: the only package that imports the provider SDKs (lazily: importing this is cheap)."""

from reliant.domain.model_spec import ModelSpec
from reliant.llm.base import (
    BlockDelta,
    BlockStart,
    ListedModel,
    LlmRequest,
    LlmResponse,
    OnEvent,
    Provider,
    StreamEvent,
)
from reliant.llm.demo import DEMO_MODEL, copy_demo_project, demo_project_dir
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError, UnknownModelError
from reliant.llm.pricing import Price, cost, price
from reliant.llm.registry import Providers, parse_model
from reliant.llm.scripted import ScriptedProvider

__all__ = [
    "DEMO_MODEL",
    "BlockDelta",
    "BlockStart",
    "FatalLlmError",
    "ListedModel",
    "LlmError",
    "LlmRequest",
    "LlmResponse",
    "ModelSpec",
    "OnEvent",
    "Price",
    "Provider",
    "Providers",
    "RetryableLlmError",
    "ScriptedProvider",
    "StreamEvent",
    "UnknownModelError",
    "copy_demo_project",
    "cost",
    "demo_project_dir",
    "parse_model",
    "price",
]
