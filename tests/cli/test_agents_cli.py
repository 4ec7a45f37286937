"""`reliant agents --chat ID` against a real api: the tree of a chat's sub-agents."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from embedded.ports import free_port
from reliant.db import agents as agents_db
from reliant.db import budgets as budgets_db
from reliant.db import settings as settings_db
from reliant.domain.agents import AgentStatus
from reliant.domain.chat import AgentTag
from reliant.domain.workflows import run_workflow_id
from reliant.wire.v1 import agent_pb2 as apb
from reliant.wire.v1.agent_connect import AgentServiceClient
from tests.api.test_agent_worktrees import an_agent_with_work
from tests.conftest import Infra
from tests.worker.agent_env import agent_env
from tests.worker.test_agents import git, make_repo


async def reliant(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reliant", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_chat_id_that_names_no_chat_is_said_so_not_as_a_failed_call_to_the_api(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]
        for given, said in (
            ("nope", "'nope' is not a chat id: ids are hexadecimal (see `reliant chats`)"),
            ("fff", "no chat id starts with fff (see `reliant chats`)"),
        ):
            code, out, err = await reliant("agents", "--chat", given, *where)
            assert code == 1 and out == ""
            assert err.splitlines() == [f"error: {said}"]


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


async def test_reliant_agents_shows_the_budget_in_force_and_where_it_comes_from(infra: Infra, tmp_path: Path) -> None:
    """The chat's own budget is only one of three: `[budget] chat_usd` in reliant.toml and the
    settings screen's are in force too, and the chat spends against whichever applies."""
    async with agent_env(infra, tmp_path, api_port=free_port(), budget_chat_usd=5.0) as env:
        chat = await env.new_chat(env.script([{"text": "hi"}]))
        url = f"http://127.0.0.1:{env.settings.api_port}"
        where = ["--api-url", url, "--token", env.settings.api_token]
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        client = AgentServiceClient(url, proto_json=True, timeout_ms=30_000)

        async def shown() -> tuple[str, dict[str, object], apb.ListAgentsResponse]:
            code, out, err = await reliant("agents", "--chat", chat.id, *where)
            assert code == 0, err
            code, as_json, err = await reliant("agents", "--chat", chat.id, "--json", *where)
            assert code == 0, err
            listed = await client.list_agents(apb.ListAgentsRequest(chat_id=chat.id), headers=headers)
            return out.splitlines()[0], json.loads(as_json), listed

        line, tree, listed = await shown()
        assert line == f"chat {chat.id}: spent $0.0000 of $5.00 ([budget] in reliant.toml)"
        assert (tree["budget_usd"], tree["budget_in_force_usd"], tree["budget_source"]) == (None, 5.0, "config")
        assert not listed.HasField("budget_usd") and (listed.budget_in_force_usd, listed.budget_source) == (
            5.0,
            "config",
        )
        try:
            await settings_db.put(env.db, {budgets_db.CHAT_BUDGET_KEY: "2.5"})  # as the settings screen does
            line, tree, listed = await shown()
            assert line == f"chat {chat.id}: spent $0.0000 of $2.50 (the settings screen)"
            assert (listed.budget_in_force_usd, listed.budget_source) == (2.5, "api")
            await budgets_db.set_chat_budget(env.db, chat.id, 1.0)  # the chat's own, as PUT .../budget does
            line, tree, listed = await shown()
            assert line == f"chat {chat.id}: spent $0.0000 of $1.00 (this chat's own)"
            assert (tree["budget_usd"], tree["budget_in_force_usd"], tree["budget_source"]) == (1.0, 1.0, "chat")
            # 0 is no budget, in every layer, and a layer that sets it stands over those below: the
            # line says which 0 lifted reliant.toml's $5 (it used to say "(no budget)", and nothing more).
            await budgets_db.set_chat_budget(env.db, chat.id, 0.0)
            line, tree, listed = await shown()
            assert line == f"chat {chat.id}: spent $0.0000 (no budget: this chat's own is 0)"
            assert (tree["budget_usd"], tree["budget_in_force_usd"], tree["budget_source"]) == (0.0, 0.0, "chat")
            await settings_db.put(env.db, {budgets_db.CHAT_BUDGET_KEY: "0"})
            await budgets_db.set_chat_budget(env.db, chat.id, None)
            line, tree, listed = await shown()
            assert line == f"chat {chat.id}: spent $0.0000 (no budget: the settings screen's is 0)"
            assert (tree["budget_in_force_usd"], tree["budget_source"]) == (0.0, "api")
        finally:
            await settings_db.put(env.db, {budgets_db.CHAT_BUDGET_KEY: ""})  # the database is shared


async def test_an_agents_approval_is_tagged_with_it_answered_from_the_cli_and_connect_lists_the_agents(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        kid_log = env.scripts / "kid.log"
        child = env.script(
            [{"tools": [{"name": "shell", "input": {"command": f"echo once >> {kid_log}"}}]}, {"text": "kid done"}]
        )
        parent = env.script(
            [
                {"tools": [{"name": "spawn_agent", "input": {"task": "count once", "name": "kid", "model": child}}]},
                {"text": "parent done"},
            ]
        )
        chat = await env.new_chat(parent)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "go")
        approval = await env.pending_approval(chat.id, timeout=60)
        [kid] = await agents_db.for_chat(env.db, chat.id)
        assert approval.agent == AgentTag(kid.id, "kid", "count once")
        url = f"http://127.0.0.1:{env.settings.api_port}"
        where = ["--api-url", url, "--token", env.settings.api_token]
        code, out, err = await reliant("approvals", *where)
        assert code == 0, err
        assert f"agent kid ({kid.id[:8]}): count once" in out
        code, out, err = await reliant("approvals", "approve", approval.id, *where)
        assert code == 0, err
        await env.finished(chat.id, timeout=60)
        assert kid_log.read_text() == "once\n", "the answer reached the agent, which ran its command once"

        updates = await env.updates(chat.id)
        [asked] = [u.payload for u in updates if u.kind == "approval_requested"]
        assert asked["agent"] == {"agent_id": kid.id, "name": "kid", "task": "count once"}
        statuses = [u.payload for u in updates if u.kind == "agent_status"]
        assert [s["agent_id"] for s in statuses] == [kid.id, kid.id], "one after each of the kid's model calls"

        client = AgentServiceClient(url, proto_json=True, timeout_ms=30_000)
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        listed = await client.list_agents(apb.ListAgentsRequest(chat_id=chat.id), headers=headers)
        assert [(a.name, a.status, a.depth, a.parent_agent_id) for a in listed.agents] == [("kid", "done", 1, "")]
        assert not listed.HasField("budget_usd")
        got = await client.get_agent(apb.GetAgentRequest(chat_id=chat.id, agent_id=kid.id), headers=headers)
        assert (got.text, got.task, got.finished_unix > got.created_unix > 0) == ("kid done", "count once", True)
        with pytest.raises(ConnectError) as missing:
            await client.get_agent(apb.GetAgentRequest(chat_id=chat.id, agent_id="nobody"), headers=headers)
        assert missing.value.code is Code.NOT_FOUND
        with pytest.raises(ConnectError, match="has no worktree") as refused:
            await client.set_worktree(
                apb.SetWorktreeRequest(chat_id=chat.id, agent_id=kid.id, action="merge"), headers=headers
            )
        assert refused.value.code is Code.FAILED_PRECONDITION


async def test_an_approval_raised_by_a_grandchild_answered_from_the_cli_reaches_the_grandchild_only(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        grand_log = env.scripts / "grand.log"
        grand = env.script(
            [{"tools": [{"name": "shell", "input": {"command": f"echo once >> {grand_log}"}}]}, {"text": "grand done"}]
        )
        kid_log = env.scripts / "kid.jsonl"
        kid = env.script(
            [
                {"tools": [{"name": "spawn_agent", "input": {"task": "count once", "name": "grand", "model": grand}}]},
                {"text": "kid: ${result}"},
            ],
            call_log=str(kid_log),
        )
        parent = env.script(
            [
                {"tools": [{"name": "spawn_agent", "input": {"task": "delegate", "name": "kid", "model": kid}}]},
                {"text": "parent: ${result}"},
            ]
        )
        chat = await env.new_chat(parent)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "go")
        approval = await env.pending_approval(chat.id, timeout=60)
        by_name = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
        grandchild = by_name["grand"]
        assert (grandchild.depth, grandchild.parent_id) == (2, by_name["kid"].id)
        assert approval.agent == AgentTag(grandchild.id, "grand", "count once")
        assert approval.workflow_id == run_workflow_id(chat.id, grandchild.id)
        url = f"http://127.0.0.1:{env.settings.api_port}"
        where = ["--api-url", url, "--token", env.settings.api_token]
        code, out, err = await reliant("approvals", "--chat", chat.id, *where)
        assert code == 0, err
        assert f"agent grand ({grandchild.id[:8]}): count once" in out and "agent kid" not in out
        code, out, err = await reliant("approvals", "approve", approval.id[:8], *where)
        assert (code, out) == (0, "approved\n"), err
        await env.finished(chat.id, timeout=60)
        assert grand_log.read_text() == "once\n", "the grandchild ran its command, once"
        done = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
        assert [(n, done[n].status) for n in ("grand", "kid")] == [
            ("grand", AgentStatus.DONE),
            ("kid", AgentStatus.DONE),
        ]
        assert done["grand"].text == "grand done" and "grand done" in done["kid"].text
        # The answer went to the grandchild only: the kid's model never saw a shell call of its own.
        kid_calls = [json.loads(line) for line in kid_log.read_text().splitlines()]
        kid_tools = [
            b["tool_name"] for c in kid_calls for m in c["messages"] for b in m["blocks"] if b["type"] == "tool_call"
        ]
        assert set(kid_tools) == {"spawn_agent"}
        resolved = [u.payload for u in await env.updates(chat.id) if u.kind == "approval_resolved"]
        assert len(resolved) == 1 and resolved[0]["approval_id"] == approval.id
        assert await env.gates.pending_approvals(chat.id) == []


async def test_reliant_agents_merges_an_agents_worktree_and_reports_a_conflict(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        make_repo(env.workspace)
        spawns = [
            {
                "name": "spawn_agent",
                "input": {
                    "task": f"write {n}",
                    "name": n,
                    "worktree": True,
                    "model": env.script(
                        [{"tools": [{"name": "shell", "input": {"command": f"echo {n} > {f}"}}]}, {"text": "ok"}]
                    ),
                },
            }
            for n, f in (("one", "one.txt"), ("two", "README.md"))
        ]
        chat = await env.new_chat(env.script([{"tools": spawns}, {"text": "done"}]))
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id, timeout=90)
        by_name = {a.name: a for a in await agents_db.for_chat(env.db, chat.id)}
        (env.workspace / "README.md").write_text("main\n")
        git(env.workspace, "commit", "-qam", "main moves on")
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]
        code, out, err = await reliant("agents", "--chat", chat.id, "--merge", by_name["one"].id[:8], *where)
        assert code == 0, err
        assert out == f"agent one ({by_name['one'].id[:8]}): worktree merged: one.txt\n"
        assert (env.workspace / "one.txt").read_text() == "one\n"
        code, out, err = await reliant("agents", "--chat", chat.id, "--merge", by_name["two"].id, *where)
        assert code == 1 and "not merged, nothing changed" in err and "README.md" in err, err
        assert (env.workspace / "README.md").read_text() == "main\n"
        mine = Path(by_name["two"].worktree_path) / "mine.txt"
        mine.write_text("the user's\n")  # uncommitted: a removal refuses it unless --force
        code, out, err = await reliant("agents", "--chat", chat.id, "--remove", by_name["two"].id, *where)
        assert code == 1 and "uncommitted changes to 1 file (mine.txt)" in err and "--force" in err, err
        assert mine.read_text() == "the user's\n"
        code, out, err = await reliant("agents", "--chat", chat.id, "--merge", by_name["two"].id, "--force", *where)
        assert code != 0 and "--force goes with --remove" in err, err
        code, out, err = await reliant("agents", "--chat", chat.id, "--remove", by_name["two"].id, "--force", *where)
        assert code == 0 and "worktree removed" in out, err
        assert not mine.exists()


async def test_a_blank_agent_id_settles_no_worktree_and_a_prefix_in_capitals_names_its_agent(
    infra: Infra, tmp_path: Path
) -> None:
    """`--remove " "` names no agent (it used to match every id, and so removed the worktree of a
    chat's only agent); a prefix is read in either case, as the api reads a whole id."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        where = ["--api-url", f"http://127.0.0.1:{env.settings.api_port}", "--token", env.settings.api_token]

        code, out, err = await reliant("agents", "--chat", chat_id, "--remove", " ", *where)

        assert (code, out, err.splitlines()) == (1, "", ["error: give the agent's id (or the start of it)"])
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None and agent.worktree_state == "active" and Path(agent.worktree_path).exists()
        code, out, err = await reliant("agents", "--chat", chat_id, "--keep", agent_id[:8].upper(), *where)
        assert (code, out) == (0, f"agent A ({agent_id[:8]}): worktree kept\n"), err
