"""Fixtures for the LLM layer: a fake provider server per test, and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reliant.domain.chat import BlockType
from reliant.llm.base import BlockDelta, BlockStart, StreamEvent
from tests.llm.fakes import FakeLlmServer


@pytest.fixture(scope="session")
async def fake_llm_server() -> AsyncIterator[FakeLlmServer]:
    async with FakeLlmServer() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLlmServer) -> FakeLlmServer:
    """The session's fake provider server, with nothing queued and nothing recorded."""
    fake_llm_server.reset()
    return fake_llm_server


class Events:
    """Collects what a provider streams through on_event."""

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []

    async def __call__(self, event: StreamEvent) -> None:
        self.events.append(event)

    def starts(self) -> list[BlockStart]:
        return [e for e in self.events if isinstance(e, BlockStart)]

    def deltas(self, kind: BlockType | None = None) -> list[str]:
        return [e.text for e in self.events if isinstance(e, BlockDelta) and (kind is None or e.type is kind)]


@pytest.fixture
def events() -> Events:
    return Events()
