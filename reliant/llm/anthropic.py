"""AnthropicProvider: the Messages API, streamed through the official SDK.

The stable prefix of every request is marked for prompt caching: the tool definitions, the stable
part of the system prompt and the last block of the conversation carry `cache_control: ephemeral`
(three of the four breakpoints the API allows). The system prompt's per-chat part (environment,
project instructions) is a second system block after the stable one, without a breakpoint of its
own: the conversation's breakpoint covers it, and chats of a project share the cached tools and
guidance. So the next turn of the same chat reads everything before its new messages from the cache.

Images go as image blocks: those of a user message where they are, those a tool returned (an image
block carrying the tool call's id) inside that call's tool_result.

The SDK is imported when a provider is built, not when this module is: `import anthropic` is slow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition, Usage
from reliant.llm import broken_stream
from reliant.llm.base import BlockDelta, BlockStart, ListedModel, LlmRequest, LlmResponse, OnEvent
from reliant.llm.classify import error_for_status, plain_body, scrub, secrets_of
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError, check_key_sendable
from reliant.llm.tool_input import ToolInputError, tool_input_of

if TYPE_CHECKING:
    import anthropic as sdk
    from anthropic.types import MessageParam, RawMessageStreamEvent, TextBlockParam, ToolParam

logger = logging.getLogger(__name__)

NAME = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
MISSING_KEY = "no API key configured: set RELIANT_ANTHROPIC_API_KEY (or ANTHROPIC_API_KEY)"
MIN_THINKING_BUDGET = 1024  # the API's floor for `budget_tokens`
# A redacted thinking block has no text, only opaque data that must go back verbatim. It travels in
# our THINKING block's signature behind this marker (real signatures are base64: no colon).
REDACTED_THINKING_PREFIX = "redacted_thinking:"

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
# The HTTP status each error type of the API stands for (the SDK's ErrorType and the API's errors
# page): what an `event: error` inside a 200 stream is (a type not listed is retried), and which
# rejection a 400 is (a billing_error, say).
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "memory_path_conflict_error": 409,
    "memory_precondition_failed_error": 412,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_VERSION = re.compile(r"-(\d{1,2})(?:-(\d{1,2}))?(?=-|$)")


class AnthropicProvider:
    """One AsyncAnthropic client (its connection pool) shared by every model of the provider."""

    name = NAME

    def __init__(
        self, *, api_key: str, base_url: str = "", read_timeout: float = broken_stream.DEFAULT_READ_TIMEOUT
    ) -> None:
        """`read_timeout`: the longest silence of the server (before the answer starts, or between
        two events)."""
        if not api_key:
            raise FatalLlmError(NAME, MISSING_KEY, kind="missing_key")
        check_key_sendable(NAME, api_key)
        import anthropic

        self._api_key = api_key
        self.base_url = base_url or DEFAULT_BASE_URL
        self.read_timeout = read_timeout
        # Explicit key and base URL: the SDK then reads neither from the environment nor from profiles.
        self._client: sdk.AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=anthropic.Timeout(read_timeout, connect=min(read_timeout, broken_stream.CONNECT_TIMEOUT)),
        )

    async def stream(self, request: LlmRequest, on_event: OnEvent) -> LlmResponse:
        max_tokens, thinking = thinking_config(request.model, request.thinking_budget, request.max_tokens)
        assembly = _Assembly(model=request.model, output_limit=max_tokens)
        try:
            return await self._answer(request, thinking, assembly, on_event)
        except LlmError as exc:
            broken_stream.note_spent(exc, assembly.spent())
            raise

    async def _answer(
        self, request: LlmRequest, thinking: dict[str, Any] | None, assembly: _Assembly, on_event: OnEvent
    ) -> LlmResponse:
        """The answer `assembly` builds from the stream (it keeps the usage reported so far)."""
        import anthropic
        import httpx2

        max_tokens = assembly.output_limit
        system = system_param(request.system, request.context)
        tools = tools_param(request.tools)
        try:
            events = await self._client.messages.create(
                model=request.model,
                max_tokens=max_tokens,
                messages=messages_param(request.messages),
                system=system if system else anthropic.omit,
                tools=tools if tools else anthropic.omit,
                thinking=cast(Any, thinking) if thinking else anthropic.omit,
                stream=True,
            )
            async with events:
                async for event in broken_stream.chunks(events):
                    await assembly.feed(event, on_event)
        except broken_stream.MalformedChunk as exc:
            raise broken_stream.malformed(NAME, exc) from None
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc, request.model) from exc
        except anthropic.APITimeoutError as exc:
            if isinstance(exc.__cause__, httpx2.ReadTimeout):
                raise broken_stream.stalled(NAME, self.read_timeout) from exc
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc}")) from exc
        except anthropic.APIConnectionError as exc:
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc}")) from exc
        except httpx2.ReadTimeout as exc:  # silence in the middle of the stream
            raise broken_stream.stalled(NAME, self.read_timeout) from exc
        except httpx2.TransportError as exc:  # the connection broke in the middle of the stream
            raise RetryableLlmError(NAME, self._scrub(f"stream interrupted: {exc!r}")) from exc
        except anthropic.APIError as exc:
            raise RetryableLlmError(NAME, self._scrub(f"stream failed: {exc.message}")) from exc
        except anthropic.AnthropicError as exc:
            raise FatalLlmError(NAME, self._scrub(str(exc)), kind="client") from exc
        if not assembly.stopped:
            content_type = events.response.headers.get("content-type", "")
            if not assembly.received and content_type and not broken_stream.is_event_stream(content_type):
                raise broken_stream.not_a_stream(NAME, self._scrub(self.base_url), request.model, content_type, "")
            raise broken_stream.ended_early(NAME, "message_stop", assembly.received)
        if assembly.stop_reason == "refusal":
            what = f"{request.model} declined to answer (stop_reason refusal)"
            raise broken_stream.withheld(NAME, what, assembly.spent())
        try:
            response = assembly.response()
        except ToolInputError as exc:
            raise broken_stream.bad_tool_input(NAME, exc, assembly.stop_reason, assembly.spent()) from None
        if cut := broken_stream.cut_before_answering(NAME, request.model, max_tokens, response):
            raise cut
        return response

    async def list_models(self, timeout: float) -> list[ListedModel]:
        """The Models API (GET /v1/models), every page; retired models left out."""
        import anthropic

        found: list[ListedModel] = []
        try:
            async for info in self._client.models.list(limit=1000, timeout=timeout):
                if getattr(info, "lifecycle", None) == "retired" or not isinstance(info.id, str) or not info.id:
                    continue
                found.append(ListedModel(info.id, info.display_name or ""))
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except anthropic.APIError as exc:
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc.message}")) from exc
        return found

    async def close(self) -> None:
        await self._client.close()

    def _status_error(self, exc: sdk.APIStatusError, model: str = "") -> LlmError:
        """`model`: the model a call asked for (named, with the server, by a fatal error)."""
        body_type = exc.type or ""
        message = self._scrub(exc.api_message or plain_body(exc.body) or exc.message)
        status = exc.status_code
        type_status = _ERROR_TYPE_STATUS.get(body_type)
        if status < 400:
            # An `event: error` inside a 200 stream: the error's type says what happened. The server
            # had taken the request, so a type not known is trouble on its side, which may pass (the
            # retry policy bounds how often it is tried).
            if type_status is None:
                named = body_type or "an error without a type"
                return RetryableLlmError(NAME, f"{named} in stream (a type not known, tried again): {message}")
            status = type_status
            message = f"{body_type} in stream: {message}"
        where = self._scrub(f" from {self.base_url} for {model}") if model else ""
        return error_for_status(NAME, status, message, exc.response.headers, where=where, type_status=type_status)

    def _scrub(self, text: str) -> str:
        """`text` without the key, nor the credentials of the base URL (messages name the URL)."""
        return scrub(text, *secrets_of(self._api_key, self.base_url))


def thinking_config(model: str, budget: int, max_tokens: int) -> tuple[int, dict[str, Any] | None]:
    """(max_tokens, thinking param) for a request; thinking is None when the budget is 0.

    Claude 4.6 and later think adaptively (the budget form is deprecated there and rejected from
    Claude 5 on); earlier models take `budget_tokens`, which must be >= 1024 and below max_tokens,
    so max_tokens grows to make room for the answer when the budget would eat it.
    """
    if budget <= 0:
        return max_tokens, None
    if uses_adaptive_thinking(model):
        return max_tokens, {"type": "adaptive"}
    budget = max(budget, MIN_THINKING_BUDGET)
    if budget >= max_tokens:
        max_tokens = budget + max_tokens
    return max_tokens, {"type": "enabled", "budget_tokens": budget}


def uses_adaptive_thinking(model: str) -> bool:
    if "mythos" in model or "fable" in model:
        return True
    match = _VERSION.search(model.removeprefix("claude"))
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return (major, minor) >= (4, 6)


def system_param(system: str, context: str = "") -> list[TextBlockParam]:
    """The stable part (a cache breakpoint), then the per-chat part."""
    out: list[TextBlockParam] = []
    if system:
        out.append({"type": "text", "text": system, "cache_control": {"type": "ephemeral"}})
    if context:
        out.append({"type": "text", "text": context})
    return out


def tools_param(tools: tuple[ToolDefinition, ...]) -> list[ToolParam]:
    out: list[ToolParam] = [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools
    ]
    if out:
        out[-1]["cache_control"] = {"type": "ephemeral"}
    return out


def messages_param(messages: tuple[Message, ...]) -> list[MessageParam]:
    """Our conversation in the Messages API's shape.

    Role.TOOL becomes a user message of tool_result blocks; consecutive messages of one API role are
    merged (tool results first, as the API wants them); the last block is marked for caching.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role is Role.ASSISTANT else "user"
        content = _nest_tool_images(message.blocks)
        if not content:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(content)
        else:
            out.append({"role": role, "content": content})
    for entry in out:
        if entry["role"] == "user":
            entry["content"].sort(key=lambda b: b["type"] != "tool_result")
    if out:
        for block in reversed(out[-1]["content"]):
            if block["type"] not in ("thinking", "redacted_thinking"):
                block["cache_control"] = dict(_EPHEMERAL)
                break
    return cast("list[MessageParam]", out)


def _nest_tool_images(blocks: tuple[ContentBlock, ...]) -> list[dict[str, Any]]:
    """The blocks of one message; an image a tool returned goes inside that call's tool_result."""
    content: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}
    for block in blocks:
        param = _block_param(block)
        if param is None:
            continue
        if block.type is BlockType.TOOL_RESULT:
            results[block.tool_call_id] = param
        elif block.type is BlockType.IMAGE and block.tool_call_id in results:
            result = results[block.tool_call_id]
            if isinstance(result["content"], str):
                result["content"] = [{"type": "text", "text": result["content"]}] if result["content"] else []
            result["content"].append(param)
            continue
        content.append(param)
    return content


def _block_param(block: ContentBlock) -> dict[str, Any] | None:
    if block.type is BlockType.TEXT:
        return {"type": "text", "text": block.text} if block.text else None  # empty text is rejected
    if block.type is BlockType.THINKING:
        if block.signature.startswith(REDACTED_THINKING_PREFIX):
            return {"type": "redacted_thinking", "data": block.signature.removeprefix(REDACTED_THINKING_PREFIX)}
        if not block.signature:
            return None  # unsigned thinking (another provider's, or scripted) cannot be sent back
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    if block.type is BlockType.TOOL_CALL:
        return {"type": "tool_use", "id": block.tool_call_id, "name": block.tool_name, "input": block.tool_input}
    if block.type is BlockType.TOOL_RESULT:
        return {
            "type": "tool_result",
            "tool_use_id": block.tool_call_id,
            "content": block.text,
            "is_error": block.is_error,
        }
    if block.type is BlockType.IMAGE:
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": block.media_type, "data": block.text},
        }
    return None


@dataclass(slots=True)
class _Part:
    index: int  # in our assistant message
    type: BlockType
    chunks: list[str] = field(default_factory=list)
    tool_call_id: str = ""
    tool_name: str = ""
    tool_input: dict[str, Any] | None = None  # a tool_use that arrived complete at its start
    signature: str = ""

    def block(self, *, cut: bool) -> ContentBlock:
        text = "".join(self.chunks)
        if self.type is BlockType.TOOL_CALL:
            return ContentBlock(
                BlockType.TOOL_CALL,
                tool_call_id=self.tool_call_id,
                tool_name=self.tool_name,
                tool_input=tool_input_of(text, self.tool_name, cut=cut) if text else dict(self.tool_input or {}),
            )
        if self.type is BlockType.THINKING:
            return ContentBlock(BlockType.THINKING, text=text, signature=self.signature)
        return ContentBlock(BlockType.TEXT, text=text)


@dataclass(slots=True)
class _Assembly:
    """The assistant message, built from the stream's events as they arrive."""

    model: str
    output_limit: int  # the max_tokens the call was made with
    parts: dict[int, _Part] = field(default_factory=dict)  # by the API's block index
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str = ""
    stopped: bool = False  # message_stop arrived: the answer is complete
    received: int = 0  # events

    async def feed(self, event: RawMessageStreamEvent, on_event: OnEvent) -> None:
        self.received += 1
        if event.type == "message_start":
            self.model = event.message.model or self.model
            self._take_usage(event.message.usage)
        elif event.type == "content_block_start":
            await self._start(event.index, event.content_block, on_event)
        elif event.type == "content_block_delta":
            part = self.parts.get(event.index)
            if part is None:
                return
            delta = event.delta
            if delta.type == "text_delta":
                await self._append(part, delta.text, on_event)
            elif delta.type == "thinking_delta":
                await self._append(part, delta.thinking, on_event)
            elif delta.type == "input_json_delta":
                await self._append(part, delta.partial_json, on_event)
            elif delta.type == "signature_delta":
                part.signature = delta.signature
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self._take_usage(event.usage)
        elif event.type == "message_stop":
            self.stopped = True

    async def _start(self, api_index: int, block: Any, on_event: OnEvent) -> None:
        index = len(self.parts)
        if block.type == "text":
            part = _Part(index, BlockType.TEXT)
            self.parts[api_index] = part
            await on_event(BlockStart(index, BlockType.TEXT))
            await self._append(part, block.text, on_event)
        elif block.type == "thinking":
            part = _Part(index, BlockType.THINKING, signature=block.signature or "")
            self.parts[api_index] = part
            await on_event(BlockStart(index, BlockType.THINKING))
            await self._append(part, block.thinking, on_event)
        elif block.type == "redacted_thinking":
            part = _Part(index, BlockType.THINKING, signature=REDACTED_THINKING_PREFIX + block.data)
            self.parts[api_index] = part
            await on_event(BlockStart(index, BlockType.THINKING))
        elif block.type == "tool_use":
            initial = block.input if isinstance(block.input, dict) else {}
            part = _Part(index, BlockType.TOOL_CALL, tool_call_id=block.id, tool_name=block.name, tool_input=initial)
            self.parts[api_index] = part
            await on_event(BlockStart(index, BlockType.TOOL_CALL, tool_call_id=block.id, tool_name=block.name))
        else:
            logger.debug("ignoring content block of type %s", block.type)

    @staticmethod
    async def _append(part: _Part, text: str, on_event: OnEvent) -> None:
        if text:
            part.chunks.append(text)
            await on_event(BlockDelta(part.index, part.type, text))

    def _take_usage(self, usage: Any) -> None:
        for ours, theirs in (
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_write", "cache_creation_input_tokens"),
        ):
            value = getattr(usage, theirs, None)
            if value is not None:
                self.usage[ours] = int(value)

    def spent(self) -> Usage:
        """The usage the stream has reported so far."""
        return Usage(
            input_tokens=self.usage.get("input", 0),
            output_tokens=self.usage.get("output", 0),
            cache_read_tokens=self.usage.get("cache_read", 0),
            cache_write_tokens=self.usage.get("cache_write", 0),
        )

    def response(self) -> LlmResponse:
        """The answer; raises ToolInputError for tool arguments that are not a JSON object in an answer
        a limit cut (a finished one keeps such a call, marked)."""
        cut = self.stop_reason in broken_stream.CUT
        blocks = tuple(part.block(cut=cut) for part in sorted(self.parts.values(), key=lambda p: p.index))
        usage = self.spent()
        stop = self.stop_reason or ("tool_use" if any(b.type is BlockType.TOOL_CALL for b in blocks) else "end_turn")
        return LlmResponse(
            blocks=blocks, usage=usage, stop_reason=stop, model=self.model, output_limit=self.output_limit
        )
