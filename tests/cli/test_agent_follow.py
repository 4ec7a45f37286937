"""`reliant chat --chat ID --agent AGENT` against a real api: one sub-agent followed — its transcript
so far, then its updates live — until it ends; ListMessages of one agent (and the chat's own
transcript without its agents' messages)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from embedded.ports import free_port
from reliant.db import agents as agents_db
from reliant.wire.v1 import agent_pb2 as apb
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1.agent_connect import AgentServiceClient
from reliant.wire.v1.chat_connect import ChatServiceClient
from tests.cli.test_agents_cli import reliant
from tests.conftest import Infra
from tests.worker.agent_env import agent_env


async def test_following_an_agent_draws_its_transcript_then_its_updates_until_it_ends(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        child = env.script(
            [
                {"text": "kid starts", "tools": [{"name": "shell", "input": {"command": "echo from-the-kid"}}]},
                {"text": "kid done"},
            ]
        )
        parent = env.script(
            [
                {"tools": [{"name": "spawn_agent", "input": {"task": "say hi", "name": "kid", "model": child}}]},
                {"text": "parent done"},
            ]
        )
        chat = await env.new_chat(parent)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "go")
        approval = await env.pending_approval(chat.id, timeout=60)  # the kid waits, mid-run
        [kid] = await agents_db.for_chat(env.db, chat.id)
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]
        code, out, err = await reliant("chat", "--chat", chat.id, "--agent", kid.id, "--wait-for-gate", *where)
        assert code == 3, err  # as `reliant chat --wait-for-gate`: the agent waits for an approval
        assert f"reliant approvals approve {approval.id}" in err and "kid starts" in out

        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reliant",
            "chat",
            "--chat",
            chat.id[:8],
            "--agent",
            kid.id[:6],
            *where,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stderr is not None
        seen = b""
        while b"kid starts" not in seen:  # its transcript so far is drawn before it goes on
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            assert line, f"ended early: {seen!r} {await proc.stderr.read()!r}"
            seen += line
        await env.gates.approve(approval.id)  # only now does the kid run its command and answer
        rest, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        out = (seen + rest).decode()
        assert proc.returncode == 0, err.decode()
        assert "kid starts" in out and "from-the-kid" in out and "kid done" in out, out
        assert "parent done" not in out, "the parent's answer is not the agent's"
        assert f"agent kid ({kid.id[:8]})" in err.decode() and "agent kid done" in err.decode()
        assert f"reliant approvals approve {approval.id}" in err.decode(), "what it waits for, and how to answer"
        await env.finished(chat.id, timeout=60)

        # An agent that has ended: its transcript, and the exit code of how it ended.
        code, out, err = await reliant("chat", "--chat", chat.id, "--agent", kid.id, *where)
        assert code == 0, err
        assert out.index("kid starts") < out.index("from-the-kid") < out.index("kid done")
        assert "parent done" not in out

        # A prefix of no agent's id (the kid's id is random: it may start with any one).
        none = next(p for p in ("fff", "000") if not kid.id.startswith(p))
        code, _, err = await reliant("chat", "--chat", chat.id, "--agent", none, *where)
        assert code == 1 and f"no agent id starts with {none} (see `reliant agents --chat {chat.id[:8]}`)" in err, err
        code, _, err = await reliant("chat", "--chat", chat.id, "--agent", "kid!", *where)
        assert code == 1 and "'kid!' is not a" in err and "ids are hexadecimal" in err, err
        code, _, err = await reliant("chat", "--agent", kid.id, *where)
        assert code == 1 and "give the chat with --chat ID" in err

        url = f"http://127.0.0.1:{env.settings.api_port}"
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        async with ChatServiceClient(url) as chats:
            own = await chats.list_messages(pb.ListMessagesRequest(chat_id=chat.id), headers=headers)
            texts = [b.text for m in own.messages for b in m.blocks if b.type == "text"]
            assert "parent done" in texts and "kid done" not in texts, "the chat's transcript leaves its agents out"
            of_kid = await chats.list_messages(
                pb.ListMessagesRequest(chat_id=chat.id, agent_id=kid.id), headers=headers
            )
            assert of_kid.resume_seq == own.resume_seq
            assert all(m.step.startswith(f"{kid.id}/") for m in of_kid.messages)
            [call] = [b for m in of_kid.messages for b in m.blocks if b.type == "tool_call"]
            assert (call.tool_state, call.tool_outcome) == ("completed", "ok"), "its call's state, on its thread"
            with pytest.raises(ConnectError) as missing:
                await chats.list_messages(
                    pb.ListMessagesRequest(chat_id=chat.id, agent_id="00000000-0000-0000-0000-000000000000"),
                    headers=headers,
                )
            assert missing.value.code is Code.NOT_FOUND
        async with AgentServiceClient(url) as agents:
            with pytest.raises(ConnectError, match="has no worktree") as no_diff:
                await agents.get_agent_diff(apb.GetAgentRequest(chat_id=chat.id, agent_id=kid.id), headers=headers)
            assert no_diff.value.code is Code.FAILED_PRECONDITION
