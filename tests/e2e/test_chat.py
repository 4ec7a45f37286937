"""`reliant chat` against `reliant up --demo`: the demo task runs for real on disk."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def appliance(tmp_path: Path) -> Appliance:
    up = Appliance(tmp_path / "data", env=clean_env(), extra=("--demo",))
    yield up
    if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
        up.stop()


def demo_command(appliance: Appliance) -> Path:
    """`reliant up --demo` prints the command to try; its project is a git repository."""
    appliance.proc.wait_for_output("Demo project ready at")  # type: ignore[union-attr]
    appliance.proc.wait_for_output("Worktree tab")  # type: ignore[union-attr]
    output = appliance.proc.output()  # type: ignore[union-attr]
    command = re.search(r"reliant chat --project (\S+) --model scripted:demo \"Fix the failing test\"", output)
    assert command, output
    assert "a git repository with a failing test" in output and "fresh git worktree" in output
    return Path(command.group(1))


def run_tests(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "test_leapyear.py"], cwd=directory, capture_output=True, text=True)


def worktrees(appliance: Appliance, project: Path) -> list[Path]:
    listed = appliance.cli("worktree", "list", "--project", str(project))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    names = set(re.findall(r"(chat-[0-9a-f]{8})", listed.stdout))
    return sorted(project / ".reliant" / "worktrees" / name for name in names)


def test_the_demo_chat_works_every_time_each_in_a_fresh_worktree(appliance: Appliance) -> None:
    appliance.start()
    project = demo_command(appliance)

    first = appliance.cli("chat", "--project", str(project), "--model", "scripted:demo", "Fix the failing test")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "● shell python3" in first.stdout and "● edit" in first.stdout
    assert "All five tests pass" in first.stdout
    # The second run works as well: it starts from the failing test again, in its own worktree.
    # `@path` attaches a file; one that does not exist is said, not dropped.
    second = appliance.cli(
        "chat", "--project", str(project), "--model", "scripted:demo", "Fix the failing test in @leapyear.py (@nope.py)"
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "@nope.py not attached: no such file in the project: nope.py" in second.stderr
    assert "All five tests pass" in second.stdout and "did not go through" not in second.stdout
    assert "  └ ✗ exit 1 (" in second.stdout, "the tests failed before the fix, in this chat too"
    assert "ok exit" not in second.stdout

    trees = worktrees(appliance, project)
    assert len(trees) == 2
    for tree in trees:
        assert run_tests(tree).returncode == 0, "each chat's fix is in its worktree"
    assert run_tests(project).returncode != 0, "the demo project itself still has the bug"

    listed = appliance.cli("chats")
    assert listed.returncode == 0 and "Fix the failing test" in listed.stdout and "idle" in listed.stdout


def test_a_denied_edit_in_manual_mode_is_reported_truthfully(appliance: Appliance) -> None:
    appliance.start()
    project = demo_command(appliance)

    def pending() -> str:
        listed = appliance.cli("approvals")
        found = re.search(r"approval (\S+)", listed.stdout)
        assert found, listed.stdout + listed.stderr
        return found.group(1)

    asked = appliance.cli(
        "chat", "--project", str(project), "--model", "scripted:demo", "--mode", "manual", "--wait-for-gate", "Fix it"
    )
    assert asked.returncode == 3, asked.stdout + asked.stderr  # the test run waits for approval
    chat_id = re.search(r"chat (\S+) \(scripted:demo\)", asked.stderr).group(1)  # type: ignore[union-attr]
    assert appliance.cli("approvals", "approve", pending()).returncode == 0
    edit = appliance.cli("chat", "--chat", chat_id, "--wait-for-gate")
    assert edit.returncode == 3, edit.stdout + edit.stderr  # now the edit waits
    assert "edit leapyear.py" in appliance.cli("approvals").stdout
    assert appliance.cli("approvals", "deny", pending(), "-m", "not today").returncode == 0
    end = appliance.cli("chat", "--chat", chat_id)  # follows the chat until its turn ends
    assert end.returncode == 0, end.stdout + end.stderr

    status, messages = appliance.get(f"/api/chats/{chat_id}/messages")
    assert status == 200
    final = "".join(b["text"] for b in messages[-1]["blocks"] if b["type"] == "text")
    assert final.startswith("You denied the edit") and "unchanged" in final
    assert not any("All five tests pass" in b["text"] for m in messages for b in m["blocks"])
    [tree] = worktrees(appliance, project)
    assert run_tests(tree).returncode != 0, "nothing was changed"


def workflow_demo_command(appliance: Appliance, project: Path) -> list[str]:
    """The second command `reliant up --demo` prints: the demo on the plan-then-build workflow."""
    output = appliance.proc.output()  # type: ignore[union-attr]
    shown = f'reliant chat --project {project} --workflow plan-then-build --model scripted:demo "Fix the failing test"'
    assert shown in output, output
    return ["chat", "--project", str(project), "--workflow", "plan-then-build", "--model", "scripted:demo"]


def run_workflow_demo(
    appliance: Appliance, command: list[str], *choices: tuple[str, str]
) -> tuple[str, dict[str, str]]:
    """Start the workflow demo, answer its approval with each (choice, note) in turn, follow it to the
    end; the chat id and what the model said, by step (`planning[0]/plan#2`: the plan node's third
    call in the loop's first round)."""
    asked = appliance.cli(*command, "--wait-for-gate", "Fix the failing test")
    assert asked.returncode == 3, asked.stdout + asked.stderr  # the plan waits for approval
    found = re.search(r"chat (\S+) \(scripted:demo-plan-then-build\) on workflow plan-then-build", asked.stderr)
    assert found, asked.stderr
    chat_id = found.group(1)
    for answered, (choice, note) in enumerate(choices, 1):
        listed = wait_until(lambda: pending(appliance, chat_id), timeout=30)
        approval = re.search(rf"approval (\S+)  chat {chat_id}", listed.stdout)
        assert approval and "Build this plan?" in listed.stdout, listed.stdout
        chose = appliance.cli("approvals", "choose", approval.group(1), choice, "-m", note)
        assert chose.returncode == 0, chose.stdout + chose.stderr
        # The approval node is done once the run has the answer (then the next plan may ask again).
        wait_until(lambda n=answered: node_order(appliance, chat_id).count("planning/approve") >= n, timeout=30)
    # Follows the chat until the run ends (or says it is idle: the run was quicker than the command).
    end = appliance.cli("chat", "--chat", chat_id)
    assert end.returncode == 0, end.stdout + end.stderr
    rest = Rest(appliance.url, appliance.token)
    assert wait_until(lambda: [r["status"] for r in rest.call("GET", f"/api/chats/{chat_id}/runs")["runs"]] == ["done"])
    assert "The plan:" in asked.stdout and "◦ planning[0]/approve · approval" in asked.stdout
    messages = rest.messages(chat_id)
    return chat_id, {m["step"].split("/main:", 1)[1]: text(m) for m in messages if m["role"] == "assistant"}


def pending(appliance: Appliance, chat_id: str) -> subprocess.CompletedProcess[str] | None:
    """`reliant approvals` once it lists one for the chat."""
    listed = appliance.cli("approvals")
    return listed if f"chat {chat_id}" in listed.stdout else None


def text(message: dict[str, Any]) -> str:
    return "".join(b["text"] for b in message["blocks"] if b["type"] == "text")


def node_order(appliance: Appliance, chat_id: str) -> list[str]:
    """The nodes of the chat's run, in the order they finished."""
    updates = Rest(appliance.url, appliance.token).updates(chat_id)
    return [u["payload"]["path"] for u in updates if u["kind"] == "node_state" and u["payload"]["status"] == "done"]


def test_the_demo_on_plan_then_build_plans_waits_for_approval_then_fixes_the_bug_every_time(
    appliance: Appliance,
) -> None:
    appliance.start()
    project = demo_command(appliance)
    command = workflow_demo_command(appliance, project)
    rest = Rest(appliance.url, appliance.token)

    chat_id, said = run_workflow_demo(appliance, command, ("build", ""))
    assert said["build#3"].startswith("Done as planned: all five tests pass now.")
    assert node_order(appliance, chat_id) == ["planning/plan", "planning/approve", "planning", "build"]
    [run] = rest.call("GET", f"/api/chats/{chat_id}/runs")["runs"]
    assert (run["workflow"], run["status"], run["outputs"]) == (
        "plan-then-build",
        "done",
        {"approved": True, "revisions": 0},
    )
    messages = rest.messages(chat_id)
    calls = [b["tool_name"] for m in messages for b in m["blocks"] if b["type"] == "tool_call"]
    assert calls == ["view", "view", "shell", "edit", "shell"], "the plan read the files; the build ran the tests"

    # The second run starts from the failing tests again, in its own worktree; a revision the
    # scripted model cannot make is said, and the plan is built as it stands.
    second, said = run_workflow_demo(appliance, command, ("revise", "smaller please"), ("build", ""))
    assert "The plan:" in said["planning[0]/plan#2"]
    assert "cannot rework it for your note" in said["planning[1]/plan#0"]
    assert said["build#3"].startswith("Done as planned")
    [run] = rest.call("GET", f"/api/chats/{second}/runs")["runs"]
    assert (run["status"], run["outputs"]) == ("done", {"approved": True, "revisions": 1})
    assert node_order(appliance, second) == [
        "planning/plan",
        "planning/approve",
        "planning/plan",
        "planning/approve",
        "planning",
        "build",
    ]

    trees = worktrees(appliance, project)
    assert len(trees) == 2
    for tree in trees:
        assert run_tests(tree).returncode == 0, "each run's fix is in its worktree"
    assert run_tests(project).returncode != 0, "the demo project itself still has the bug"
    # The web's start form sends no model: the default one, the demo's, plays the workflow's script too.
    projects = rest.call("GET", "/api/projects")
    [project_id] = [p["id"] for p in projects if p["path"] == str(project)]
    started = rest.call("POST", "/api/chats", {"project_id": project_id, "workflow": "plan-then-build"})
    assert started["model"] == "scripted:demo-plan-then-build"


def empty_project(appliance: Appliance) -> Path:
    """A directory beside the data dir (which itself can never be a project)."""
    path = appliance.data_dir.parent / "project"
    path.mkdir(exist_ok=True)
    return path


def test_reliant_chat_exits_2_when_the_chat_pauses(appliance: Appliance) -> None:
    appliance.start()
    project = empty_project(appliance)
    script = project / "refused.yaml"
    script.write_text("turns:\n  - error: {status: 401, message: invalid x-api-key}\n")
    done = appliance.cli("chat", "--project", str(project), "--model", f"scripted:{script}", "hi")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "paused" in done.stderr and "invalid x-api-key" in done.stderr


def test_reliant_chat_with_a_model_whose_provider_has_no_key_says_which_key(appliance: Appliance) -> None:
    appliance.start()
    project = str(empty_project(appliance))
    done = appliance.cli("chat", "--project", project, "--model", "anthropic:claude-sonnet-4-6", "hi")
    assert done.returncode == 1 and "model: 'anthropic:claude-sonnet-4-6' cannot be called" in done.stderr, (
        done.stdout + done.stderr
    )
    assert "ANTHROPIC_API_KEY" in done.stderr


def test_reliant_chat_with_an_unknown_model_says_so(appliance: Appliance) -> None:
    appliance.start()
    done = appliance.cli("chat", "--project", str(empty_project(appliance)), "--model", "gpt-4o", "hi")
    assert done.returncode == 1 and "unknown model 'gpt-4o'" in done.stderr
