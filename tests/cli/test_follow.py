"""`reliant chat` follows a chat over ConnectRPC; its connection is cut twice in the middle of an
answer, it reconnects, is replayed the answer so far, and prints every word exactly once."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from embedded.ports import free_port
from reliant.cli.conversation import EXIT_OK, Api, run_chat
from reliant.cli.render import Renderer, StreamedText
from tests.conftest import Infra, eventually
from tests.worker.agent_env import agent_env


class CuttingProxy:
    """A TCP proxy in front of the api whose open connections can be cut, like a flaky network."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {client_w, server_w}

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w))
        self.writers -= {client_w, server_w}

    def cut(self) -> None:
        for writer in list(self.writers):
            writer.transport.abort()

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_followed_answer_is_printed_once_across_reconnects(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        words = [f"w{i}" for i in range(50)]
        chat = await env.new_chat(env.script([{"text": " ".join(words), "delay_ms": 20}]))
        proxy = CuttingProxy(env.settings.api_port)
        await proxy.start()
        out, err = io.StringIO(), io.StringIO()
        api = Api(f"http://127.0.0.1:{proxy.port}", env.settings.api_token)
        try:
            talking = asyncio.create_task(
                asyncio.to_thread(
                    run_chat,
                    api,
                    message="talk",
                    chat_id=chat.id,
                    project=None,
                    model="",
                    renderer=Renderer(out=out, err=err, styled=False),
                )
            )
            for word in ("w10", "w30"):
                await eventually(lambda word=word: word in out.getvalue().split(), timeout=30)
                proxy.cut()
            assert await asyncio.wait_for(talking, 60) == EXIT_OK
        finally:
            await proxy.stop()
        assert out.getvalue().split() == words, out.getvalue()


def test_streamed_text_drops_replays_skips_gaps_and_completes_from_the_stored_message() -> None:
    text = StreamedText()
    text.started({"message_id": "m", "turn": 3})
    delta = lambda offset, t: text.delta({"message_id": "m", "index": 1.0, "offset": float(offset), "text": t})  # noqa: E731
    assert delta(0, "Hello ") == "Hello "
    assert delta(0, "Hello ") == ""  # replayed after a reconnect
    assert delta(3, "lo wor") == "wor"  # overlaps what was shown
    assert delta(20, "far ahead") == ""  # a gap: left to the stored message
    message = {"turn": 3, "blocks": [{"type": "thinking", "text": "hm"}, {"type": "text", "text": "Hello world!"}]}
    assert text.rest(message) == "ld!"
    assert text.rest({"turn": 4, "blocks": [{"type": "text", "text": "never streamed"}]}) == "never streamed"
