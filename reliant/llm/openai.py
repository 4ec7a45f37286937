"""OpenAIProvider: Chat Completions, streamed through the official SDK.

Chat Completions is the dialect every OpenAI-compatible server speaks, so the same provider reaches
OpenAI itself and, through `base_url`, Ollama, vLLM, LM Studio or OpenRouter. Local servers usually
need no key; a placeholder is sent then.

Usage is reported the way reliant counts it everywhere: `input_tokens` are the prompt tokens that
were *not* read from (or written to) the cache, so cost = input + cache reads + cache writes + output,
each at its own price.

The SDK is imported when a provider is built, not when this module is.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition, Usage
from reliant.llm import broken_stream
from reliant.llm.base import BlockDelta, BlockStart, ListedModel, LlmRequest, LlmResponse, OnEvent
from reliant.llm.classify import error_for_status, plain_body, scrub, secrets_of
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError, check_key_sendable
from reliant.llm.tool_input import ToolInputError, parse_tool_input, tool_input_of

if TYPE_CHECKING:
    import openai as sdk
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionToolParam

logger = logging.getLogger(__name__)

NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
MISSING_KEY = (
    "no API key configured: set RELIANT_OPENAI_API_KEY (or OPENAI_API_KEY), or "
    "RELIANT_OPENAI_BASE_URL for a local OpenAI-compatible server"
)
PLACEHOLDER_KEY = "no-key"  # for servers at a custom base_url that want none
_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
# Reasoning text, where an OpenAI-compatible server streams it (vLLM, DeepSeek, Ollama, OpenRouter).
_REASONING_FIELDS = ("reasoning_content", "reasoning")
# OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...), also behind OpenRouter's "openai/" prefix.
_REASONING_MODEL = re.compile(r"^(?:openai/)?(?:o\d|gpt-5)")


def reasoning_effort(model: str, budget: int) -> Literal["low", "medium", "high"] | None:
    """The `reasoning_effort` a thinking budget asks of a reasoning model (None: send none). The
    API takes a level, not a token count: under 4k tokens is low, under 16k medium, more is high."""
    if budget <= 0 or not _REASONING_MODEL.match(model):
        return None
    if budget < 4096:
        return "low"
    return "medium" if budget < 16384 else "high"


class OpenAIProvider:
    """One AsyncOpenAI client (its connection pool) shared by every model of the provider."""

    name = NAME

    def __init__(
        self,
        *,
        api_key: str = "",
        base_url: str = "",
        read_timeout: float = broken_stream.DEFAULT_READ_TIMEOUT,
        compatible: bool | None = None,
    ) -> None:
        """`compatible`: the server is an OpenAI-compatible one rather than OpenAI's own (default:
        any base_url but OpenAI's); it decides how the output limit is sent. `read_timeout`: the
        longest silence of the server (before the answer starts, or between two chunks)."""
        if not api_key and not base_url:
            raise FatalLlmError(NAME, MISSING_KEY, kind="missing_key")
        check_key_sendable(NAME, api_key)
        import openai

        from reliant.llm import sse_done

        self._api_key = api_key
        self.base_url = base_url or DEFAULT_BASE_URL
        self.read_timeout = read_timeout
        # OpenAI itself wants `max_completion_tokens` (its reasoning models reject `max_tokens`);
        # compatible servers reliably understand only `max_tokens`.
        if compatible is None:
            compatible = bool(base_url) and urlsplit(base_url).hostname != "api.openai.com"
        self._official = not compatible
        self._client: sdk.AsyncOpenAI = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=self.base_url,
            max_retries=0,
            timeout=openai.Timeout(read_timeout, connect=min(read_timeout, broken_stream.CONNECT_TIMEOUT)),
            # The SDK's own defaults, and a hook that notes whether a stream ended with [DONE].
            http_client=openai.DefaultAsyncHttpxClient(event_hooks={"response": [sse_done.watch]}),
        )

    async def stream(self, request: LlmRequest, on_event: OnEvent) -> LlmResponse:
        assembly = _Assembly(model=request.model, output_limit=request.max_tokens)
        try:
            return await self._answer(request, assembly, on_event)
        except LlmError as exc:
            broken_stream.note_spent(exc, assembly.usage)
            raise

    async def _answer(self, request: LlmRequest, assembly: _Assembly, on_event: OnEvent) -> LlmResponse:
        """The answer `assembly` builds from the stream (it keeps the usage reported so far)."""
        import httpx2
        import openai

        from reliant.llm import sse_done

        tools = tools_param(request.tools)
        effort = reasoning_effort(request.model, request.thinking_budget)
        try:
            chunks = await self._client.chat.completions.create(
                model=request.model,
                messages=messages_param(request.full_system(), request.messages),
                tools=tools if tools else openai.omit,
                max_completion_tokens=request.max_tokens if self._official else openai.omit,
                max_tokens=openai.omit if self._official else request.max_tokens,
                reasoning_effort=effort if effort else openai.omit,
                # Reasoning models take only the default temperature.
                temperature=request.temperature if request.temperature is not None and not effort else openai.omit,
                stream=True,
                stream_options={"include_usage": True},
            )
            async with chunks:
                async for chunk in broken_stream.chunks(chunks):
                    await assembly.feed(chunk, on_event)
        except broken_stream.MalformedChunk as exc:
            raise broken_stream.malformed(NAME, exc) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc, request.model) from exc
        except openai.APITimeoutError as exc:
            if isinstance(exc.__cause__, httpx2.ReadTimeout):
                raise broken_stream.stalled(NAME, self.read_timeout) from exc
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc.message}")) from exc
        except openai.APIConnectionError as exc:  # includes timeouts and streams cut short
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc.message}")) from exc
        except openai.APIError as exc:  # an error object inside the stream
            raise self._stream_error(exc) from exc
        except openai.OpenAIError as exc:
            raise FatalLlmError(NAME, self._scrub(str(exc)), kind="client") from exc
        # Some OpenAI-compatible servers never send a finish_reason: their [DONE] ends the answer, if
        # it is whole (no tool call's arguments left unparsable).
        done = bool(assembly.received) and sse_done.seen(chunks.response) and assembly.arguments_whole()
        if not assembly.finish_reason and not done:
            content_type = chunks.response.headers.get("content-type", "")
            if not assembly.received and content_type and not broken_stream.is_event_stream(content_type):
                hint = " (an OpenAI-compatible server's usually ends in /v1)"
                raise broken_stream.not_a_stream(NAME, self._scrub(self.base_url), request.model, content_type, hint)
            raise broken_stream.ended_early(NAME, "finish_reason", assembly.received)
        if assembly.finish_reason == "error":  # OpenRouter: the answer failed upstream, part way
            raise RetryableLlmError(
                NAME,
                "the stream ended with finish_reason error before the answer was complete; nothing of it was kept",
            )
        if assembly.finish_reason == "content_filter":
            what = f"the provider's content filter stopped the answer of {request.model} (finish_reason content_filter)"
            raise broken_stream.withheld(NAME, what, assembly.usage)
        try:
            response = assembly.response()
        except ToolInputError as exc:
            raise broken_stream.bad_tool_input(NAME, exc, assembly.stop_reason(), assembly.usage) from None
        if cut := broken_stream.cut_before_answering(NAME, request.model, request.max_tokens, response):
            raise cut
        return response

    async def list_models(self, timeout: float) -> list[ListedModel]:
        """GET /models: OpenAI's, or an OpenAI-compatible server's (Ollama, vLLM, LM Studio, OpenRouter)."""
        import openai

        found: list[ListedModel] = []
        try:
            async for model in self._client.models.list(timeout=timeout):
                if isinstance(model.id, str) and model.id:  # some servers list entries by name only
                    found.append(ListedModel(model.id))
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except openai.APIError as exc:
            raise RetryableLlmError(NAME, self._scrub(f"{self.base_url}: {exc.message}")) from exc
        return found

    async def close(self) -> None:
        await self._client.close()

    def _status_error(self, exc: sdk.APIStatusError, model: str = "") -> LlmError:
        """`model`: the model a call asked for (named, with the server, by a fatal error)."""
        where = self._scrub(f" from {self.base_url} for {model}") if model else ""
        message = self._scrub(_message_of(exc))
        return error_for_status(NAME, exc.status_code, message, exc.response.headers, where=where, code=exc.code or "")

    def _stream_error(self, exc: sdk.APIError) -> LlmError:
        """An error object inside a 200 stream, classified by the status its `code` (OpenRouter, vLLM)
        or its `type` gives, if any; retryable otherwise."""
        message = _message_of(exc)
        status = _stream_error_status(exc.body)
        if status is None:
            return RetryableLlmError(NAME, self._scrub(f"stream failed: {message}"))
        return error_for_status(NAME, status, self._scrub(f"error in stream: {message}"), code=_error_code(exc.body))

    def _scrub(self, text: str) -> str:
        """`text` without the key, nor the credentials of the base URL (messages name the URL)."""
        return scrub(text, *secrets_of(self._api_key, self.base_url))


# The status an error object's `type` (or a `code` in words) stands for, where its `code` gives none.
_STREAM_ERROR_TYPES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,  # Anthropic's word, from a gateway that relays it
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "insufficient_quota": 429,  # OpenAI's account out of credits: its HTTP status, read with the code as billing
}


def _stream_error_status(body: object) -> int | None:
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    said = (body.get("type"), code)
    return next((_STREAM_ERROR_TYPES[w] for w in said if isinstance(w, str) and w in _STREAM_ERROR_TYPES), None)


def _error_code(body: object) -> str:
    """An error object's code in words (OpenAI's `insufficient_quota`, `context_length_exceeded`),
    else its type: what says more than a status does ("" if neither)."""
    if not isinstance(body, dict):
        return ""
    said = [w for w in (body.get("code"), body.get("type")) if isinstance(w, str) and not w.isdigit()]
    return said[0] if said else ""


def _message_of(exc: sdk.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return plain_body(body) or exc.message


def tools_param(tools: tuple[ToolDefinition, ...]) -> list[ChatCompletionToolParam]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
        }
        for t in tools
    ]


def messages_param(system: str, messages: tuple[Message, ...]) -> list[ChatCompletionMessageParam]:
    """Our conversation as Chat Completions messages: one `tool` message per tool result.

    Thinking is not sent back: Chat Completions has no way to carry it. A `tool` message holds text
    only, so images the tools returned follow their results as one user message of image parts,
    each introduced by the call it came from.
    """
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for message in messages:
        if message.role is Role.ASSISTANT:
            out.append(_assistant(message))
            continue
        for block in message.blocks:
            if block.type is BlockType.TOOL_RESULT:
                content = f"Error: {block.text}" if block.is_error else block.text
                out.append({"role": "tool", "tool_call_id": block.tool_call_id, "content": content})
        parts = _user_parts(message)
        if parts:
            out.append({"role": "user", "content": parts})
    return cast("list[ChatCompletionMessageParam]", out)


def _assistant(message: Message) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": "assistant", "content": message.text() or None}
    calls = [
        {
            "id": block.tool_call_id,
            "type": "function",
            "function": {"name": block.tool_name, "arguments": json.dumps(block.tool_input)},
        }
        for block in message.tool_calls()
    ]
    if calls:
        entry["tool_calls"] = calls
    return entry


def _user_parts(message: Message) -> str | list[dict[str, Any]]:
    """A user message's text and images in their order (text alone as a plain string)."""
    blocks = [b for b in message.blocks if (b.type is BlockType.TEXT and b.text) or b.type is BlockType.IMAGE]
    if not any(b.type is BlockType.IMAGE for b in blocks):
        return "".join(b.text for b in blocks)
    names = {b.tool_call_id: b.tool_name for b in message.blocks if b.type is BlockType.TOOL_RESULT}
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if block.type is BlockType.TEXT:
            parts.append({"type": "text", "text": block.text})
            continue
        if block.tool_call_id:
            name = names.get(block.tool_call_id) or block.tool_name or "a tool"
            parts.append({"type": "text", "text": f"An image returned by {name} (call {block.tool_call_id}):"})
        parts.append({"type": "image_url", "image_url": {"url": f"data:{block.media_type};base64,{block.text}"}})
    return parts


@dataclass(slots=True)
class _Part:
    index: int  # in our assistant message
    type: BlockType
    chunks: list[str] = field(default_factory=list)
    tool_call_id: str = ""
    tool_name: str = ""
    wire_id: str = ""  # the id the server gave the call ("": none)

    def block(self, *, cut: bool) -> ContentBlock:
        text = "".join(self.chunks)
        if self.type is BlockType.TOOL_CALL:
            return ContentBlock(
                BlockType.TOOL_CALL,
                tool_call_id=self.tool_call_id,
                tool_name=self.tool_name,
                tool_input=tool_input_of(text, self.tool_name, cut=cut),
            )
        return ContentBlock(self.type, text=text)


@dataclass(slots=True)
class _Assembly:
    """The assistant message, built from the stream's chunks as they arrive."""

    model: str
    output_limit: int  # the max_tokens the call was made with
    parts: list[_Part] = field(default_factory=list)
    text: _Part | None = None
    thinking: _Part | None = None
    # The call under way at each of the stream's tool call indexes (None: a server that sends none).
    tool_calls: dict[int | None, _Part] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""
    received: int = 0  # chunks

    async def feed(self, chunk: ChatCompletionChunk, on_event: OnEvent) -> None:
        self.received += 1
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self._take_usage(chunk.usage)
        for choice in chunk.choices or ():
            if choice.index not in (0, None):
                continue
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:  # Azure's content filter results, or a finish chunk without one
                continue
            extra = delta.model_extra or {}
            for name in _REASONING_FIELDS:
                reasoning = extra.get(name)
                if isinstance(reasoning, str) and reasoning:
                    if self.thinking is None:
                        self.thinking = await self._open(BlockType.THINKING, on_event)
                    await self._append(self.thinking, reasoning, on_event)
                    break
            if delta.content:
                if self.text is None:
                    self.text = await self._open(BlockType.TEXT, on_event)
                await self._append(self.text, delta.content, on_event)
            for call in delta.tool_calls or ():
                part = self.tool_calls.get(call.index)
                function = call.function
                # A new id where a call is under way is the next call: Ollama numbers every call of
                # an answer 0, and some servers send no index at all.
                if part is None or (call.id and part.wire_id and call.id != part.wire_id):
                    part = await self._open(
                        BlockType.TOOL_CALL,
                        on_event,
                        tool_call_id=self._unused_id(call.id),
                        tool_name=(function.name if function else None) or "",
                    )
                    part.wire_id = call.id or ""
                    self.tool_calls[call.index] = part
                elif function is not None and function.name and not part.tool_name:
                    part.tool_name = function.name
                arguments: object = function.arguments if function is not None else None
                if arguments is not None and not isinstance(arguments, str):
                    arguments = json.dumps(arguments)  # some compatible servers send the object itself
                if isinstance(arguments, str) and arguments:
                    await self._append(part, arguments, on_event)

    def _unused_id(self, wire_id: str | None) -> str:
        """The id a call goes by: the server's, unless it gave none or gave it to an earlier call of
        the answer (calls are run, and their results matched, by id)."""
        if wire_id and all(part.tool_call_id != wire_id for part in self.parts):
            return wire_id
        return f"call_{uuid.uuid4().hex[:24]}"

    async def _open(self, kind: BlockType, on_event: OnEvent, *, tool_call_id: str = "", tool_name: str = "") -> _Part:
        part = _Part(len(self.parts), kind, tool_call_id=tool_call_id, tool_name=tool_name)
        self.parts.append(part)
        await on_event(BlockStart(part.index, kind, tool_call_id=tool_call_id, tool_name=tool_name))
        return part

    @staticmethod
    async def _append(part: _Part, text: str, on_event: OnEvent) -> None:
        part.chunks.append(text)
        await on_event(BlockDelta(part.index, part.type, text))

    def _take_usage(self, usage: Any) -> None:
        """The chunk's usage; a field a server leaves out (or sends as null) counts 0."""
        details = getattr(usage, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
        written = (getattr(details, "cache_write_tokens", None) or 0) if details is not None else 0
        self.usage = Usage(
            input_tokens=max((getattr(usage, "prompt_tokens", None) or 0) - cached - written, 0),
            output_tokens=getattr(usage, "completion_tokens", None) or 0,
            cache_read_tokens=cached,
            cache_write_tokens=written,
        )

    def arguments_whole(self) -> bool:
        """Whether every tool call's arguments so far are a JSON object (none left open)."""
        try:
            for part in self.parts:
                if part.type is BlockType.TOOL_CALL:
                    parse_tool_input("".join(part.chunks), part.tool_name)
        except ToolInputError:
            return False
        return True

    def stop_reason(self) -> str:
        stop = _STOP_REASONS.get(self.finish_reason, self.finish_reason) or "end_turn"
        if self.tool_calls and stop == "end_turn":
            stop = "tool_use"  # some compatible servers finish tool calls with "stop"
        return stop

    def response(self) -> LlmResponse:
        """The answer; raises ToolInputError for tool arguments that are not a JSON object in an answer
        a limit cut (a finished one keeps such a call, marked)."""
        stop = self.stop_reason()
        blocks = tuple(part.block(cut=stop in broken_stream.CUT) for part in self.parts)
        return LlmResponse(
            blocks=blocks, usage=self.usage, stop_reason=stop, model=self.model, output_limit=self.output_limit
        )
