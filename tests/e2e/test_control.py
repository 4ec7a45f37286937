"""Human control against `reliant up`: approvals and pauses survive a SIGKILL of the appliance, and
the CLI answers gates the way a CI script would."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Appliance, Path]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    up = Appliance(tmp_path / "data", env=clean_env())
    yield up, workspace
    if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
        up.kill()
    for pid, _ in up.leftovers():
        os.kill(pid, signal.SIGKILL)


def scripted(directory: Path, turns: list[dict[str, object]]) -> str:
    """A scripted model in `directory`, which must be the project's or the data dir."""
    path = directory / "script.yaml"
    path.write_text(yaml.safe_dump({"turns": turns}))
    return f"scripted:{path}"


def test_a_pending_approval_survives_sigkill_and_the_tool_then_runs_once(setup: tuple[Appliance, Path]) -> None:
    up, workspace = setup
    model = scripted(
        workspace,
        [{"tools": [{"name": "shell", "input": {"command": "echo ran >> effects"}}]}, {"text": "done"}],
    )
    up.start()
    rest = Rest(up.url, up.token)
    chat = rest.chat(rest.project(workspace)["id"], model)
    done = up.cli("chat", "--chat", chat["id"], "--mode", "manual", "--wait-for-gate", "please run it")
    assert done.returncode == 3, done.stdout + done.stderr
    listed = up.cli("approvals")
    approval_id = re.search(r"approval (\S+)", listed.stdout).group(1)  # type: ignore[union-attr]
    assert "echo ran >> effects" in listed.stdout

    up.kill()
    up.start()
    assert up.cli("approvals").stdout.count("approval ") == 1, "still pending after the restart"
    approved = up.cli("approvals", "approve", approval_id)
    assert approved.returncode == 0, approved.stderr
    followed = up.cli("chat", "--chat", chat["id"])
    assert followed.returncode == 0, followed.stdout + followed.stderr
    Rest(up.url, up.token).wait_idle(chat["id"])
    assert (workspace / "effects").read_text() == "ran\n"
    again = up.cli("approvals", "approve", approval_id)
    assert again.returncode == 1 and "no pending approval id starts with" in again.stderr
    assert "answered already" in again.stderr
    assert up.stop() == 0


def test_pause_then_resume_across_a_restart(setup: tuple[Appliance, Path]) -> None:
    up, workspace = setup
    model = scripted(
        workspace,
        [
            {"tools": [{"name": "shell", "input": {"command": "sleep 2; echo one >> effects"}}]},
            {"tools": [{"name": "shell", "input": {"command": "echo two >> effects"}}]},
            {"text": "done"},
        ],
    )
    up.start()
    rest = Rest(up.url, up.token)
    chat = rest.chat(rest.project(workspace)["id"], model)
    rest.send(chat["id"], "go")
    wait_until(lambda: any(u["kind"] == "tool_started" for u in rest.updates(chat["id"])), timeout=30)
    assert rest.call("POST", f"/api/chats/{chat['id']}/pause")["paused"] is True
    wait_until(lambda: rest.get_chat(chat["id"])["status"] == "paused", timeout=30)
    assert (workspace / "effects").read_text() == "one\n"

    up.kill()
    up.start()
    rest = Rest(up.url, up.token)
    assert rest.get_chat(chat["id"])["status"] == "paused"
    rest.call("POST", f"/api/chats/{chat['id']}/resume")
    rest.wait_idle(chat["id"])
    assert (workspace / "effects").read_text() == "one\ntwo\n"
    assert up.stop() == 0
