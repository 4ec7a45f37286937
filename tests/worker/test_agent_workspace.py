"""The agent loop with MCP servers and worktrees: a real MCP server's tools are offered to the model,
a scripted chat calls one and its result reaches the model; a chat with a worktree works there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reliant.clients.daemons import control
from reliant.db import messages as messages_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import Role, ToolState
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in

TEST_SERVER = str(Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py")


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


async def configure_mcp(env: AgentEnv) -> None:
    """The project's MCP servers, trusted by the user as they are (through the daemon's control)."""
    workspace = env.workspace
    (workspace / ".reliant").mkdir(exist_ok=True)
    (workspace / ".reliant" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "test": {"command": sys.executable, "args": [TEST_SERVER]},
                    "time": {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]},
                }
            }
        )
    )
    await env.chats.create_project(str(workspace), daemon_id=env.settings.daemon_id)
    await env.trust_project()


async def test_a_scripted_chat_calls_mcp_tools_and_gets_their_results(env: AgentEnv) -> None:
    await configure_mcp(env)
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [
            {"tools": [{"name": "mcp__test__add", "input": {"a": 20, "b": 22}}]},
            {
                "tools": [
                    {
                        "name": "mcp__time__convert_time",
                        "input": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                    }
                ]
            },
            {"tools": [{"name": "mcp__test__crash", "input": {}}]},
            {"text": "The sum is 42."},
        ],
        call_log=str(log),
    )
    chat = await env.new_chat(model)

    async def servers_up() -> bool:  # project open started them; a loaded machine may take a while
        listed = await control(
            env.bus, env.settings.daemon_id, "mcp.list", {"workspace": str(env.workspace)}, timeout=30
        )
        return all(s["status"] == "healthy" for s in listed["servers"])

    await eventually(servers_up, timeout=60)
    await env.chats.send(chat.id, "add 20 and 22")
    await env.finished(chat.id, timeout=60)

    offered = calls_in(log)[0]["tools"]
    assert {"mcp__test__add", "mcp__test__echo", "mcp__time__get_current_time", "mcp__time__convert_time"} <= set(
        offered
    )
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER] + [Role.ASSISTANT, Role.TOOL] * 3 + [Role.ASSISTANT]
    added, converted, crashed = (transcript[i].blocks[0] for i in (2, 4, 6))
    assert added.text == "42" and not added.is_error
    assert "21:00" in converted.text and not converted.is_error
    assert crashed.is_error and "stopped during the call to crash" in crashed.text
    runs = {r.tool_name: r for r in (await tool_runs_db.for_chat(env.db, chat.id)).values()}
    assert runs["mcp__test__add"].state is ToolState.COMPLETED and runs["mcp__test__add"].read_only is False
    assert runs["mcp__time__convert_time"].read_only is True  # the server's readOnlyHint
    assert runs["mcp__test__crash"].state is ToolState.FAILED


async def test_disabling_and_enabling_an_mcp_server_reaches_the_next_turn(env: AgentEnv) -> None:
    # The worker caches tool listings for 30 s; the daemon's mcp.changed event must drop them at once.
    await configure_mcp(env)
    log = env.scripts / "calls.jsonl"
    model = env.script([{"text": "one"}, {"text": "two"}, {"text": "three"}], call_log=str(log))
    chat = await env.new_chat(model)
    ws = {"workspace": str(env.workspace)}

    async def test_server(status: str) -> bool:
        listed = await control(env.bus, env.settings.daemon_id, "mcp.list", ws, timeout=30)
        return any(s["name"] == "test" and s["status"] == status for s in listed["servers"])

    async def turn(text: str, n: int) -> set[str]:
        await env.chats.send(chat.id, text)
        await eventually(lambda: len(calls_in(log)) >= n, timeout=60)
        await env.finished(chat.id, timeout=60)
        return {t for t in calls_in(log)[n - 1]["tools"] if t.startswith("mcp__test__")}

    await eventually(lambda: test_server("healthy"), timeout=60)
    assert "mcp__test__add" in await turn("first", 1)

    await control(env.bus, env.settings.daemon_id, "mcp.disable", {**ws, "name": "test"}, timeout=30)
    assert await turn("second", 2) == set()

    await control(env.bus, env.settings.daemon_id, "mcp.enable", {**ws, "name": "test"}, timeout=30)
    await eventually(lambda: test_server("healthy"), timeout=60)
    assert "mcp__test__add" in await turn("third", 3)


async def test_a_chat_with_a_worktree_runs_its_tools_there(env: AgentEnv) -> None:
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "t@example.test"],
        ["config", "user.name", "T"],
    ):
        subprocess.run(["git", *args], cwd=env.workspace, check=True)
    (env.workspace / "notes.txt").write_text("main\n")
    subprocess.run(["git", "add", "."], cwd=env.workspace, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "first"], cwd=env.workspace, check=True)
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [{"tools": [{"name": "shell", "input": {"command": "pwd; echo chat > notes.txt"}}]}, {"text": "done"}],
        call_log=str(log),
    )
    chat = await env.new_chat(model)
    mine = await env.chat_worktree(chat)
    await env.chats.send(chat.id, "write to notes")
    await env.finished(chat.id, timeout=60)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert transcript[2].blocks[0].text.splitlines()[0] == str(mine)
    assert (mine / "notes.txt").read_text() == "chat\n"
    assert (env.workspace / "notes.txt").read_text() == "main\n"
    assert str(mine) in calls_in(log)[0]["system"]
