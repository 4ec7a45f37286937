"""OpenAIProvider through the real AsyncOpenAI client against the fake Chat Completions server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from embedded.ports import free_port
from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition, Usage
from reliant.domain.tools import INVALID_ARGUMENTS, invalid_arguments_error
from reliant.llm.base import BlockDelta, BlockStart, LlmRequest
from reliant.llm.errors import FatalLlmError, RetryableLlmError
from reliant.llm.openai import OpenAIProvider
from tests.llm.conftest import Events
from tests.llm.fakes import (
    ErrorResponse,
    FakeLlmServer,
    PageResponse,
    SseEvent,
    StreamResponse,
    Text,
    Thinking,
    ToolCall,
    ended_early,
    malformed,
    openai_chunk,
    openai_error,
    openai_raw_stream,
    openai_stream,
    stalled,
)

KEY = "sk-proj-test-SECRET-9876543210"
VIEW = ToolDefinition(
    "view", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
)


def user(text: str) -> Message:
    return Message(Role.USER, (ContentBlock.of_text(text),))


def request(*messages: Message, **kw: object) -> LlmRequest:
    return LlmRequest(
        model="gpt-test",
        system="Be brief.",
        messages=messages or (user("hi"),),
        tools=(VIEW,),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def provider(fake_llm: FakeLlmServer) -> AsyncIterator[OpenAIProvider]:
    p = OpenAIProvider(api_key=KEY, base_url=fake_llm.openai_url)
    yield p
    await p.close()


async def test_streams_text_with_usage_requested(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("Hel", "lo")], prompt_tokens=20, completion_tokens=3, model="gpt-test-0613"))

    response = await provider.stream(request(max_tokens=500), events)

    assert response.blocks == (ContentBlock(BlockType.TEXT, text="Hello"),)
    assert response.stop_reason == "end_turn"
    assert response.model == "gpt-test-0613"
    assert response.usage == Usage(input_tokens=20, output_tokens=3)
    assert events.events == [
        BlockStart(0, BlockType.TEXT),
        BlockDelta(0, BlockType.TEXT, "Hel"),
        BlockDelta(0, BlockType.TEXT, "lo"),
    ]
    [sent] = fake_llm.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 500  # a compatible server: the widely understood name
    assert "max_completion_tokens" not in body
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "view", "description": "Read a file.", "parameters": VIEW.input_schema},
        }
    ]


async def test_openai_itself_gets_max_completion_tokens(fake_llm: FakeLlmServer, events: Events) -> None:
    provider = OpenAIProvider(api_key=KEY, base_url=fake_llm.openai_url, compatible=False)
    fake_llm.enqueue(openai_stream([Text("ok")]))
    try:
        await provider.stream(request(max_tokens=321), events)
    finally:
        await provider.close()

    body = fake_llm.requests[0].body
    assert body["max_completion_tokens"] == 321
    assert "max_tokens" not in body


@pytest.mark.parametrize(
    ("model", "budget", "effort"),
    [
        ("o3", 2000, "low"),
        ("o4-mini", 8000, "medium"),
        ("gpt-5", 32000, "high"),
        ("openai/gpt-5-mini", 5000, "medium"),
        ("o3", 0, None),  # no budget: the model's default
        ("gpt-4o", 8000, None),  # not a reasoning model: it would reject the parameter
        ("llama3.1", 8000, None),
    ],
)
async def test_a_thinking_budget_becomes_reasoning_effort_for_reasoning_models(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, model: str, budget: int, effort: str | None
) -> None:
    fake_llm.enqueue(openai_stream([Text("ok")]))
    await provider.stream(replace(request(thinking_budget=budget), model=model), events)
    assert fake_llm.requests[0].body.get("reasoning_effort") == effort


async def test_tool_call_deltas_are_accumulated_by_index(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(
        openai_stream(
            [
                Text("Let me look."),
                ToolCall("call_a", "view", '{"pa', 'th": ', '"a.py"}'),
                ToolCall("call_b", "view", '{"path": "b.py"}'),
            ]
        )
    )

    response = await provider.stream(request(), events)

    assert response.stop_reason == "tool_use"
    assert response.blocks == (
        ContentBlock(BlockType.TEXT, text="Let me look."),
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={"path": "a.py"}),
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_b", tool_name="view", tool_input={"path": "b.py"}),
    )
    assert events.starts() == [
        BlockStart(0, BlockType.TEXT),
        BlockStart(1, BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view"),
        BlockStart(2, BlockType.TOOL_CALL, tool_call_id="call_b", tool_name="view"),
    ]
    assert events.deltas(BlockType.TOOL_CALL) == ['{"pa', 'th": ', '"a.py"}', '{"path": "b.py"}']


def tool_delta(**call: object) -> SseEvent:
    """A chunk carrying one tool call delta as given (index, id, function...)."""
    return openai_chunk([{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}])


def finish(reason: str = "tool_calls") -> SseEvent:
    return openai_chunk([{"index": 0, "delta": {}, "finish_reason": reason}])


@pytest.mark.parametrize("index", [{"index": 0}, {}], ids=["all-at-index-0", "no-index"])
async def test_tool_calls_of_new_ids_at_one_index_stay_separate_calls(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, index: dict[str, int]
) -> None:
    """Ollama numbers every call of a turn 0 (older builds send no index at all); each new id is a call."""
    fake_llm.enqueue(
        openai_raw_stream(
            tool_delta(**index, id="call_a", type="function", function={"name": "view", "arguments": '{"path"'}),
            tool_delta(**index, function={"arguments": ': "a.py"}'}),
            tool_delta(**index, id="call_b", type="function", function={"name": "view", "arguments": ""}),
            tool_delta(**index, function={"arguments": '{"path": "b.py"}'}),
            finish(),
        )
    )

    response = await provider.stream(request(), events)

    assert response.blocks == (
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={"path": "a.py"}),
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_b", tool_name="view", tool_input={"path": "b.py"}),
    )
    assert events.starts() == [
        BlockStart(0, BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view"),
        BlockStart(1, BlockType.TOOL_CALL, tool_call_id="call_b", tool_name="view"),
    ]


async def test_an_id_repeated_on_every_chunk_of_a_call_is_still_one_call(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(
        openai_raw_stream(
            tool_delta(index=0, id="call_a", type="function", function={"name": "view", "arguments": '{"pa'}),
            tool_delta(index=0, id="call_a", type="function", function={"name": "view", "arguments": 'th": "a"}'}),
            finish(),
        )
    )

    response = await provider.stream(request(), events)

    assert response.blocks == (
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={"path": "a"}),
    )


async def test_arguments_sent_as_an_object_rather_than_json_text_are_taken_as_they_are(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """Some compatible servers send `arguments` as the object itself, not as its JSON text."""
    fake_llm.enqueue(
        openai_raw_stream(
            tool_delta(index=0, id="call_a", type="function", function={"name": "view", "arguments": {"path": "a"}}),
            finish(),
        )
    )

    response = await provider.stream(request(), events)

    assert response.blocks == (
        ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={"path": "a"}),
    )
    assert events.deltas(BlockType.TOOL_CALL) == ['{"path": "a"}']


async def test_a_call_of_a_tool_without_parameters_may_send_null_for_its_arguments(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """Some servers send JSON null (as text, or as the value itself) for a call with no arguments."""
    fake_llm.enqueue(
        openai_raw_stream(
            tool_delta(index=0, id="call_a", type="function", function={"name": "list", "arguments": "null"}),
            tool_delta(index=1, id="call_b", type="function", function={"name": "list", "arguments": None}),
            finish(),
        )
    )

    response = await provider.stream(request(), events)

    assert [(b.tool_call_id, b.tool_input) for b in response.blocks] == [("call_a", {}), ("call_b", {})]


async def test_every_call_of_an_answer_has_an_id_of_its_own(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """Calls are run and answered by id: one the server repeats (or leaves out) gets a fresh one."""
    fake_llm.enqueue(
        openai_raw_stream(
            tool_delta(index=0, id="call_0", type="function", function={"name": "view", "arguments": '{"path": "a"}'}),
            tool_delta(index=1, id="call_0", type="function", function={"name": "view", "arguments": '{"path": "b"}'}),
            tool_delta(index=2, type="function", function={"name": "view", "arguments": '{"path": "c"}'}),
            finish(),
        )
    )

    response = await provider.stream(request(), events)

    ids = [b.tool_call_id for b in response.blocks]
    assert ids[0] == "call_0"
    assert len(set(ids)) == 3 and all(ids)
    assert [b.tool_input for b in response.blocks] == [{"path": "a"}, {"path": "b"}, {"path": "c"}]
    assert [s.tool_call_id for s in events.starts()] == ids


async def test_chunks_without_a_delta_or_with_a_partial_usage_are_read_not_a_crash(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """Azure's content filter sends choices without a delta; some servers leave usage fields out or null."""
    fake_llm.enqueue(
        openai_raw_stream(
            openai_chunk([], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}]),
            openai_chunk([{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]),
            openai_chunk([{"index": 0, "finish_reason": None, "content_filter_results": {"hate": {}}}]),
            openai_chunk([{"index": 0, "delta": None, "finish_reason": "stop"}]),
            openai_chunk([], usage={"prompt_tokens": 11, "completion_tokens": None}),
        )
    )

    response = await provider.stream(request(), events)

    assert response.blocks == (ContentBlock(BlockType.TEXT, text="Hello"),)
    assert response.stop_reason == "end_turn"
    assert response.usage == Usage(input_tokens=11, output_tokens=0)


async def test_tool_calls_finished_with_stop_still_count_as_tool_use(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([ToolCall("call_a", "view", '{"path": "a"}')], finish_reason="stop"))

    response = await provider.stream(request(), events)

    assert response.stop_reason == "tool_use"


async def test_reasoning_of_compatible_servers_becomes_thinking(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Thinking("Hmm, ", "simple."), Text("Yes.")]))

    response = await provider.stream(request(), events)

    assert response.blocks == (
        ContentBlock(BlockType.THINKING, text="Hmm, simple."),
        ContentBlock(BlockType.TEXT, text="Yes."),
    )
    assert events.deltas(BlockType.THINKING) == ["Hmm, ", "simple."]


async def test_cached_prompt_tokens_are_reported_apart(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("ok")], prompt_tokens=2000, completion_tokens=50, cached_tokens=1536))

    response = await provider.stream(request(), events)

    assert response.usage == Usage(input_tokens=464, output_tokens=50, cache_read_tokens=1536)


async def test_history_maps_to_chat_messages_with_one_tool_message_per_result(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("ok")]))
    assistant = Message(
        Role.ASSISTANT,
        (
            ContentBlock(BlockType.THINKING, text="private", signature="c2ln"),
            ContentBlock(BlockType.TEXT, text="Reading both."),
            ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={"path": "a"}),
            ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_b", tool_name="view", tool_input={"path": "b"}),
        ),
    )
    results = Message(
        Role.TOOL,
        (
            ContentBlock(BlockType.TOOL_RESULT, tool_call_id="call_a", tool_name="view", text="A"),
            ContentBlock(
                BlockType.TOOL_RESULT, tool_call_id="call_b", tool_name="view", text="no such file", is_error=True
            ),
        ),
    )

    await provider.stream(request(user("compare"), assistant, results, user("go on")), events)

    assert fake_llm.requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "compare"},
        {
            "role": "assistant",
            "content": "Reading both.",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "view", "arguments": '{"path": "a"}'}},
                {"id": "call_b", "type": "function", "function": {"name": "view", "arguments": '{"path": "b"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "A"},
        {"role": "tool", "tool_call_id": "call_b", "content": "Error: no such file"},
        {"role": "user", "content": "go on"},
    ]


async def test_a_local_server_needs_no_key(fake_llm: FakeLlmServer, events: Events) -> None:
    provider = OpenAIProvider(base_url=fake_llm.openai_url)
    fake_llm.enqueue(openai_stream([Text("ok")]))
    try:
        response = await provider.stream(request(), events)
    finally:
        await provider.close()

    assert response.blocks[0].text == "ok"
    assert fake_llm.requests[0].headers["authorization"] == "Bearer no-key"


async def test_429_is_retryable_with_the_servers_wait(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_error(429, "Rate limit reached", error_type="requests", headers={"retry-after": "3"}))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 429
    assert caught.value.retry_after == 3.0
    assert "Rate limit reached" in str(caught.value)
    assert len(fake_llm.requests) == 1  # the SDK did not retry by itself


async def test_a_429_for_a_quota_used_up_is_billing_not_a_rate_limit(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """OpenAI says an account out of credits with a 429 (code insufficient_quota): waiting does not
    mend it, so it pauses naming billing instead of being retried for minutes as a rate limit."""
    quota = "You exceeded your current quota, please check your plan and billing details."
    fake_llm.enqueue(openai_error(429, quota, error_type="insufficient_quota", code="insufficient_quota"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "billing" and caught.value.status == 429
    assert quota in str(caught.value) and "add credits" in str(caught.value)
    assert len(fake_llm.requests) == 1


async def test_500_is_retryable(fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events) -> None:
    fake_llm.enqueue(openai_error(500, "The server had an error"))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 500
    assert caught.value.retry_after is None
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize(
    ("status", "kind"), [(401, "auth"), (403, "permission"), (400, "invalid_request"), (404, "not_found")]
)
async def test_client_errors_are_fatal_and_never_show_the_key(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, status: int, kind: str
) -> None:
    fake_llm.enqueue(openai_error(status, f"Incorrect API key provided: {KEY}", error_type="invalid_request_error"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == kind
    assert caught.value.status == status
    assert KEY not in str(caught.value)
    assert "Incorrect API key provided" in str(caught.value)


@pytest.mark.parametrize(
    "response",
    [
        openai_error(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512"
            " tokens. Please reduce the length of the messages.",
            error_type="invalid_request_error",
            code="context_length_exceeded",
        ),
        # Groq: the code alone says so
        openai_error(400, "Please reduce the length of the messages or completion.", code="context_length_exceeded"),
        # vLLM: the error object is the body itself
        ErrorResponse(
            400,
            {
                "object": "error",
                "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"
                " (4000 in the messages, 1000 in the completion).",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            },
        ),
        ErrorResponse(  # llama.cpp's server
            400,
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                }
            },
        ),
    ],
)
async def test_a_request_too_long_for_the_context_window_is_its_own_kind(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, response: ErrorResponse
) -> None:
    """A shorter thread may pass where this one cannot: the chat compacts it (not a plain invalid request)."""
    fake_llm.enqueue(response)

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert (caught.value.kind, caught.value.status) == ("context_too_long", 400)


async def test_a_fatal_error_names_the_model_and_the_server_it_came_from(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """Ollama without /v1 in its base URL answers a plain-text 404: once the chat has paused, the
    user must see which model and which server, and what the server said."""
    fake_llm.enqueue(PageResponse("404 page not found", status=404, content_type="text/plain"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(replace(request(), model="llama3.1:8b"), events)

    assert caught.value.kind == "not_found"
    assert str(caught.value) == f"openai: HTTP 404 from {fake_llm.openai_url} for llama3.1:8b: 404 page not found"


async def test_an_error_body_that_is_not_json_is_still_classified(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(ErrorResponse(502, {"detail": "bad gateway"}))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 502


NOT_STREAMED = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


@pytest.mark.parametrize(
    ("answer", "content_type"),
    [
        (PageResponse("<!doctype html><title>Open WebUI</title>"), "text/html; charset=utf-8"),
        (ErrorResponse(200, NOT_STREAMED), "application/json"),
    ],
    ids=["an-html-page", "a-json-body"],
)
async def test_a_200_that_is_not_a_stream_fails_at_once_naming_what_came(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, answer: object, content_type: str
) -> None:
    """A base URL that is a web app's (not its API's), or a server that ignores `stream`: retrying
    cannot help, and "the stream ended early" would send the user looking in the wrong place."""
    fake_llm.enqueue(answer)  # type: ignore[arg-type]

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    message = str(caught.value)
    assert caught.value.kind == "not_a_stream"
    assert message.startswith(
        f"openai: {fake_llm.openai_url} answered the call of gpt-test with {content_type}, not a stream of events"
    )
    assert "check the base URL" in message and "/v1" in message
    assert len(fake_llm.requests) == 1


async def test_an_empty_200_that_names_no_content_type_is_a_stream_cut_short_tried_again(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(PageResponse("", content_type=""))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "ended before the answer was complete" in str(caught.value)


async def test_an_error_inside_the_stream_is_retryable(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    stream = openai_stream([Text("par", "tial")])
    error = SseEvent(data='{"error": {"message": "upstream went away", "type": "server_error"}}')
    fake_llm.enqueue(StreamResponse([*stream.events[:3], error]))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "upstream went away" in str(caught.value)
    assert events.deltas() == ["par", "tial"]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"code": 402, "message": "Insufficient credits"}, "billing"),  # OpenRouter, once the stream began
        ({"object": "error", "message": "too long", "type": "BadRequestError", "code": 400}, "invalid_request"),
        ({"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}, "invalid_request"),
    ],
)
async def test_an_error_inside_the_stream_that_retrying_cannot_mend_is_fatal(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, error: dict[str, object], kind: str
) -> None:
    stream = openai_stream([Text("par", "tial")])
    fake_llm.enqueue(StreamResponse([*stream.events[:2], SseEvent(data=json.dumps({"error": error}))]))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == kind
    assert str(caught.value).startswith("openai: ")
    assert str(error["message"]) in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"},
        {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": 429},
        {"message": "Your credit balance is too low", "type": "billing_error"},
    ],
)
async def test_an_account_out_of_credits_inside_the_stream_pauses_naming_billing(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, error: dict[str, object]
) -> None:
    """Out of credits said inside a 200 stream (OpenAI's insufficient_quota, a relayed billing_error)
    was retried as a stream failure or a rate limit; it pauses naming billing as the HTTP error does."""
    stream = openai_stream([Text("par", "tial")])
    fake_llm.enqueue(StreamResponse([*stream.events[:2], SseEvent(data=json.dumps({"error": error}))]))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "billing", caught.value
    assert str(error["message"]) in str(caught.value) and "add credits" in str(caught.value)
    assert len(fake_llm.requests) == 1


async def test_a_stream_that_finishes_with_finish_reason_error_is_retryable_not_an_answer(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """OpenRouter ends a stream that failed upstream with finish_reason "error": what came is a part."""
    fake_llm.enqueue(openai_stream([Text("The first ha")], finish_reason="error"))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert str(caught.value) == (
        "openai: the stream ended with finish_reason error before the answer was complete; nothing of it was kept"
    )
    assert caught.value.usage == Usage(input_tokens=20, output_tokens=9), "what the stream reported is billed"


async def test_a_rate_limit_inside_the_stream_is_retryable_with_its_status(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    error = SseEvent(data=json.dumps({"error": {"code": 429, "message": "Rate limit exceeded upstream"}}))
    fake_llm.enqueue(StreamResponse([openai_stream([Text("a")]).events[0], error]))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.status == 429
    assert "Rate limit exceeded upstream" in str(caught.value)


async def test_a_connection_dropped_mid_stream_is_retryable(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("a", "b", "c")], abort_after=2))

    with pytest.raises(RetryableLlmError):
        await provider.stream(request(), events)


async def test_an_unreachable_server_is_retryable(events: Events) -> None:
    provider = OpenAIProvider(api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    try:
        with pytest.raises(RetryableLlmError) as caught:
            await provider.stream(request(), events)
    finally:
        await provider.close()
    assert KEY not in str(caught.value)


async def test_credentials_in_the_base_url_are_masked_in_every_error(fake_llm: FakeLlmServer, events: Events) -> None:
    """The settings never show them; neither may a retry's reason, a pause's, or the log."""
    port = fake_llm.openai_url.removeprefix("http://")
    provider = OpenAIProvider(base_url=f"http://proxyuser:proxy-pass-SECRET@{port}")
    away = OpenAIProvider(base_url=f"http://proxyuser:proxy-pass-SECRET@127.0.0.1:{free_port()}/v1")
    fake_llm.enqueue(openai_error(404, "no such model"), PageResponse("<html><title>Portal</title></html>"))
    caught = []
    try:
        for p in (provider, provider, away):
            with pytest.raises((FatalLlmError, RetryableLlmError)) as info:
                await p.stream(request(), events)
            caught.append(str(info.value))
    finally:
        await provider.close()
        await away.close()

    assert caught[0].startswith("openai: HTTP 404 from http://****@")
    assert all("proxy-pass-SECRET" not in text and "proxyuser" not in text for text in caught), caught


async def test_a_placeholder_key_of_a_local_server_is_not_masked_out_of_its_words(
    fake_llm: FakeLlmServer, events: Events
) -> None:
    """Local servers take any key, and guides say "x" or "ollama": masking it would garble the
    message (no real key is that short; the logs' redaction leaves such values alone too)."""
    provider = OpenAIProvider(api_key="x", base_url=fake_llm.openai_url)
    fake_llm.enqueue(openai_error(400, "context length exceeded: max 8192 tokens"))
    try:
        with pytest.raises(FatalLlmError) as caught:
            await provider.stream(request(), events)
    finally:
        await provider.close()

    assert str(caught.value).endswith(": context length exceeded: max 8192 tokens")


def test_a_missing_key_without_a_local_server_is_fatal() -> None:
    with pytest.raises(FatalLlmError) as caught:
        OpenAIProvider()

    assert caught.value.kind == "missing_key"
    assert "RELIANT_OPENAI_API_KEY" in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)


@pytest.mark.parametrize("key", ["sk-ключ", "sk key", "sk-\x00"])
def test_a_key_no_http_header_can_carry_is_fatal_not_retried(key: str) -> None:
    with pytest.raises(FatalLlmError) as caught:
        OpenAIProvider(api_key=key)
    assert caught.value.kind == "bad_key" and key not in str(caught.value)


# -- faults of the stream itself ------------------------------------------------------------------


async def test_a_stream_that_ends_without_finish_reason_is_retryable_not_an_answer(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    words = [f"{w} " for w in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")]
    fake_llm.enqueue(ended_early(openai_stream([Text(*words)]), keep=4))  # the role chunk, 3 words

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "ended before the answer was complete" in str(caught.value)
    assert str(caught.value).startswith("openai: ")
    assert events.deltas() == ["one ", "two ", "three "]


async def test_a_stream_cut_after_the_finish_but_before_done_keeps_the_answer(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    stream = openai_stream([Text("all ", "of it")])
    fake_llm.enqueue(ended_early(stream, keep=len(stream.events) - 1))  # everything but [DONE]

    response = await provider.stream(request(), events)

    assert response.blocks == (ContentBlock(BlockType.TEXT, text="all of it"),)


def content(text: str) -> SseEvent:
    return openai_chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])


async def test_a_server_that_sends_done_but_never_a_finish_reason_has_its_answer_taken_whole(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(
        openai_raw_stream(content("all "), content("of it")),
        openai_raw_stream(tool_delta(id="call_a", function={"name": "view", "arguments": '{"path": "a.py"}'})),
    )

    answer = await provider.stream(request(), events)
    assert (answer.blocks, answer.stop_reason) == ((ContentBlock(BlockType.TEXT, text="all of it"),), "end_turn")
    calls = await provider.stream(request(), events)
    assert ([b.tool_input for b in calls.blocks], calls.stop_reason) == ([{"path": "a.py"}], "tool_use")


@pytest.mark.parametrize(
    "stream",
    [
        openai_raw_stream(tool_delta(id="call_a", function={"name": "view", "arguments": '{"path": "a.p'})),
        openai_raw_stream(content("The marker reads\ndata: [DONE]\n"), done=False),
    ],
    ids=["done-with-open-arguments", "the-marker-in-the-text"],
)
async def test_done_without_a_finish_reason_ends_no_answer_left_open_or_a_body_without_it(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, stream: StreamResponse
) -> None:
    fake_llm.enqueue(stream)

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "ended before the answer was complete (no finish_reason" in str(caught.value)


async def test_a_tool_call_cut_mid_arguments_is_retryable(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(ended_early(openai_stream([ToolCall("call_a", "view", '{"pa', 'th": "a.py"}')]), keep=3))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    assert "ended before the answer was complete" in str(caught.value)


@pytest.mark.parametrize("arguments", ['{"path": "a.p', "not json", '["a.py"]'], ids=["cut", "words", "a-list"])
async def test_tool_arguments_that_are_not_an_object_in_a_finished_answer_are_kept_marked_for_the_model(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events, arguments: str
) -> None:
    """The answer ended normally (finish_reason tool_calls), so another attempt would most likely
    get the same from the model: the answer is kept, the call marked (it never runs; its result
    tells the model what it sent). Retried, such a chat failed ~8 times over two minutes, then paused."""
    fake_llm.enqueue(openai_stream([Text("Looking."), ToolCall("call_a", "view", arguments)]))

    response = await provider.stream(request(), events)

    assert response.stop_reason == "tool_use"
    assert response.blocks == (
        ContentBlock(BlockType.TEXT, text="Looking."),
        ContentBlock(
            BlockType.TOOL_CALL, tool_call_id="call_a", tool_name="view", tool_input={INVALID_ARGUMENTS: arguments}
        ),
    )
    assert invalid_arguments_error("view", response.blocks[1].tool_input) == (
        f"the arguments of view were not a JSON object: {json.dumps(arguments)}; nothing was run. "
        "Call it again with arguments that are one."
    )


async def test_tool_arguments_cut_by_the_output_limit_are_fatal_never_passed_on(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([ToolCall("call_a", "view", '{"path": "a.p')], finish_reason="length"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "max_tokens"
    assert "reached its output limit (max_tokens) in the arguments of the view tool call" in str(caught.value)


async def test_an_answer_the_content_filter_stopped_is_not_kept_and_says_why(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """An empty (or cut) answer stored as if the model had finished would leave the user guessing."""
    fake_llm.enqueue(openai_stream([Text("Here is how")], finish_reason="content_filter"))

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(), events)

    assert caught.value.kind == "refusal"
    assert str(caught.value) == (
        "openai: the provider's content filter stopped the answer of gpt-test (finish_reason content_filter);"
        " nothing of it was kept: rephrase the request, or resume to ask again"
    )


async def test_an_answer_cut_by_the_output_limit_before_any_of_it_was_written_pauses_saying_so(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    """A reasoning model can spend the whole limit thinking: stored, that was an empty answer and an
    idle chat, with nothing to say why. Cut after some text, the answer is kept as it came."""
    fake_llm.enqueue(
        openai_stream([Thinking("Let me think ", "at length")], finish_reason="length", completion_tokens=8192),
        openai_stream([Text("The first half")], finish_reason="length"),
    )

    with pytest.raises(FatalLlmError) as caught:
        await provider.stream(request(max_tokens=8192), events)
    kept = await provider.stream(request(max_tokens=8192), events)

    assert caught.value.kind == "max_tokens"
    assert str(caught.value) == (
        "openai: gpt-test reached its output limit (max_tokens 8192) before it wrote any answer, all of it"
        " spent thinking (thinking_budget sets how much it may think); nothing of it was kept"
    )
    assert kept.blocks == (ContentBlock(BlockType.TEXT, text="The first half"),)
    assert kept.stop_reason == "max_tokens"


async def test_a_stall_between_chunks_ends_at_the_read_timeout(fake_llm: FakeLlmServer, events: Events) -> None:
    provider = OpenAIProvider(api_key=KEY, base_url=fake_llm.openai_url, read_timeout=0.5)
    stream = stalled(openai_stream([Text("a", "b", "c")]), after=2)
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
    await stream.finished.wait()  # the fake noticed the hang-up


async def test_a_malformed_chunk_is_a_retryable_error_that_says_so(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(malformed(openai_stream([Text("a", "b")]), at=2))

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(), events)

    message = str(caught.value)
    assert message.startswith("openai: the stream sent a malformed chunk (not JSON")
    assert KEY not in message


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_the_system_message_is_the_stable_part_then_the_per_chat_context(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("ok")]))

    await provider.stream(request(context="# Environment"), events)

    assert fake_llm.requests[0].body["messages"][0] == {"role": "system", "content": "Be brief.\n\n# Environment"}


async def test_images_from_the_user_and_from_tools_reach_the_model_as_image_parts(
    fake_llm: FakeLlmServer, provider: OpenAIProvider, events: Events
) -> None:
    fake_llm.enqueue(openai_stream([Text("a red pixel")]))
    pasted = Message(
        Role.USER,
        (ContentBlock.of_text("what is this?"), ContentBlock(BlockType.IMAGE, text=PIXEL, media_type="image/png")),
    )
    call = Message(
        Role.ASSISTANT,
        (ContentBlock(BlockType.TOOL_CALL, tool_call_id="call_1", tool_name="mcp__shot__take", tool_input={}),),
    )
    shot = Message(
        Role.TOOL,
        (
            ContentBlock(BlockType.TOOL_RESULT, tool_call_id="call_1", tool_name="mcp__shot__take", text="[image]"),
            ContentBlock(BlockType.IMAGE, text=PIXEL, media_type="image/png", tool_call_id="call_1"),
        ),
    )

    await provider.stream(request(pasted, call, shot), events)

    url = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
    messages = fake_llm.requests[0].body["messages"]
    assert messages[1] == {"role": "user", "content": [{"type": "text", "text": "what is this?"}, url]}
    assert messages[3] == {"role": "tool", "tool_call_id": "call_1", "content": "[image]"}
    assert messages[4] == {
        "role": "user",
        "content": [{"type": "text", "text": "An image returned by mcp__shot__take (call call_1):"}, url],
    }
    assert len(messages) == 5
