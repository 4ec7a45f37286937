"""`reliant chat` against `reliant up --demo`: the demo task runs for real on disk."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, clean_env

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


def empty_project(appliance: Appliance) -> Path:
    """A directory beside the data dir (which itself can never be a project)."""
    path = appliance.data_dir.parent / "project"
    path.mkdir(exist_ok=True)
    return path


def test_reliant_chat_exits_2_when_the_chat_pauses(appliance: Appliance) -> None:
    appliance.start()
    project = str(empty_project(appliance))
    done = appliance.cli("chat", "--project", project, "--model", "anthropic:claude-sonnet-4-6", "hi")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "paused" in done.stderr and "ANTHROPIC_API_KEY" in done.stderr


def test_reliant_chat_with_an_unknown_model_says_so(appliance: Appliance) -> None:
    appliance.start()
    done = appliance.cli("chat", "--project", str(empty_project(appliance)), "--model", "gpt-4o", "hi")
    assert done.returncode == 1 and "unknown model 'gpt-4o'" in done.stderr
