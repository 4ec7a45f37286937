"""A sub-agent's worktree settled over REST (POST /api/chats/{chat}/agents/{agent}/worktree) against
the real worker, daemon and git: what the answer says is what happened, and what the agent's record
says is what the repository holds."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx

from embedded.ports import free_port
from reliant.db import agents as agents_db
from tests.conftest import Infra
from tests.worker.agent_env import AgentEnv, agent_env
from tests.worker.test_agents import an_agent_of_a_chat_in_a_worktree, make_repo, spawn


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


async def an_agent_with_work(env: AgentEnv, command: str = "echo a > a.txt") -> tuple[str, str]:
    """A chat whose one sub-agent, A, ran `command` (wrote a.txt) in a worktree of its own, and
    ended: (chat, agent) ids."""
    make_repo(env.workspace)
    child = env.script([{"tools": [{"name": "shell", "input": {"command": command}}]}, {"text": "A"}])
    parent = env.script([{"tools": [spawn("work", child, name="A", worktree=True)]}, {"text": "ok"}])
    chat = await env.new_chat(parent)
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id, timeout=90)
    [agent] = await agents_db.for_chat(env.db, chat.id)
    return chat.id, agent.id


async def post(env: AgentEnv, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"authorization": f"Bearer {env.settings.api_token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env.settings.api_port}", timeout=60) as client:
        return await client.post(path, json=body, headers=headers)


async def test_a_merge_whose_worktree_cannot_be_removed_is_recorded_as_the_merge_it_was(
    infra: Infra, tmp_path: Path
) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None and agent.worktree_state == "active"
        git(env.workspace, "worktree", "lock", agent.worktree_path)  # `worktree remove --force` now refuses
        before = git(env.workspace, "rev-parse", "HEAD")

        answer = await post(env, f"/api/chats/{chat_id}/agents/{agent_id}/worktree", {"action": "merge"})

        head = git(env.workspace, "rev-parse", "HEAD")
        assert head != before and (env.workspace / "a.txt").read_text() == "a\n", "the work was merged"
        assert answer.status_code == 409, answer.text
        assert f"merged as {head[:12]}" in answer.json()["detail"], "the answer says the merge was made"
        assert "locked" in answer.json()["detail"], "and why the worktree is left"
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None
        assert (recorded.worktree_state, recorded.worktree_commit) == ("merged", head), "the record says so too"
        again = await post(env, f"/api/chats/{chat_id}/agents/{agent_id}/worktree", {"action": "merge"})
        assert again.status_code == 409 and "merged already" in again.json()["detail"]
        assert git(env.workspace, "rev-parse", "HEAD") == head


async def test_a_worktree_left_after_a_merge_can_be_removed_forced_over_changes_made_since(
    infra: Infra, tmp_path: Path
) -> None:
    """The merge was made but its worktree was left (locked), and the user then wrote notes.txt in
    it: a removal is refused naming the file, unless forced; forced, it takes the worktree, the
    agent still recorded as the merge it was, and another removal says it is gone. The api used to
    refuse any removal of a merged agent's worktree ("merged already"): only git by hand was left."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None
        path = Path(agent.worktree_path)
        git(env.workspace, "worktree", "lock", str(path))
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"
        assert (await post(env, where, {"action": "merge"})).status_code == 409, "merged, the worktree left"
        head = git(env.workspace, "rev-parse", "HEAD")
        git(env.workspace, "worktree", "unlock", str(path))
        (path / "notes.txt").write_text("the user's notes\n")

        refused = await post(env, where, {"action": "remove"})

        assert refused.status_code == 409, refused.text
        assert "uncommitted changes to 1 file (notes.txt)" in refused.json()["detail"], refused.text
        assert (path / "notes.txt").read_text() == "the user's notes\n"

        forced = await post(env, where, {"action": "remove", "force": True})

        assert forced.status_code == 200, forced.text
        assert forced.json()["worktree"]["state"] == "merged", "still recorded as the merge it was"
        assert not path.exists() and git(env.workspace, "branch", "--list", agent.worktree_branch) == ""
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None and (recorded.worktree_state, recorded.worktree_commit) == ("merged", head)
        gone = await post(env, where, {"action": "remove"})
        assert gone.status_code == 409 and "is gone" in gone.json()["detail"], gone.text


async def test_removing_an_agents_worktree_with_uncommitted_changes_is_refused_unless_forced(
    infra: Infra, tmp_path: Path
) -> None:
    """The agent wrote a.txt and the user then edited notes.txt in its worktree: a removal is refused
    (409), naming how many files and how to force it, and deletes nothing; forced, it removes the
    worktree, its branch and the changes. It used to remove them all without a word."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None
        path = Path(agent.worktree_path)
        (path / "notes.txt").write_text("the user's notes\n")
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"

        refused = await post(env, where, {"action": "remove"})

        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "uncommitted changes to 2 files (a.txt, notes.txt)" in detail, detail
        assert "force: true" in detail and "reliant agents --remove AGENT --force" in detail, detail
        assert (path / "notes.txt").read_text() == "the user's notes\n" and (path / "a.txt").exists()
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None and recorded.worktree_state == "active"
        wrong = await post(env, where, {"action": "keep", "force": True})
        assert wrong.status_code == 400 and "force" in wrong.json()["detail"], wrong.text

        forced = await post(env, where, {"action": "remove", "force": True})

        assert forced.status_code == 200 and forced.json()["worktree"]["state"] == "removed", forced.text
        assert not path.exists() and git(env.workspace, "branch", "--list", agent.worktree_branch) == ""


async def test_the_merge_of_an_agent_spawned_in_a_chats_worktree_lands_there_not_in_the_project(
    infra: Infra, tmp_path: Path
) -> None:
    """A chat working in a worktree of its own commits chat.txt and spawns an agent in a worktree,
    which reads and changes it: over REST the agent's work is merged into the chat's worktree (over
    the chat's uncommitted change to the same file, refused), and the project's checkout keeps its
    files and HEAD."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat, agent, mine = await an_agent_of_a_chat_in_a_worktree(env, "echo agent >> chat.txt")
        head = git(env.workspace, "rev-parse", "HEAD")
        where = f"/api/chats/{chat.id}/agents/{agent.id}/worktree"
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env.settings.api_port}", headers=headers) as client:
            shown = (await client.get(f"/api/chats/{chat.id}/agents/{agent.id}")).json()["worktree"]
        assert shown["into"] == str(mine), "clients are told where a merge goes"
        (mine / "chat.txt").write_text("the user's edit\n")

        refused = await post(env, where, {"action": "merge"})

        assert refused.status_code == 409 and "uncommitted changes" in refused.json()["detail"], refused.text
        assert "chat.txt" in refused.json()["detail"] and (mine / "chat.txt").read_text() == "the user's edit\n"
        git(mine, "checkout", "--", "chat.txt")
        merged = await post(env, where, {"action": "merge"})
        assert merged.status_code == 200 and merged.json()["worktree"]["state"] == "merged", merged.text
        assert (mine / "chat.txt").read_text() == "chat\nagent\n", "merged into the chat's worktree"
        assert git(mine, "rev-parse", "HEAD") == merged.json()["commit"]
        assert git(env.workspace, "rev-parse", "HEAD") == head and not (env.workspace / "chat.txt").exists()
        assert git(env.workspace, "status", "--porcelain") == ""


async def test_an_agent_is_found_by_its_id_in_any_case_as_its_chat_is(infra: Infra, tmp_path: Path) -> None:
    """Ids are UUIDs: the chat's is taken in capitals, and so is its agent's (its messages already
    were), rather than a 404 for an agent that is there."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        base = f"http://127.0.0.1:{env.settings.api_port}/api/chats/{chat_id.upper()}"
        async with httpx.AsyncClient(timeout=60, headers=headers) as client:
            messages = await client.get(f"{base}/messages", params={"agent": agent_id.upper()})
            assert messages.status_code == 200 and messages.json(), messages.text
            got = await client.get(f"{base}/agents/{agent_id.upper()}")
            assert got.status_code == 200 and got.json()["agent_id"] == agent_id, got.text
            diff = await client.get(f"{base}/agents/{agent_id.upper()}/diff")
            assert diff.status_code == 200 and diff.json()["files"] == ["a.txt"], diff.text


async def test_a_kept_worktree_can_still_be_merged_later_but_not_kept_twice(infra: Infra, tmp_path: Path) -> None:
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"

        kept = await post(env, where, {"action": "keep"})
        assert kept.status_code == 200 and kept.json()["worktree"]["state"] == "kept", kept.text
        again = await post(env, where, {"action": "keep"})
        assert again.status_code == 409 and "kept already" in again.json()["detail"], again.text

        merged = await post(env, where, {"action": "merge"})
        assert merged.status_code == 200 and merged.json()["worktree"]["state"] == "merged", merged.text
        assert (env.workspace / "a.txt").read_text() == "a\n"
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None and not Path(recorded.worktree_path).exists()
        assert recorded.worktree_commit == git(env.workspace, "rev-parse", "HEAD")
        removed = await post(env, where, {"action": "remove"})
        assert removed.status_code == 409 and "merged already" in removed.json()["detail"], removed.text


async def test_a_merge_of_an_agent_that_changed_nothing_says_so_and_changes_nothing(
    infra: Infra, tmp_path: Path
) -> None:
    """An agent whose worktree holds no work (no commit, no edit) has nothing to merge: the answer
    says so, and its worktree stays for the user to remove (it used to be recorded "merged", as the
    project's own last commit, which it never made)."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env, "cat README.md")
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None
        before = git(env.workspace, "rev-parse", "HEAD")
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"

        answer = await post(env, where, {"action": "merge"})

        assert answer.status_code == 409, answer.text
        assert answer.json()["detail"] == "nothing to merge: agent A changed nothing in its worktree", answer.text
        assert git(env.workspace, "rev-parse", "HEAD") == before
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None and (recorded.worktree_state, recorded.worktree_commit) == ("active", "")
        assert Path(agent.worktree_path).exists()
        removed = await post(env, where, {"action": "remove"})
        assert removed.status_code == 200 and removed.json()["worktree"]["state"] == "removed", removed.text


async def test_a_merge_and_a_remove_of_one_worktree_at_once_do_one_thing_and_the_other_says_so(
    infra: Infra, tmp_path: Path
) -> None:
    """Two clients settle one agent's worktree at the same moment, one merging, one removing: one
    is done and answered 200, the other is refused (409) saying what became of it, and the record
    says what the repository holds (both used to run, both answered 200, whichever recorded first
    stood: "removed" over a merge made, or "merged" over a branch deleted)."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"

        merge, remove = await asyncio.gather(
            post(env, where, {"action": "merge"}), post(env, where, {"action": "remove", "force": True})
        )

        answers = sorted([merge.status_code, remove.status_code])
        assert answers == [200, 409], (merge.text, remove.text)
        done, refused = (merge, remove) if merge.status_code == 200 else (remove, merge)
        assert refused.json()["detail"].startswith("agent A's worktree is "), refused.text
        recorded = await agents_db.get(env.db, agent_id)
        assert recorded is not None and recorded.worktree_state == done.json()["worktree"]["state"]
        merged = (env.workspace / "a.txt").exists()
        assert merged == (recorded.worktree_state == "merged"), "the record says what the repository holds"
        assert not Path(recorded.worktree_path).exists()


async def test_a_worktree_the_user_removed_with_git_is_said_gone_and_can_still_be_removed(
    infra: Infra, tmp_path: Path
) -> None:
    """The user removed an agent's worktree with git themselves: a merge says it is gone (it used to
    answer "cannot run git: No such file or directory"), and a remove records it removed and takes
    its branch, as a remove does (it used to fail on git's "is not a working tree" for ever, the
    worktree shown active with nothing left to settle it)."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None
        git(env.workspace, "worktree", "remove", "--force", agent.worktree_path)
        where = f"/api/chats/{chat_id}/agents/{agent_id}/worktree"

        merged = await post(env, where, {"action": "merge"})
        assert merged.status_code == 409, merged.text
        assert merged.json()["detail"] == f"the worktree {agent.worktree_path} is gone: there is nothing to merge"
        removed = await post(env, where, {"action": "remove"})

        assert removed.status_code == 200 and removed.json()["worktree"]["state"] == "removed", removed.text
        assert git(env.workspace, "branch", "--list", agent.worktree_branch) == ""
        assert git(env.workspace, "worktree", "list", "--porcelain").count("worktree ") == 1


async def test_the_diff_of_a_worktree_the_user_removed_with_git_says_it_is_gone(infra: Infra, tmp_path: Path) -> None:
    """The agent's view asks for its diff: a worktree removed outside reliant is said gone (it used to
    be "cannot run git: No such file or directory")."""
    async with agent_env(infra, tmp_path, api_port=free_port()) as env:
        chat_id, agent_id = await an_agent_with_work(env)
        agent = await agents_db.get(env.db, agent_id)
        assert agent is not None
        git(env.workspace, "worktree", "remove", "--force", agent.worktree_path)
        headers = {"authorization": f"Bearer {env.settings.api_token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{env.settings.api_port}", timeout=60) as client:
            diff = await client.get(f"/api/chats/{chat_id}/agents/{agent_id}/diff", headers=headers)

        assert diff.status_code == 409, diff.text
        assert diff.json()["detail"] == f"the worktree {agent.worktree_path} is gone", diff.text
