"""SIGKILL the whole appliance while best-of-n's agents work in their worktrees, or while the judge
answers, restart it, and check the run completes: every side effect at most once (a test command
exactly once per agent), the pick merged once, the other worktrees and every agent branch gone, and
an update log with no gap or duplicate."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import committed_repo, git, wait_until

pytestmark = pytest.mark.e2e


def agent_script(folder: Path, name: str, effects: Path, greeting: str) -> Path:
    """One agent: a slow command (its start and end counted), then greet.py written, then done."""
    command = f"echo start-{name} >> {effects}; sleep 4; echo end-{name} >> {effects}"
    turns = [
        {"tools": [{"name": "shell", "input": {"command": command}}]},
        {"tools": [{"name": "view", "input": {"path": "greet.py"}}]},
        {
            "tools": [
                {"name": "write", "input": {"path": "greet.py", "content": f"def greet():\n    return '{greeting}'\n"}}
            ]
        },
        {"text": f"{name} is done"},
    ]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns, "call_log": str(folder / f"{name}.jsonl")}))
    return path


KILL_POINTS = ["while the agents work", "while the judge answers"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_during_best_of_n_merges_the_pick_once_and_runs_nothing_twice(tmp_path: Path, point: str) -> None:
    workspace = committed_repo(tmp_path / "workspace", {"greet.py": "def greet():\n    return ''\n"})
    effects = tmp_path / "effects.log"  # outside the repository: each marker is one side effect
    scripts = workspace / ".scripts"  # scripts live in the project (untracked)
    scripts.mkdir()
    (workspace / ".git" / "info" / "exclude").write_text("/.scripts/\n")
    agents = [agent_script(scripts, n, effects, g) for n, g in (("a", "hi"), ("b", "hello"))]
    judge = scripts / "judge.yaml"
    judge.write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {
                        "text": " ".join(["weighing"] * 60),
                        "delay_ms": 50,
                        "tools": [{"name": "respond", "input": {"winner": 2, "reason": "b says hello"}}],
                    }
                ],
                "call_log": str(scripts / "judge.jsonl"),
            }
        )
    )
    inputs = {
        "task": 'greet() returns "hello"',
        "n": 2,
        "test_command": f"echo test-$(basename $PWD) >> {effects}",
        "models": ",".join(f"scripted:{a}" for a in agents),
    }
    up = Appliance(tmp_path / "data", env=clean_env())
    try:
        up.start()
        rest = Rest(up.url, up.token)
        project = rest.project(workspace)
        chat = rest.call(
            "POST",
            "/api/chats",
            {"project_id": project["id"], "model": f"scripted:{judge}", "workflow": "best-of-n", "inputs": inputs},
        )
        client = rest.follow(chat["id"])
        rest.send(chat["id"], "try twice")

        def ready_to_kill() -> bool:
            ran = effects.read_text().split() if effects.exists() else []
            if point == "while the agents work":
                return {"start-a", "start-b"} <= set(ran)
            return client.kinds().count("block_delta") >= 5 and sum(m.startswith("test-") for m in ran) == 2

        wait_until(ready_to_kill, timeout=90, interval=0.05)
        up.kill()
        client.close()
        up.start()
        rest = Rest(up.url, up.token)
        rest.wait_idle(chat["id"], timeout=150)

        updates = rest.updates(chat["id"])
        seqs = [int(u["seq"]) for u in updates]
        assert seqs == list(range(1, len(seqs) + 1)), "the update log has a gap or a duplicate"
        tops = [u["payload"] for u in updates if u["kind"] == "run_started" and not u["payload"].get("parent_run_id")]
        [finished] = [
            u["payload"] for u in updates if u["kind"] == "run_finished" and u["payload"]["run_id"] == tops[0]["run_id"]
        ]
        assert finished["status"] == "done", finished
        outputs: dict[str, Any] = finished["outputs"]
        assert (outputs["winner"], outputs["merged"], outputs["removed"]) == (2, True, 1), outputs
        # The pick is merged once; no worktree or agent branch is left.
        assert (workspace / "greet.py").read_text() == "def greet():\n    return 'hello'\n"
        assert git(workspace, "rev-list", "--count", "--merges", "HEAD").strip() == "1"
        assert outputs["commit"] == git(workspace, "rev-parse", "HEAD").strip()
        assert git(workspace, "worktree", "list").count("\n") == 1
        assert git(workspace, "branch", "--list", "reliant/*").strip() == ""
        # Every side effect at most once; each agent's test ran exactly once, in its own worktree.
        ran = Counter(effects.read_text().split())
        assert max(ran.values()) == 1, f"a side effect happened twice: {ran}"
        assert ran["start-a"] == ran["start-b"] == 1
        assert sum(n for marker, n in ran.items() if marker.startswith("test-agent-")) == 2, ran
        if point == "while the agents work":
            assert "end-a" not in ran and "end-b" not in ran, "the killed commands must not have finished"
        assert up.stop() == 0
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()
        for pid, _ in up.leftovers():
            os.kill(pid, signal.SIGKILL)
