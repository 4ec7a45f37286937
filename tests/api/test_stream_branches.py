"""Two `parallel` branches of a workflow stream their answers at once: a client that connects in the
middle is shown both answers so far, then the rest of each, then both stored messages, once each;
one that connects after one answer ended is still shown the other from its start."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.db import messages as messages_db
from reliant.domain.chat import ChatUpdate, Role
from tests.api.chat_view import ChatView
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, Watch, agent_env
from tests.worker.test_workflow_runs import flow_chat, write_flow

LEFT = [f"left{i}" for i in range(30)]
RIGHT = [f"right{i}" for i in range(120)]


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def answers(watch: Watch) -> dict[str, str]:
    """Each streamed answer's text (by message id), put together by offset: a delta that does not
    start where the text so far ends is a gap or a repeat."""
    texts: dict[str, str] = {}
    for update in watch.updates:
        p = update.payload
        if update.kind == "message_started":
            assert p["message_id"] not in texts, "an answer started twice"
            texts[p["message_id"]] = ""
        elif update.kind == "block_delta" and p["type"] == "text":
            assert p["message_id"] in texts, "a delta of an answer never started"
            assert p["offset"] == len(texts[p["message_id"]]), "a gap or a repeat"
            texts[p["message_id"]] += p["text"]
    return texts


def completed(watch: Watch) -> list[ChatUpdate]:
    return [u for u in watch.updates if u.kind == "message_completed"]


def streaming(watch: Watch) -> bool:
    """Both answers are being streamed (and neither is over)."""
    texts = answers(watch)
    return len(texts) == 2 and all(len(t.split()) >= 2 for t in texts.values()) and not completed(watch)


def two_voices(env: AgentEnv, *, left_ms: int = 60, right_ms: int = 50) -> None:
    """A workflow whose two parallel branches each stream an answer (the right one the longer)."""
    left = env.script([{"text": " ".join(LEFT), "delay_ms": left_ms}], in_project=True)
    right = env.script([{"text": " ".join(RIGHT), "delay_ms": right_ms}], in_project=True)
    write_flow(
        env,
        "two-voices",
        f"""
        name: two-voices
        entry: both
        nodes:
          - id: both
            type: parallel
            join: all
            branches:
              left:
                entry: speak_left
                nodes:
                  - {{id: speak_left, type: call_llm, model: "{left}", thread: left, tools: none, prompt: "go left"}}
              right:
                entry: speak_right
                nodes:
                  - {{id: speak_right, type: call_llm, model: "{right}", thread: right, tools: none, prompt: "right"}}
        """,
    )


async def test_a_client_connecting_mid_stream_sees_both_branches_answers_then_both_messages_once(
    env: AgentEnv,
) -> None:
    two_voices(env)
    chat = await flow_chat(env, "two-voices")
    early = await env.watch(chat.id)  # there from the start: it tells when both stream
    await env.chats.send(chat.id, "speak")
    await eventually(lambda: streaming(early), timeout=30)
    mid = await env.watch(chat.id)  # both answers are on their way
    await eventually(lambda: len(completed(early)) == 1, timeout=30)
    after_one = await env.watch(chat.id)  # the left answer is stored, the right one still streams
    await env.finished(chat.id, timeout=60)
    await eventually(lambda: all(len(completed(w)) == 2 for w in (mid, after_one)), timeout=30)

    transcript = await messages_db.transcript(env.db, chat.id)
    stored = {m.text(): m.id for m in transcript if m.role is Role.ASSISTANT}
    full_left, full_right = " ".join(LEFT), " ".join(RIGHT)
    assert set(stored) == {full_left, full_right}
    for watch in (early, mid, after_one):
        done = completed(watch)
        assert Counter(u.payload["message"]["id"] for u in done) == Counter(stored.values()), "each stored once"
        seqs = [u.seq for u in watch.log()]
        assert seqs == sorted(set(seqs)), "no update twice"
    # Mid-stream: both answers from their start (replayed, then live), each a prefix of what was stored.
    texts = answers(mid)
    assert sorted(t.split()[0] for t in texts.values()) == ["left0", "right0"]
    assert all(full_left.startswith(t) or full_right.startswith(t) for t in texts.values())
    # After one ended: the other's answer so far, from its start; nothing of the stored one.
    [(_, text)] = answers(after_one).items()
    assert text.split()[0] == "right0" and full_right.startswith(text)


async def test_a_connect_client_that_keeps_dropping_mid_stream_puts_both_answers_together_once(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        two_voices(env, left_ms=30, right_ms=25)
        chat = await flow_chat(env, "two-voices")
        url = f"http://127.0.0.1:{env.settings.api_port}"
        view = ChatView(url, env.settings.api_token, chat.id, drop_after=7)  # a flaky network
        follower = asyncio.create_task(view.follow())
        try:
            await eventually(lambda: view.ready)
            await env.chats.send(chat.id, "speak")
            await eventually(lambda: view.connections > 3, timeout=30)  # while both stream
            await eventually(lambda: len(view.answers()) == 1, timeout=30)  # the left one is stored
            dropped = view.connections  # and more drops while the right one streams
            await eventually(lambda: view.connections > dropped + 2 or view.problems, timeout=30)
            view.drop_after = 0  # the network is fine again
            await env.finished(chat.id, timeout=60)
            await eventually(lambda: len(view.answers()) == 2, timeout=30)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        assert view.problems == [], "no gap in the log, and every delta followed the text before it"
        assert view.repeated > 0, "a reconnect mid-stream replays the answers so far"
        assert sorted(view.answers()) == sorted([" ".join(LEFT), " ".join(RIGHT)]), "each stored message once"
        streamed = {t.split()[0]: t for t in view.live.values()}
        assert sorted(streamed) == ["left0", "right0"], "both answers from their start"
        assert " ".join(LEFT).startswith(streamed["left0"]) and " ".join(RIGHT).startswith(streamed["right0"])
