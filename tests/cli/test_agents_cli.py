"""`reliant agents --chat ID` against a real api: the tree of a chat's sub-agents."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from embedded.ports import free_port
from tests.conftest import Infra
from tests.worker.agent_env import agent_env


async def reliant(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reliant", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_reliant_agents_draws_the_tree_with_status_and_cost(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        grand = env.script([{"text": "leaf"}])
        child = env.script(
            [{"tools": [{"name": "spawn_agent", "input": {"task": "t2", "name": "leaf", "model": grand}}]}]
        )
        parent = env.script(
            [{"tools": [{"name": "spawn_agent", "input": {"task": "t1", "name": "mid", "model": child}}]}]
        )
        chat = await env.new_chat(parent)
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id, timeout=60)
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]
        code, out, err = await reliant("agents", "--chat", chat.id, *where)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith(f"chat {chat.id}: spent $0.0000")
        assert "  mid  done  $0.0000" in lines[1] and lines[1].startswith("  ")
        assert "  leaf  done" in lines[2] and lines[2].startswith("    "), "a grandchild is drawn under its parent"
        code, out, _ = await reliant("agents", "--chat", chat.id, "--json", *where)
        tree = json.loads(out)
        assert [(a["name"], a["depth"]) for a in tree["agents"]] == [("mid", 1), ("leaf", 2)]
        code, _, err = await reliant("agents", "--chat", "00000000-0000-0000-0000-000000000000", *where)
        assert code == 1 and "not found" in err
