"""The provider interface: one streaming call in, events out as they arrive, one response back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from reliant.domain.chat import BlockType, ContentBlock, Message, ToolDefinition, Usage


@dataclass(frozen=True, slots=True)
class LlmRequest:
    model: str  # the provider's own model id, e.g. "claude-sonnet-4-5", "gpt-4o", "demo"
    system: str  # the stable part of the system prompt: the same for every chat of a mode
    messages: tuple[Message, ...]
    tools: tuple[ToolDefinition, ...] = ()
    max_tokens: int = 8192
    thinking_budget: int = 0  # > 0 turns on extended thinking where the provider has it
    # The per-chat part of the system prompt (environment, project instructions), sent after
    # `system` so that `system` stays a prefix the provider can cache across chats.
    context: str = ""
    # None: the provider's default. A workflow preset may set one; providers whose API has no such
    # parameter (Anthropic's current Messages API) leave it out.
    temperature: float | None = None

    def full_system(self) -> str:
        """The whole system prompt, for providers that take it as one text."""
        return f"{self.system}\n\n{self.context}" if self.system and self.context else self.system or self.context


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A new content block begins at `index` of the assistant message."""

    index: int
    type: BlockType
    tool_call_id: str = ""
    tool_name: str = ""


@dataclass(frozen=True, slots=True)
class BlockDelta:
    """More text for the block at `index` (text or thinking; partial JSON for a tool call)."""

    index: int
    type: BlockType
    text: str


StreamEvent = BlockStart | BlockDelta
OnEvent = Callable[[StreamEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LlmResponse:
    blocks: tuple[ContentBlock, ...]
    usage: Usage
    stop_reason: str  # "end_turn", "tool_use", "max_tokens", ...
    model: str
    output_limit: int = 0  # the max_tokens the call was made with (0: none), named when it cut the answer


@dataclass(frozen=True, slots=True)
class ListedModel:
    """A model a provider's API lists: its id (as a request names it) and display name, if any."""

    id: str
    label: str = ""


class Provider(Protocol):
    name: str

    async def stream(self, request: LlmRequest, on_event: OnEvent) -> LlmResponse:
        """Call the model, awaiting `on_event` for every event as it arrives.

        Raises RetryableLlmError (429, 5xx, overloaded; with retry_after when the provider says)
        or FatalLlmError (auth, invalid request). Never retries by itself: retries belong to the
        caller (Temporal)."""
        ...

    async def list_models(self, timeout: float) -> list[ListedModel]:
        """The models the provider's API lists for this key (within `timeout` seconds).

        Raises LlmError like stream does."""
        ...

    async def close(self) -> None: ...
