"""AnthropicProvider through the real AsyncAnthropic client against the fake Messages API server."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator

import pytest

from embedded.ports import free_port
from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition, Usage
from reliant.domain.tools import INVALID_ARGUMENTS, invalid_arguments_error
from reliant.llm.anthropic import REDACTED_THINKING_PREFIX, AnthropicProvider, uses_adaptive_thinking
from reliant.llm.base import BlockDelta, BlockStart, LlmRequest
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from tests.llm.conftest import Events
from tests.llm.fakes import (
    Block,
    FakeLlmServer,
    PageResponse,
    RedactedThinking,
    StreamResponse,
    Text,
    Thinking,
    ToolCall,
    anthropic_error,
    anthropic_stream,
    anthropic_stream_error,
    ended_early,
    malformed,
    stalled,
)

KEY = "sk-ant-test-SECRET-0123456789"
EPHEMERAL = {"type": "ephemeral"}
VIEW = ToolDefinition(
    "view", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
)
SHELL = ToolDefinition("shell", "Run a command.", {"type": "object", "properties": {"command": {"type": "string"}}})


def user(text: str) -> Message:
    return Message(Role.USER, (ContentBlock.of_text(text),))


def request(*messages: Message, model: str = "claude-test", **kw: object) -> LlmRequest:
    return LlmRequest(
        model=model,
        system="You are a careful engineer.",
        messages=messages or (user("hi"),),
        tools=(VIEW, SHELL),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def provider(fake_llm: FakeLlmServer) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider(api_key=KEY, base_url=fake_llm.url)
    yield p
    await p.close()


async def test_streams_text_and_marks_the_stable_prefix_for_caching(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("Hel", "lo ", "world")], model="claude-test-2025"))

    response = await provider.stream(request(max_tokens=1000), events)

    assert response.blocks == (ContentBlock(BlockType.TEXT, text="Hello world"),)
    assert response.stop_reason == "end_turn"
    assert response.model == "claude-test-2025"
    assert events.events == [
        BlockStart(0, BlockType.TEXT),
        BlockDelta(0, BlockType.TEXT, "Hel"),
        BlockDelta(0, BlockType.TEXT, "lo "),
        BlockDelta(0, BlockType.TEXT, "world"),
    ]
    [sent] = fake_llm.requests
    assert sent.path == "/v1/messages"
    assert KEY in (sent.headers.get("x-api-key", ""), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert "anthropic-version" in sent.headers
    body = sent.body
    assert body["stream"] is True
    assert body["model"] == "claude-test"
    assert body["max_tokens"] == 1000
    assert "thinking" not in body
    assert body["system"] == [{"type": "text", "text": "You are a careful engineer.", "cache_control": EPHEMERAL}]
    assert [t["name"] for t in body["tools"]] == ["view", "shell"]
    assert body["tools"][0]["input_schema"] == VIEW.input_schema
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][-1]["cache_control"] == EPHEMERAL
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}
    ]


async def test_tool_calls_stream_partial_json_and_arrive_parsed(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(
        anthropic_stream(
            [
                Text("Looking."),
                ToolCall("toolu_1", "view", '{"pa', 'th": "a.py"}'),
                ToolCall("toolu_2", "shell", '{"command": "ls"}'),
            ]
        )
    )

    response = await provider.stream(request(), events)

    assert response.stop_reason == "tool_use"
    assert response.blocks[1:] == (
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="toolu_1", tool_name="view", tool_input={"path": "a.py"}),
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="toolu_2", tool_name="shell", tool_input={"command": "ls"}),
    )
    assert events.starts() == [
        BlockStart(0, BlockType.TEXT),
        BlockStart(1, BlockType.TOOL_CALL, tool_call_id="toolu_1", tool_name="view"),
        BlockStart(2, BlockType.TOOL_CALL, tool_call_id="toolu_2", tool_name="shell"),
    ]
    assert events.deltas(BlockType.TOOL_CALL) == ['{"pa', 'th": "a.py"}', '{"command": "ls"}']


async def test_tool_arguments_cut_by_max_tokens_pause_with_the_reason_never_passed_on(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([ToolCall("toolu_1", "view", '{"path": "a.p')], stop_reason="max_tokens"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "max_tokens"
    assert "reached its output limit (max_tokens) in the arguments of the view tool call" in str(caught.value)


@pytest.mark.parametrize(
    ("blocks", "where"),
    [
        ([Text("Writing it."), ToolCall("toolu_1", "write", '{"path": "a.py", "content": "imp')], "in the arguments"),
        ([Thinking("So the plan")], "before it wrote any answer"),
    ],
    ids=["mid-tool-call", "before-any-answer"],
)
async def test_an_answer_cut_by_a_full_context_window_pauses_saying_so(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, blocks: list[Block], where: str
) -> None:
    """Claude 4.5 and later stop at the end of their context window with model_context_window_exceeded:
    another attempt fills the same window (retried, it failed eight times as 'not a JSON object';
    stored, it was an empty answer ending the turn)."""
    fake_llm.enqueue(anthropic_stream(blocks, stop_reason="model_context_window_exceeded"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "context_window"
    message = str(caught.value)
    assert message.startswith("anthropic: ") and "context window (model_context_window_exceeded)" in message
    assert where in message and message.endswith("nothing of it was kept")


@pytest.mark.parametrize("arguments", ['{"path": "a.p', "not json", '["a.py"]'], ids=["cut", "words", "a-list"])
async def test_tool_arguments_that_are_not_an_object_in_a_finished_answer_are_kept_marked_for_the_model(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, arguments: str
) -> None:
    """The answer ended normally (stop_reason tool_use), so another attempt would most likely get
    the same from the model: the answer is kept, the call marked (it never runs; its result tells
    the model what it sent). Retried, such a chat failed ~8 times over two minutes, then paused."""
    fake_llm.enqueue(anthropic_stream([Text("Looking."), ToolCall("toolu_1", "view", arguments)]))

    response = await provider.stream(request(), events)

    assert response.stop_reason == "tool_use"
    [_, call] = response.blocks
    assert call == ContentBlock(
        BlockType.TOOL_CALL, tool_call_id="toolu_1", tool_name="view", tool_input={INVALID_ARGUMENTS: arguments}
    )
    assert invalid_arguments_error("view", call.tool_input).startswith("the arguments of view were not a JSON object")


async def test_thinking_streams_and_keeps_its_signature(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(
        anthropic_stream(
            [Thinking("Let me ", "think.", signature="c2lnbmF0dXJl"), RedactedThinking("b3BhcXVl"), Text("Done.")]
        )
    )

    response = await provider.stream(request(thinking_budget=2000, max_tokens=1000), events)

    assert response.blocks == (
        ContentBlock(BlockType.THINKING, text="Let me think.", signature="c2lnbmF0dXJl"),
        ContentBlock(BlockType.THINKING, signature=REDACTED_THINKING_PREFIX + "b3BhcXVl"),
        ContentBlock(BlockType.TEXT, text="Done."),
    )
    assert events.deltas(BlockType.THINKING) == ["Let me ", "think."]
    body = fake_llm.requests[0].body
    # A budget below max_tokens is required: max_tokens grows to leave room for the answer.
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 3000


async def test_claude_4_6_and_later_think_adaptively(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("ok")]), anthropic_stream([Text("ok")]))

    await provider.stream(request(model="claude-sonnet-4-6", thinking_budget=4000), events)
    # An id of the 4.5 generation that the SDK's deprecation table will never list (the SDK warns on
    # retired ids, and this test is about the request body, not about which ids are retired).
    await provider.stream(request(model="claude-test-4-5", thinking_budget=4000), events)

    assert fake_llm.requests[0].body["thinking"] == {"type": "adaptive"}
    assert fake_llm.requests[1].body["thinking"] == {"type": "enabled", "budget_tokens": 4000}


async def test_history_maps_to_the_messages_api_and_thinking_round_trips(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("ok")]))
    assistant = Message(
        Role.ASSISTANT,
        (
            ContentBlock(BlockType.THINKING, text="Plan.", signature="c2ln"),
            ContentBlock(BlockType.THINKING, signature=REDACTED_THINKING_PREFIX + "b3BhcXVl"),
            ContentBlock(BlockType.THINKING, text="unsigned, from another provider"),
            ContentBlock(BlockType.TEXT, text="Reading."),
            ContentBlock(BlockType.TOOL_CALL, tool_call_id="toolu_1", tool_name="view", tool_input={"path": "a"}),
            ContentBlock(BlockType.TOOL_CALL, tool_call_id="toolu_2", tool_name="shell", tool_input={"command": "x"}),
        ),
    )
    results = Message(
        Role.TOOL,
        (
            ContentBlock(BlockType.TOOL_RESULT, tool_call_id="toolu_1", tool_name="view", text="contents"),
            ContentBlock(BlockType.TOOL_RESULT, tool_call_id="toolu_2", tool_name="shell", text="boom", is_error=True),
        ),
    )

    await provider.stream(request(user("fix it"), assistant, results, user("and hurry")), events)

    assert fake_llm.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "fix it"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Plan.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "b3BhcXVl"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "view", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "shell", "input": {"command": "x"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents", "is_error": False},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
                {"type": "text", "text": "and hurry", "cache_control": EPHEMERAL},
            ],
        },
    ]


async def test_usage_includes_cache_reads_and_writes(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("ok")], input_tokens=5, output_tokens=30, cache_read=1200, cache_write=340))

    response = await provider.stream(request(), events)

    assert response.usage == Usage(input_tokens=5, output_tokens=30, cache_read_tokens=1200, cache_write_tokens=340)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({}, None),
    ],
)
async def test_429_is_retryable_with_the_servers_wait(
    fake_llm: FakeLlmServer,
    provider: AnthropicProvider,
    events: Events,
    headers: dict[str, str],
    expected: float | None,
) -> None:
    fake_llm.enqueue(anthropic_error(429, "slow down", error_type="rate_limit_error", headers=headers))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 429
    assert caught.value.retry_after == expected
    assert "slow down" in str(caught.value)
    assert len(fake_llm.requests) == 1  # the SDK did not retry by itself


async def test_retry_after_as_an_http_date(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake_llm.enqueue(anthropic_error(429, headers={"retry-after": when}))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 31


@pytest.mark.parametrize("status", [500, 503, 529])
async def test_server_errors_are_retryable(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, status: int
) -> None:
    fake_llm.enqueue(anthropic_error(status, "overloaded", error_type="overloaded_error"))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == status
    assert len(fake_llm.requests) == 1
    assert caught.value.usage == Usage(), "refused before any stream: nothing spent"


@pytest.mark.parametrize(
    "response",
    [
        ended_early(anthropic_stream([Text("one ", "two ", "three ")]), keep=4),
        anthropic_stream_error("overloaded_error", "Overloaded", after=[Text("partial")]),
        anthropic_stream([Text("a", "b", "c", "d")], abort_after=5),
    ],
    ids=["ended-early", "overloaded-mid-answer", "connection-dropped"],
)
async def test_a_retryable_failure_part_way_through_the_stream_carries_what_it_reported_spent(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, response: StreamResponse
) -> None:
    """message_start reported the input (and the first output token): billed, although the answer is lost."""
    fake_llm.enqueue(response)

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.usage == Usage(input_tokens=12, output_tokens=1)


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (401, "authentication_error", "auth"),
        (403, "permission_error", "permission"),
        (400, "invalid_request_error", "invalid_request"),
        (404, "not_found_error", "not_found"),
        (422, "invalid_request_error", "invalid_request"),
    ],
)
async def test_client_errors_are_fatal(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, status: int, error_type: str, kind: str
) -> None:
    fake_llm.enqueue(anthropic_error(status, f"rejected key {KEY}", error_type=error_type))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == kind
    assert caught.value.status == status
    assert KEY not in str(caught.value)
    assert "rejected key" in str(caught.value)


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("billing_error", "billing"),
        ("authentication_error", "auth"),
        ("permission_error", "permission"),
        ("not_found_error", "not_found"),
        ("invalid_request_error", "invalid_request"),
        ("an_error_type_of_the_future", "invalid_request"),
        ("rate_limit_error", ""),
    ],
)
async def test_a_400_is_classified_by_its_bodys_error_type(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, error_type: str, kind: str
) -> None:
    """A 400 is any rejection; the body's type says which (a type not known: an invalid request).
    `kind` "": retried."""
    fake_llm.enqueue(anthropic_error(400, "it was refused", error_type=error_type))

    with pytest.raises(LlmError) as caught:
        await provider.stream(request(), events)

    assert isinstance(caught.value, RetryableLlmError if not kind else FatalLlmError)
    assert (getattr(caught.value, "kind", ""), caught.value.status) == (kind, 400)
    assert len(fake_llm.requests) == 1


async def test_a_400_billing_error_pauses_naming_billing_and_credits(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    """How Anthropic answers an account whose credit balance is too low."""
    message = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing."
    fake_llm.enqueue(anthropic_error(400, message, error_type="billing_error"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert str(caught.value) == (
        f"anthropic: HTTP 400 from {fake_llm.url} for claude-test: {message}"
        " (billing: the account's credits or plan do not cover the call; add credits, then resume)"
    )


@pytest.mark.parametrize(
    "message",
    [
        "prompt is too long: 212345 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 197000 + 21333 > 200000, decrease input length"
        " or `max_tokens` and try again",
    ],
)
async def test_a_prompt_too_long_for_the_context_window_is_its_own_kind(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, message: str
) -> None:
    """A shorter thread may pass where this one cannot: the chat compacts it (not a plain invalid request)."""
    fake_llm.enqueue(anthropic_error(400, message, error_type="invalid_request_error"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert (caught.value.kind, caught.value.status) == ("context_too_long", 400)
    assert message in str(caught.value)


async def test_an_unknown_model_pauses_naming_the_model_and_the_server(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_error(404, "model: claude-nope", error_type="not_found_error"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(model="claude-nope"), events)

    assert str(caught.value) == f"anthropic: HTTP 404 from {fake_llm.url} for claude-nope: model: claude-nope"


async def test_a_proxys_413_page_pauses_with_the_pages_title(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    page = "<html>\n<head><title>413 Request Entity Too Large</title></head>\n<body>nginx</body></html>"
    fake_llm.enqueue(PageResponse(page, status=413))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "request_too_large"
    assert str(caught.value) == f"anthropic: HTTP 413 from {fake_llm.url} for claude-test: 413 Request Entity Too Large"


async def test_an_error_event_inside_the_stream_is_classified(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream_error("overloaded_error", "Overloaded", after=[Text("partial")]))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 529
    assert events.deltas() == ["partial"]  # what streamed before the error was delivered


@pytest.mark.parametrize(
    ("error_type", "status", "kind"),
    [
        ("invalid_request_error", 400, "invalid_request"),
        ("authentication_error", 401, "auth"),
        ("billing_error", 402, "billing"),
        ("permission_error", 403, "permission"),
        ("not_found_error", 404, "not_found"),
        ("conflict_error", 409, ""),
        ("memory_path_conflict_error", 409, ""),
        ("memory_precondition_failed_error", 412, "client_error"),
        ("request_too_large", 413, "request_too_large"),
        ("rate_limit_error", 429, ""),
        ("api_error", 500, ""),
        ("timeout_error", 504, ""),
        ("overloaded_error", 529, ""),
    ],
)
async def test_every_error_type_of_the_api_inside_the_stream_is_classified_by_its_status(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, error_type: str, status: int, kind: str
) -> None:
    """`kind` "": retried (the status is one that can pass); otherwise the chat pauses with that kind."""
    fake_llm.enqueue(anthropic_stream_error(error_type, "it went wrong", after=[Text("partial")]))

    with pytest.raises(LlmError) as caught:
        await provider.stream(request(), events)

    assert isinstance(caught.value, RetryableLlmError if not kind else FatalLlmError)
    assert (caught.value.status, getattr(caught.value, "kind", "")) == (status, kind)
    assert f"{error_type} in stream: it went wrong" in str(caught.value)


@pytest.mark.parametrize("error_type", ["an_error_type_of_the_future", ""])
async def test_an_unknown_error_type_inside_the_stream_is_retryable_and_named(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, error_type: str
) -> None:
    """The server had answered 200: the request was taken, so what went wrong later is the server's."""
    fake_llm.enqueue(anthropic_stream_error(error_type, "it went wrong", after=[Text("partial")]))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status is None, "no status stands for it"
    named = error_type or "an error without a type"
    assert str(caught.value) == f"anthropic: {named} in stream (a type not known, tried again): it went wrong"


async def test_a_billing_error_inside_the_stream_pauses_naming_billing_and_credits(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream_error("billing_error", "Payment required."))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert str(caught.value) == (
        f"anthropic: HTTP 402 from {fake_llm.url} for claude-test: billing_error in stream: Payment required."
        " (billing: the account's credits or plan do not cover the call; add credits, then resume)"
    )


async def test_an_answer_cut_by_the_output_limit_before_any_text_pauses_saying_so(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Thinking("Considering ", "everything")], stop_reason="max_tokens"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(max_tokens=4000), events)

    assert caught.value.kind == "max_tokens"
    assert str(caught.value).startswith(
        "anthropic: claude-test reached its output limit (max_tokens 4000) before it wrote any answer, all of it"
        " spent thinking"
    )


async def test_an_answer_the_model_declined_is_not_kept_and_says_why(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("I can")], stop_reason="refusal"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "refusal"
    assert str(caught.value) == (
        "anthropic: claude-test declined to answer (stop_reason refusal); nothing of it was kept:"
        " rephrase the request, or resume to ask again"
    )


async def test_a_200_web_page_instead_of_a_stream_fails_at_once_naming_what_came(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(PageResponse("<html><body>Sign in to the proxy</body></html>", content_type="text/html"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "not_a_stream"
    assert str(caught.value) == (
        f"anthropic: {fake_llm.url} answered the call of claude-test with text/html, not a stream of events"
        " (text/event-stream): check the base URL, which must be the API's"
    )


async def test_a_connection_dropped_mid_stream_is_retryable(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("a", "b", "c", "d")], abort_after=5))

    with pytest.raises(RetryableLlmError):
        await provider.stream(request(), events)


async def test_an_unreachable_server_is_retryable(events: Events) -> None:
    provider = AnthropicProvider(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RetryableLlmError) as caught:
            await provider.stream(request(), events)
    finally:
        await provider.close()
    assert caught.value.status is None
    assert KEY not in str(caught.value)


def test_a_missing_key_is_fatal_and_names_the_settings() -> None:
    with pytest.raises(FatalLlmError) as caught:
        AnthropicProvider(api_key="")

    assert caught.value.kind == "missing_key"
    assert "RELIANT_ANTHROPIC_API_KEY" in str(caught.value)
    assert "ANTHROPIC_API_KEY" in str(caught.value)


def test_a_key_no_http_header_can_carry_is_fatal_not_retried() -> None:
    with pytest.raises(FatalLlmError) as caught:
        AnthropicProvider(api_key="sk-ant-ключ")
    assert caught.value.kind == "bad_key"


@pytest.mark.parametrize(
    ("model", "adaptive"),
    [
        ("claude-sonnet-4-6", True),
        ("claude-opus-4-7", True),
        ("claude-sonnet-5", True),
        ("claude-mythos-preview", True),
        ("claude-opus-4-5", False),
        ("claude-haiku-4-5-20251001", False),
        ("claude-opus-4-20250514", False),
        ("claude-3-7-sonnet-20250219", False),
        ("claude-test", False),
    ],
)
def test_which_models_think_adaptively(model: str, adaptive: bool) -> None:
    assert uses_adaptive_thinking(model) is adaptive


# -- faults of the stream itself ------------------------------------------------------------------


@pytest.mark.parametrize("keep", [5, 7, 8], ids=["mid-text", "before-message-delta", "before-message-stop"])
async def test_a_stream_that_ends_without_message_stop_is_retryable_not_an_answer(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events, keep: int
) -> None:
    # message_start, ping, block start, 3 deltas, block stop, message_delta, message_stop
    fake_llm.enqueue(ended_early(anthropic_stream([Text("one ", "two ", "three ")]), keep=keep))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert str(caught.value).startswith("anthropic: ")
    assert "ended before the answer was complete" in str(caught.value)


async def test_a_tool_call_cut_mid_arguments_is_retryable(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(ended_early(anthropic_stream([ToolCall("toolu_1", "view", '{"pa', 'th": "a.py"}')]), keep=4))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "ended before the answer was complete" in str(caught.value)


async def test_a_stall_between_events_ends_at_the_read_timeout(fake_llm: FakeLlmServer, events: Events) -> None:
    provider = AnthropicProvider(api_key=KEY, base_url=fake_llm.url, read_timeout=0.5)
    stream = stalled(anthropic_stream([Text("a", "b", "c")]), after=4)
    fake_llm.enqueue(stream)
    began = time.monotonic()
    try:
        with pytest.raises(RetryableLlmError) as caught:
            await provider.stream(request(), events)
    finally:
        await provider.close()

    assert time.monotonic() - began < 5
    assert "no data for 0.5s" in str(caught.value)
    assert events.deltas() == ["a"]
    await stream.finished.wait()


async def test_a_malformed_event_is_a_retryable_error_that_says_so(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(malformed(anthropic_stream([Text("a", "b")]), at=3, data='{"type": "content_block_delta", "ind'))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert str(caught.value).startswith("anthropic: the stream sent a malformed chunk (not JSON")


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_the_per_chat_context_follows_the_cached_stable_system_prompt(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("ok")]))

    await provider.stream(request(context="# Environment\n- OS: Linux"), events)

    assert fake_llm.requests[0].body["system"] == [
        {"type": "text", "text": "You are a careful engineer.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "# Environment\n- OS: Linux"},
    ]


async def test_images_from_the_user_and_from_tools_reach_the_model_as_image_blocks(
    fake_llm: FakeLlmServer, provider: AnthropicProvider, events: Events
) -> None:
    fake_llm.enqueue(anthropic_stream([Text("a red pixel")]))
    pasted = Message(
        Role.USER,
        (ContentBlock.of_text("what is this?"), ContentBlock(BlockType.IMAGE, text=PIXEL, media_type="image/png")),
    )
    call = Message(
        Role.ASSISTANT,
        (ContentBlock(BlockType.TOOL_CALL, tool_call_id="toolu_1", tool_name="mcp__shot__take", tool_input={}),),
    )
    shot = Message(
        Role.TOOL,
        (
            ContentBlock(BlockType.TOOL_RESULT, tool_call_id="toolu_1", tool_name="mcp__shot__take", text="[image]"),
            ContentBlock(BlockType.IMAGE, text=PIXEL, media_type="image/png", tool_call_id="toolu_1"),
        ),
    )

    await provider.stream(request(pasted, call, shot), events)

    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}
    messages = fake_llm.requests[0].body["messages"]
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": "what is this?"}, image]}
    assert messages[2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "[image]"}, image],
                "is_error": False,
                "cache_control": EPHEMERAL,
            }
        ],
    }
