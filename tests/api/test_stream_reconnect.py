"""A StreamUpdates client over real HTTP drops in the middle of an answer, reconnects with since_seq,
and ends with every log update once and every delta once (a replayed delta is told by its offset)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from embedded.ports import free_port
from tests.api.chat_view import ChatView
from tests.conftest import Infra, eventually
from tests.worker.agent_env import agent_env


async def test_dropping_and_reconnecting_mid_answer_loses_and_repeats_nothing(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        words = [f"w{i}" for i in range(60)]
        chat = await env.new_chat(env.script([{"text": " ".join(words), "delay_ms": 15}]))
        view = ChatView(f"http://127.0.0.1:{env.settings.api_port}", env.settings.api_token, chat.id, drop_after=7)
        follower = asyncio.create_task(view.follow())
        try:
            await eventually(lambda: view.ready)
            await env.chats.send(chat.id, "talk")
            await eventually(lambda: view.connections > 5)
            view.drop_after = 0  # the network is fine again
            await eventually(view.idle, timeout=30)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        assert view.problems == []
        [text] = view.live.values()
        assert text.split() == words
        assert view.repeated > 0, "a reconnect mid-answer replays the answer so far"
        assert [seq for seq, _, _ in view.log] == list(range(1, len(view.log) + 1))
        assert view.answers() == [" ".join(words)]
