"""Stopping `reliant up` (Ctrl-C) while a tool runs does not kill the tool: the stop lets it finish,
and after a restart the chat goes on with its real result."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_ctrl_c_while_a_tool_runs_lets_it_finish_and_the_restarted_chat_gets_its_result(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    script = workspace / ".script.yaml"  # scripts may lie in the chat's project (or the data dir)
    command = "echo started > started; sleep 5; echo done >> marker; echo finished"
    turns = [{"tools": [{"name": "shell", "input": {"command": command}}]}, {"text": "done"}]
    script.write_text(yaml.safe_dump({"turns": turns}))
    up = Appliance(tmp_path / "data", env=clean_env())
    try:
        up.start()
        rest = Rest(up.url, up.token)
        project = rest.project(workspace)
        chat = rest.chat(project["id"], f"scripted:{script}")
        rest.send(chat["id"], "run it")
        wait_until((workspace / "started").exists, timeout=60)
        assert up.stop() == 0, up.proc.output() if up.proc else ""
        assert (workspace / "marker").read_text() == "done\n", "the stop let the tool finish"

        up.start()
        rest = Rest(up.url, up.token)
        rest.wait_idle(chat["id"], timeout=60)
        messages = rest.messages(chat["id"])
        calls = [b for m in messages for b in m["blocks"] if b["type"] == "tool_call"]
        assert [b["tool_state"] for b in calls] == ["completed"], calls
        results = [b for m in messages for b in m["blocks"] if b["type"] == "tool_result"]
        assert "finished" in str(results), results
        assert messages[-1]["blocks"][-1]["text"] == "done"
        assert (workspace / "marker").read_text() == "done\n", "ran exactly once"
        assert up.stop() == 0
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()
        for pid, _ in up.leftovers():
            os.kill(pid, signal.SIGKILL)
