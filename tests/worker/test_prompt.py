"""What the model is told, checked where it arrives (the scripted model's call log), with a real
daemon reading real files and git: the guidance, the environment, the instruction files in effect
(the project's, those above it, a subdirectory's once the agent works there), and a prompt that
stays the same from turn to turn."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reliant.domain.context import ChatContext
from reliant.worker.prompts import PROMPT_VERSION, build_system_prompt
from reliant.worker.prompts.guidance import MODES, guidance
from tests.conftest import Infra
from tests.worker.agent_env import AgentEnv, agent_env, calls_in


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


# Each mode's guidance as of PROMPT_VERSION (the first 16 hex digits of its SHA-256).
PINNED_GUIDANCE = (2, {"auto": "be854d90f87ef387", "manual": "63a0f9c7cec6b367", "plan": "f911d61c9ab8cd22"})


def test_the_guidance_cannot_change_without_a_new_prompt_version() -> None:
    digests = {mode: hashlib.sha256(guidance(mode).encode()).hexdigest()[:16] for mode in MODES}
    version, pinned = PINNED_GUIDANCE
    if digests != pinned:
        assert version != PROMPT_VERSION, (
            f"the guidance of {', '.join(m for m in MODES if digests.get(m) != pinned.get(m))} changed but "
            f"PROMPT_VERSION is still {version}: bump it (reliant/worker/prompts/__init__.py, saying why), "
            f"then pin the new text here: PINNED_GUIDANCE = ({version + 1}, {digests})"
        )
    assert (PROMPT_VERSION, digests) == (version, pinned), (
        f"PROMPT_VERSION is {PROMPT_VERSION}: pin the guidance it stands for here: "
        f"PINNED_GUIDANCE = ({PROMPT_VERSION}, {digests})"
    )


def git(cwd: Path, *args: str) -> None:
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    subprocess.run(["git", *identity, *args], cwd=cwd, capture_output=True, check=True)


def stable_part(call: dict[str, Any]) -> str:
    system, context = call["system"], call["context"]
    assert system.endswith("\n\n" + context), "the per-chat part comes after the stable one"
    return str(system[: -len(context) - 2])


async def test_the_model_gets_the_guidance_the_environment_and_the_instructions(env: AgentEnv) -> None:
    ws = env.workspace
    (ws.parent / "AGENTS.md").write_text("Parent rule: use British spelling.\n")
    (ws / "AGENTS.md").write_text("Project rule: run `make check` before you finish.\n")
    (ws / "api").mkdir()
    (ws / "api" / "AGENTS.md").write_text("API rule: every handler has a test.\n")
    (ws / "api" / "handlers.py").write_text("def handle():\n    return 1\n")
    (ws / "docs").mkdir()
    (ws / "docs" / "AGENTS.md").write_text("Docs rule: never read\n")
    git(ws, "init", "-q", "--initial-branch=topic")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "start")
    (ws / "scratch.txt").write_text("untracked\n")
    log = env.scripts / "calls.jsonl"
    model = env.script(
        [
            {"text": "Reading.", "tools": [{"name": "view", "input": {"path": "api/handlers.py"}}]},
            {"text": "Done."},
        ],
        call_log=str(log),
    )
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "look at the api")
    await env.finished(chat.id)

    first, second = calls_in(log)
    system = first["system"]
    # The guidance: how to use each tool well, care with the user's work, asking, reporting.
    for phrase in (
        "Search first",
        "`view` before `edit` or `write`",
        "Prefer `edit` to `write`",
        "run the project's tests",
        "Never commit, push",
        "ask with `ask_user`",
        "Keep the user informed briefly",
        "# Mode: auto",
    ):
        assert phrase in system, phrase
    # The environment, taken by the daemon.
    context = first["context"]
    assert f"working directory {ws}" in context
    assert "- OS: Linux" in context and "- Shell: bash" in context and "Today's date: 20" in context
    assert "on branch topic at " in context and "1 changed or untracked entries" in context
    assert "?? scratch.txt" in context
    assert "api/\n  AGENTS.md\n  handlers.py" in context, "the top of the project tree"
    # The instruction files: the parent's before the project's, the subdirectory's only once worked in.
    assert context.index("Parent rule") < context.index("Project rule")
    assert "API rule" not in context and "Docs rule" not in context
    assert "API rule: every handler has a test." in second["context"] and "Docs rule" not in second["context"]
    # The stable part is the same on both turns (and has nothing of this project in it).
    assert stable_part(first) == stable_part(second) == guidance("auto")
    assert str(ws) not in stable_part(first)

    logged = await env.updates(chat.id)
    updates = [u.payload for u in logged if u.kind == "context"]
    [thread] = {u.payload["message"]["thread_id"] for u in logged if u.kind == "message_completed"}
    assert [u["thread_id"] for u in updates] == [thread, thread], "whose call took it: a client tells agents apart"
    assert [[f["shown"] for f in u["instructions"]] for u in updates] == [
        ["AGENTS.md", str(ws.parent / "AGENTS.md")],
        ["AGENTS.md", str(ws.parent / "AGENTS.md"), "api/AGENTS.md"],
    ]
    assert all(u["prompt_version"] == PROMPT_VERSION for u in updates)
    assert updates[0]["environment"]["git"]["branch"] == "topic"
    assert "content" not in updates[0]["instructions"][0], "the update names the files; the prompt has them"


async def test_a_chat_keeps_its_snapshot_and_a_new_chat_takes_a_fresh_one(env: AgentEnv) -> None:
    ws = env.workspace
    git(ws, "init", "-q", "--initial-branch=main")
    log = env.scripts / "calls.jsonl"
    model = env.script([{"text": "one"}, {"text": "two"}], call_log=str(log))
    first_chat = await env.new_chat(model)
    await env.chats.send(first_chat.id, "first")
    await env.finished(first_chat.id)
    (ws / "AGENTS.md").write_text("Added later.\n")
    (ws / "new.txt").write_text("x\n")
    await env.chats.send(first_chat.id, "second")
    await env.finished(first_chat.id)
    other = await env.new_chat(model)
    await env.chats.send(other.id, "third")
    await env.finished(other.id)

    one, two, three = calls_in(log)
    assert one["system"] == two["system"], "the same prompt on every turn of a chat: the provider's cache holds"
    assert "Added later." not in two["context"] and "?? new.txt" not in two["context"]
    assert "Added later." in three["context"] and "?? new.txt" in three["context"]
    assert stable_part(one) == stable_part(three)


async def test_plan_and_manual_modes_have_their_own_stable_part(env: AgentEnv) -> None:
    log = env.scripts / "calls.jsonl"
    model = env.script([{"text": "a plan"}], call_log=str(log))
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    [call] = calls_in(log)
    assert (
        stable_part(call) == guidance("manual") and "approves every tool call that changes something" in call["system"]
    )


def test_the_prompt_builder_is_a_pure_function_of_its_inputs(tmp_path: Path) -> None:
    from reliant.domain.chat import Project

    project = Project("p", "shop", "d", str(tmp_path), 0.0)
    ctx = ChatContext(workspace=str(tmp_path), environment=None)
    a = build_system_prompt(project, mode="plan", environment=ctx.environment, extra="Be terse.")
    b = build_system_prompt(project, mode="plan", environment=ctx.environment, extra="Be terse.")
    assert a == b and a.stable.endswith("\n\nBe terse.") and "# Mode: plan" in a.stable
    assert a.version == PROMPT_VERSION
    custom = build_system_prompt(project, base="You review code.")
    assert custom.stable == "You review code." and "'shop'" in custom.context
