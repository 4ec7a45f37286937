"""`reliant chat` against `reliant up --demo`: the demo task runs for real on disk."""

from __future__ import annotations

import re
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


def test_reliant_chat_with_the_demo_model_fixes_the_demo_project(appliance: Appliance) -> None:
    appliance.start()
    appliance.proc.wait_for_output("Demo project ready at")  # type: ignore[union-attr]
    output = appliance.proc.output()  # type: ignore[union-attr]
    command = re.search(r"reliant chat --project (\S+) --model scripted:demo", output)
    assert command, output
    project = Path(command.group(1))
    test_file = next(project.glob("test_*.py"))

    done = appliance.cli("chat", "--project", str(project), "--model", "scripted:demo", "Fix the failing test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "● shell python3" in done.stdout and "● edit" in done.stdout
    assert "All five tests pass" in done.stdout

    import subprocess
    import sys

    rerun = subprocess.run([sys.executable, test_file.name], cwd=project, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr

    listed = appliance.cli("chats")
    assert listed.returncode == 0 and "Fix the failing test" in listed.stdout and "idle" in listed.stdout


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
