"""Context from the user and images from tools, checked where they arrive (the scripted model's call
log): `@path` attaches a file the daemon reads (a missing one is reported, not dropped), images sent
with a message and images an MCP tool returns reach the model as image blocks."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from reliant.api.attachments import ImageInput, references
from reliant.api.errors import InvalidArgumentError
from reliant.clients.daemons import control
from reliant.db import messages as messages_db
from reliant.domain.chat import BlockType, Role
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TEST_SERVER = str(Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py")


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def user_blocks(call: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for m in call["messages"] if m["role"] == "user" for b in m["blocks"]]


def test_which_words_are_references() -> None:
    text = "see @src/x.py, @README.md and (@docs/) but not me@example.com, @property or `@x`; @Makefile."
    assert references(text) == [
        ("src/x.py", True),
        ("README.md", True),
        ("docs/", True),
        ("property", False),
        ("x", False),
        ("Makefile", False),
    ]
    assert references("@... and @") == []


async def test_at_path_attaches_files_and_reports_what_it_could_not(env: AgentEnv) -> None:
    (env.workspace / "src").mkdir()
    (env.workspace / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (env.workspace / "Makefile").write_text("test:\n\tpytest\n")
    (env.workspace / "shot.png").write_bytes(PNG)
    log = env.scripts / "calls.jsonl"
    chat = await env.new_chat(env.script([{"text": "I see the bug."}], call_log=str(log)))

    sent = await env.chats.send(
        chat.id, "Why does @src/calc.py fail? See @shot.png, @Makefile and @missing.py (not @property)."
    )
    await env.finished(chat.id)

    assert [(a.path, a.kind, a.error) for a in sent.attachments] == [
        ("src/calc.py", "text", ""),
        ("shot.png", "image", ""),
        ("Makefile", "text", ""),
        ("missing.py", "error", "no such file in the project: missing.py"),
    ]
    [call] = calls_in(log)
    blocks = user_blocks(call)
    assert blocks[0]["text"].startswith("Why does @src/calc.py fail?")
    assert blocks[1]["text"] == '<file path="src/calc.py">\ndef add(a, b):\n    return a - b\n\n</file>'
    assert blocks[2]["text"] == "[the image @shot.png is attached below]"
    assert blocks[3] == {"type": "image", "media_type": "image/png", "bytes": len(PNG)}
    assert blocks[4]["text"].startswith('<file path="Makefile">')
    assert blocks[5]["text"] == "[@missing.py was not attached: no such file in the project: missing.py]"
    assert len(blocks) == 6, "@property is text, not a reference"
    # Stored as sent, with each attachment's path: the UI shows them, and a retry sees the same.
    [stored] = [m for m in await messages_db.transcript(env.db, chat.id) if m.role is Role.USER]
    assert [(b.type, b.path, b.is_error) for b in stored.blocks] == [
        (BlockType.TEXT, "", False),
        (BlockType.TEXT, "src/calc.py", False),
        (BlockType.IMAGE, "shot.png", False),
        (BlockType.TEXT, "Makefile", False),
        (BlockType.TEXT, "missing.py", True),
    ]
    queued = [u.payload for u in await env.updates(chat.id) if u.kind == "message_queued"]
    assert queued[0]["attachments"][-1] == {
        "path": "missing.py",
        "kind": "error",
        "error": "no such file in the project: missing.py",
    }


async def test_a_path_outside_the_project_is_refused(env: AgentEnv, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("top secret\n")
    log = env.scripts / "calls.jsonl"
    chat = await env.new_chat(env.script([{"text": "ok"}], call_log=str(log)))

    sent = await env.chats.send(chat.id, f"read @../secret.txt and @{tmp_path / 'secret.txt'}")
    await env.finished(chat.id)

    assert [a.kind for a in sent.attachments] == ["error", "error"]
    assert all("outside the workspace" in a.error for a in sent.attachments)
    assert "top secret" not in json.dumps(calls_in(log))


async def test_images_sent_with_a_message_reach_the_model(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    chat = await env.new_chat(env.script([{"text": "A red pixel."}], call_log=str(log)))

    await env.chats.send(chat.id, "what is this?", images=[ImageInput("image/png", PNG)])
    await env.finished(chat.id)

    [call] = calls_in(log)
    assert user_blocks(call) == [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "media_type": "image/png", "bytes": len(PNG)},
    ]


@pytest.mark.parametrize(
    ("image", "complaint"),
    [
        (ImageInput("image/tiff", PNG), "images[0].media_type must be one of"),
        (ImageInput("image/jpeg", PNG), "images[0].data is not a image/jpeg image"),
        (ImageInput("image/png", b""), "images[0].data is empty"),
    ],
)
async def test_bad_images_are_refused_naming_the_field(env: AgentEnv, image: ImageInput, complaint: str) -> None:
    chat = await env.new_chat(env.script([{"text": "never"}]))
    with pytest.raises(InvalidArgumentError) as caught:
        await env.chats.send(chat.id, "look", images=[image])
    assert complaint in caught.value.message
    assert await messages_db.transcript(env.db, chat.id, include_queued=True) == []


async def test_an_image_an_mcp_tool_returns_reaches_the_model(env: AgentEnv) -> None:
    (env.workspace / ".reliant").mkdir()
    (env.workspace / ".reliant" / "mcp.json").write_text(
        json.dumps({"mcpServers": {"test": {"command": sys.executable, "args": [TEST_SERVER]}}})
    )
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [{"tools": [{"name": "mcp__test__screenshot", "input": {}}]}, {"text": "A red pixel."}], call_log=str(log)
    )
    chat = await env.new_chat(model)
    await env.trust_project()

    async def server_up() -> bool:
        listed = await control(
            env.bus, env.settings.daemon_id, "mcp.list", {"workspace": str(env.workspace)}, timeout=30
        )
        return bool(listed["servers"]) and all(s["status"] == "healthy" for s in listed["servers"])

    await eventually(server_up, timeout=60)
    await env.chats.send(chat.id, "take a screenshot")
    await env.finished(chat.id, timeout=60)

    tool_message = calls_in(log)[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    result, image = tool_message["blocks"]
    assert result["type"] == "tool_result" and "a red pixel" in result["text"]
    assert image == {
        "type": "image",
        "media_type": "image/png",
        "bytes": len(PNG),
        "tool_call_id": result["tool_call_id"],
        "tool_name": "mcp__test__screenshot",
    }
    # Clients see the image's type and size in the tool's data, not its bytes.
    [finished] = [u.payload for u in await env.updates(chat.id) if u.kind == "tool_finished"]
    assert finished["data"]["content"] == [{"type": "image", "mime_type": "image/png", "bytes": len(PNG)}]
