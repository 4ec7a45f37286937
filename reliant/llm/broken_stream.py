"""What went wrong with a stream that did not deliver a whole answer, said in words.

A provider's answer counts only when its stream says it is finished (OpenAI's `finish_reason`,
Anthropic's `message_stop`). A stream that ends before that, stalls longer than the read timeout or
sends a chunk that is not JSON is a retryable error: nothing of it is stored, and the turn is called
again. A tool call whose arguments are not a JSON object in an answer that ended normally is kept,
marked (tool_input.tool_input_of): the model is told so in that call's result. If the model ran
out of output tokens (or of context window) in the middle of them, which another attempt would
repeat, the chat pauses. So does a 200 that holds no event and is no event stream at all (a web page, a
whole JSON answer), an answer the model declined to give or a content filter stopped, and one the
output limit or the context window cut before any of it was written.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

from reliant.domain.chat import CONTEXT_WINDOW, MAX_TOKENS, BlockType, Usage
from reliant.llm.base import LlmResponse
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from reliant.llm.tool_input import ToolInputError

T = TypeVar("T")

# Stop reasons of an answer cut short by a limit another attempt would meet the same way: the output
# limit, and (Claude 4.5 and later) the end of the model's context window.
CUT = (MAX_TOKENS, CONTEXT_WINDOW)

# How long a stream may stay silent (also before its first byte) before the call is given up.
DEFAULT_READ_TIMEOUT = 90.0
CONNECT_TIMEOUT = 10.0


class MalformedChunk(Exception):
    """A chunk of the stream could not be parsed (raised by `chunks`)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


async def chunks(stream: AsyncIterable[T]) -> AsyncIterator[T]:
    """The stream's chunks; a chunk the SDK cannot parse (not JSON) raises MalformedChunk."""
    iterator = aiter(stream)
    while True:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except ValueError as exc:  # json.JSONDecodeError, or a validation error of the SDK's models
            raise MalformedChunk(str(exc)) from None
        yield chunk


def note_spent(error: LlmError, usage: Usage) -> None:
    """Let `error`, met once the call was made, carry what its stream had reported spent (`usage`):
    the provider bills those tokens whatever became of the answer, a retried one too. An error that
    names its own usage keeps it."""
    if error.usage == Usage():
        error.usage = usage


def malformed(provider: str, exc: MalformedChunk) -> RetryableLlmError:
    return RetryableLlmError(provider, f"the stream sent a malformed chunk (not JSON: {exc.detail})")


def ended_early(provider: str, missing: str, received: int) -> RetryableLlmError:
    return RetryableLlmError(
        provider,
        f"the stream ended before the answer was complete (no {missing} after {received} events); "
        "nothing of it was kept",
    )


def not_a_stream(provider: str, url: str, model: str, content_type: str, hint: str) -> FatalLlmError:
    """A 200 whose body held no event at all and says it is something else than an event stream: a
    web page (the base URL is a web app's, not its API's) or a whole JSON answer (a server that
    ignores `stream`). Another attempt would get the same. (An empty body that names no content
    type is a stream cut short, tried again.)"""
    return FatalLlmError(
        provider,
        f"{url} answered the call of {model} with {content_type}, not a stream of events "
        f"(text/event-stream): check the base URL, which must be the API's{hint}",
        kind="not_a_stream",
    )


def withheld(provider: str, what: str, usage: Usage) -> FatalLlmError:
    """The answer was withheld (the model declined, a content filter stopped it): what came of it
    is not an answer to keep, and trying again as such would most likely meet the same end.
    `usage`: what the stream reported it spent."""
    return FatalLlmError(
        provider,
        f"{what}; nothing of it was kept: rephrase the request, or resume to ask again",
        kind="refusal",
        usage=usage,
    )


def cut_before_answering(provider: str, model: str, limit: int, response: LlmResponse) -> FatalLlmError | None:
    """The error for an answer the output limit cut before it held any text or tool call (a model
    that spent the whole limit thinking), or None. Stored, it would be an empty answer ending the
    turn, with nothing to say why; another attempt would most likely spend the limit the same way."""
    if response.stop_reason not in CUT:
        return None
    if any(b.type is BlockType.TOOL_CALL or (b.type is BlockType.TEXT and b.text.strip()) for b in response.blocks):
        return None
    if response.stop_reason == CONTEXT_WINDOW:
        return FatalLlmError(
            provider,
            f"{model} reached the end of its context window ({CONTEXT_WINDOW}) before it wrote any answer; "
            "nothing of it was kept",
            kind="context_window",
            usage=response.usage,
        )
    thought = any(b.type is BlockType.THINKING for b in response.blocks)
    spent = ", all of it spent thinking (thinking_budget sets how much it may think)" if thought else ""
    return FatalLlmError(
        provider,
        f"{model} reached its output limit (max_tokens {limit}) before it wrote any answer{spent}; "
        "nothing of it was kept",
        kind="max_tokens",
        usage=response.usage,
    )


def is_event_stream(content_type: str) -> bool:
    return content_type.split(";", maxsplit=1)[0].strip().lower() == "text/event-stream"


def stalled(provider: str, seconds: float) -> RetryableLlmError:
    return RetryableLlmError(provider, f"no data for {seconds:g}s (read timeout): the provider stalled")


def bad_tool_input(provider: str, exc: ToolInputError, stop_reason: str, usage: Usage) -> FatalLlmError:
    """The error for an answer a limit cut in the middle of a tool call's arguments (`stop_reason`
    one of CUT); `usage`: what the stream reported it spent."""
    if stop_reason == CONTEXT_WINDOW:
        return FatalLlmError(
            provider,
            f"the answer reached the end of the model's context window ({CONTEXT_WINDOW}) in the arguments of "
            f"the {exc.tool_name} tool call; nothing of it was kept",
            kind="context_window",
            usage=usage,
        )
    return FatalLlmError(
        provider,
        f"the answer reached its output limit (max_tokens) in the arguments of the {exc.tool_name} tool "
        "call; nothing of it was kept",
        kind="max_tokens",
        usage=usage,
    )
