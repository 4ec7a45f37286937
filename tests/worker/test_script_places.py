"""The worker refuses a scripted model outside the chat's project and the data dir, whichever way
the model reached the chat (not only through the api): the chat pauses with the rule, and the
script is never played (its call_log is never written)."""

from __future__ import annotations

from pathlib import Path

import yaml

from reliant.db import chats as chats_db
from tests.conftest import Infra
from tests.worker.agent_env import agent_env


async def test_the_worker_refuses_a_script_outside_the_places_scripts_may_be(infra: Infra, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "script.yaml"
    call_log = elsewhere / "calls.jsonl"
    outside.write_text(yaml.safe_dump({"call_log": str(call_log), "turns": [{"text": "should not play"}]}))
    async with agent_env(infra, tmp_path) as env:
        chat = await env.new_chat(env.script([{"text": "fine"}]))
        await chats_db.set_model(env.db, chat.id, f"scripted:{outside}")  # e.g. from settings, not the api
        await env.chats.send(chat.id, "hi")
        paused = await env.status(chat.id, "paused")
        assert "must lie inside one of the chat's project directories or the data dir" in paused.status_reason
        assert str(outside) in paused.status_reason
    assert not call_log.exists()
