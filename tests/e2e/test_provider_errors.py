"""`reliant up` facing a provider that fails as providers do: each expected error is one line on the
console and in logs/reliant.log (no traceback), and a key the provider echoes appears in neither."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.llm.fakes import FakeLlmServer, Text, openai_error, openai_stream

pytestmark = pytest.mark.e2e

KEY = "sk-proj-e2e-SECRET-5151515151515151"


class ThreadedFake:
    """The fake provider server on an event loop of its own, for tests that are not async."""

    def __init__(self) -> None:
        self.server = FakeLlmServer()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-llm", daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self._stop = asyncio.Event()
            async with self.server:
                self._started.set()
                await self._stop.wait()

        self._loop.run_until_complete(serve())
        self._loop.close()

    def __enter__(self) -> FakeLlmServer:
        self._thread.start()
        assert self._started.wait(15), "the fake provider server did not start"
        return self.server

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


@pytest.fixture
def fake() -> Iterator[FakeLlmServer]:
    with ThreadedFake() as server:
        yield server


def test_expected_provider_errors_are_one_line_each_and_never_show_the_key(tmp_path: Path, fake: FakeLlmServer) -> None:
    fake.enqueue(
        openai_error(429, f"Rate limit reached for key {KEY}", headers={"retry-after-ms": "10"}),
        openai_error(503, f"Overloaded, key {KEY}", headers={"retry-after-ms": "10"}),
        openai_stream([Text("fine")]),
    )
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = clean_env(RELIANT_OPENAI_API_KEY=KEY, RELIANT_OPENAI_BASE_URL=fake.openai_url)
    up = Appliance(tmp_path / "data", env=env).start()
    try:
        rest = Rest(up.url, up.token)
        chat = rest.chat(rest.project(workspace)["id"], "openai:gpt-test")
        rest.send(chat["id"], "hello")
        rest.wait_idle(chat["id"])
        assert [m["blocks"][0]["text"] for m in rest.messages(chat["id"]) if m["role"] == "assistant"] == ["fine"]
    finally:
        assert up.proc is not None
        console = up.proc.output()
        if up.stop() != 0:
            for pid, _ in up.leftovers():
                os.kill(pid, signal.SIGKILL)
    log = (up.data_dir / "logs" / "reliant.log").read_text()
    for text in (console, log):
        assert KEY not in text
        assert "Traceback" not in text, text
        lines = [line for line in text.splitlines() if "HTTP 429" in line or "HTTP 503" in line]
        assert len(lines) == 2, text
        assert "openai: HTTP 429: Rate limit reached for key ****" in lines[0]
        assert "WARNING" in lines[0] and f"chat {chat['id']}" in lines[0]
