"""A StreamUpdates client over real HTTP drops in the middle of an answer, reconnects with since_seq,
and sees every delta exactly once."""

from __future__ import annotations

from pathlib import Path

from embedded.ports import free_port
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient
from tests.conftest import Infra
from tests.worker.agent_env import agent_env


async def test_dropping_and_reconnecting_mid_answer_loses_and_repeats_nothing(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        words = [f"w{i}" for i in range(60)]
        chat = await env.new_chat(env.script([{"text": " ".join(words), "delay_ms": 15}]))
        url = f"http://127.0.0.1:{env.settings.api_port}"
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        seqs: list[int] = []
        text = ""
        last = 0
        done = False
        drops = 0
        sent = False
        while not done:
            async with ChatServiceClient(url) as client:
                stream = client.stream_updates(
                    chat_pb2.StreamUpdatesRequest(chat_id=chat.id, since_seq=last), headers=headers
                )
                deltas_this_connection = 0
                async for update in stream:
                    if update.kind == "stream_ready" and not sent:
                        await env.chats.send(chat.id, "talk")
                        sent = True
                    if not update.seq:
                        continue
                    seqs.append(update.seq)
                    last = update.seq
                    if update.kind == "block_delta":
                        text += update.payload["text"]
                        deltas_this_connection += 1
                        if deltas_this_connection == 7 and drops < 5:
                            drops += 1
                            break  # the network drops
                    if update.kind == "chat_status" and update.payload["status"] == "idle":
                        done = True
                        break
        assert drops == 5
        assert text.split() == words
        assert seqs == sorted(set(seqs)) and seqs == list(range(seqs[0], seqs[-1] + 1))
