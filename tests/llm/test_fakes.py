"""The fake provider server's timing facilities, which benchmarks rely on."""

from __future__ import annotations

import asyncio
import itertools
import time

from reliant.domain.chat import BlockType, ContentBlock, Message, Role
from reliant.llm.anthropic import AnthropicProvider
from reliant.llm.base import BlockDelta, LlmRequest, StreamEvent
from reliant.llm.openai import OpenAIProvider
from tests.llm.fakes import (
    FakeLlmServer,
    SseEvent,
    StreamResponse,
    Text,
    Thinking,
    ToolCall,
    anthropic_stream,
    openai_stream,
)
from tests.support import eventually

REQUEST = LlmRequest(model="m", system="", messages=(Message(Role.USER, (ContentBlock.of_text("hi"),)),))


async def test_deltas_are_paced_and_their_write_times_are_recorded(fake_llm: FakeLlmServer) -> None:
    response = anthropic_stream(
        [Thinking("a", "b"), Text("c", "d", "e"), ToolCall("t", "view", "{}")], delta_delay=0.03
    )
    fake_llm.enqueue(response)
    seen: list[float] = []

    async def on_event(event: StreamEvent) -> None:
        if isinstance(event, BlockDelta):
            seen.append(time.perf_counter())

    provider = AnthropicProvider(api_key="k", base_url=fake_llm.url)
    try:
        await provider.stream(REQUEST, on_event)
    finally:
        await provider.close()

    written = response.delta_times()
    assert len(written) == len(seen) == 6
    assert all(w <= s for w, s in zip(written, seen, strict=True))
    assert all(later - earlier >= 0.025 for earlier, later in itertools.pairwise(written))
    assert response.finished.is_set()


async def test_openai_deltas_are_marked_too(fake_llm: FakeLlmServer) -> None:
    response = openai_stream([Thinking("x"), Text("a", "b"), ToolCall("c", "view", '{"p', '": 1}')])
    fake_llm.enqueue(response)
    provider = OpenAIProvider(api_key="k", base_url=fake_llm.openai_url)
    deltas: list[BlockDelta] = []

    async def on_event(event: StreamEvent) -> None:
        if isinstance(event, BlockDelta):
            deltas.append(event)

    try:
        await provider.stream(REQUEST, on_event)
    finally:
        await provider.close()

    assert len(response.delta_times()) == len(deltas) == 5
    assert [d.type for d in deltas] == [
        BlockType.THINKING,
        BlockType.TEXT,
        BlockType.TEXT,
        BlockType.TOOL_CALL,
        BlockType.TOOL_CALL,
    ]


async def test_a_gate_holds_the_stream_until_it_opens(fake_llm: FakeLlmServer) -> None:
    gate = asyncio.Event()
    response = anthropic_stream([Text("before", "after")])
    [second] = [e for e in response.events if e.delta][1:]
    second.gate = gate
    fake_llm.enqueue(response)
    texts: list[str] = []

    async def on_event(event: StreamEvent) -> None:
        if isinstance(event, BlockDelta):
            texts.append(event.text)

    provider = AnthropicProvider(api_key="k", base_url=fake_llm.url)
    call = asyncio.create_task(provider.stream(REQUEST, on_event))
    try:
        await eventually(lambda: texts == ["before"])
        assert not call.done()
        gate.set()
        result = await call
    finally:
        await provider.close()

    assert result.blocks[0].text == "beforeafter"


async def test_nothing_queued_is_an_error_the_test_sees(fake_llm: FakeLlmServer) -> None:
    provider = OpenAIProvider(api_key="k", base_url=fake_llm.openai_url)
    try:
        await provider.stream(REQUEST, lambda e: asyncio.sleep(0))
    except Exception as exc:  # noqa: BLE001
        assert "nothing queued" in str(exc)
    else:
        raise AssertionError("expected an error")
    finally:
        await provider.close()
    assert fake_llm.requests[0].path == "/v1/chat/completions"


def test_sse_encoding() -> None:
    assert SseEvent(data="{}", event="ping").encode() == b"event: ping\ndata: {}\n\n"
    assert StreamResponse([SseEvent(data="[DONE]")]).delta_times() == []
