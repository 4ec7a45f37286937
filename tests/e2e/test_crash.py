"""SIGKILL the whole appliance mid-chat, restart it, and check the chat completes with every
finished tool run exactly once, no finished turn asked of the model again, and an update log with
no gap or duplicate."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until

pytestmark = pytest.mark.e2e

# Each tool call appends its own marker to effects.log, so the file counts side effects.
SCENARIOS: dict[str, dict[str, Any]] = {
    "during an LLM call": {
        "turns": [
            {"tools": [{"name": "shell", "input": {"command": "echo first >> effects.log"}}]},
            {
                "text": " ".join(["streaming"] * 80),
                "delay_ms": 40,
                "tools": [{"name": "shell", "input": {"command": "echo second >> effects.log"}}],
            },
            {"text": "done"},
        ],
        # Kill while turn 1 (0-based) streams: its deltas are out, its answer is not stored.
        "kill_when": lambda kinds, effects: kinds.count("message_started") >= 2 and kinds.count("block_delta") >= 5,
        "must_run": ["first", "second"],
    },
    "in the middle of a long shell tool": {
        "turns": [
            {
                "tools": [
                    {
                        "name": "shell",
                        "input": {"command": "echo start >> effects.log; sleep 30; echo end >> effects.log"},
                    }
                ]
            },
            {"tools": [{"name": "shell", "input": {"command": "echo after >> effects.log"}}]},
            {"text": "done"},
        ],
        "kill_when": lambda kinds, effects: "start" in effects,
        # The interrupted shell died with the daemon: reported interrupted, never re-run.
        "must_run": ["start", "after"],
    },
    "between tool calls": {
        "turns": [
            {
                "tools": [
                    {"name": "shell", "input": {"command": "echo one >> effects.log; sleep 1"}},
                    {"name": "shell", "input": {"command": "echo two >> effects.log"}},
                ]
            },
            {"tools": [{"name": "shell", "input": {"command": "echo three >> effects.log"}}]},
            {"text": "done"},
        ],
        "kill_when": lambda kinds, effects: kinds.count("tool_finished") >= 1,
        "must_run": ["one", "three"],
    },
}


@pytest.mark.parametrize("point", list(SCENARIOS))
def test_sigkill_and_restart_loses_nothing_and_repeats_nothing(tmp_path: Path, point: str) -> None:
    scenario = SCENARIOS[point]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    call_log = workspace / "scripted" / "calls.jsonl"  # a script and its log live in the project
    script = workspace / "scripted" / "script.yaml"
    script.parent.mkdir()
    script.write_text(yaml.safe_dump({"turns": scenario["turns"], "call_log": str(call_log)}))
    up = Appliance(tmp_path / "data", env=clean_env())
    try:
        up.start()
        rest = Rest(up.url, up.token)
        project = rest.project(workspace)
        chat = rest.chat(project["id"], f"scripted:{script}")
        client = rest.follow(chat["id"])  # sees the answer being streamed too
        rest.send(chat["id"], "do the scripted work")
        effects = workspace / "effects.log"

        def ready_to_kill() -> bool:
            lines = effects.read_text().split() if effects.exists() else []
            return bool(scenario["kill_when"](client.kinds(), lines))

        wait_until(ready_to_kill, timeout=60, interval=0.05)
        up.kill()
        client.close()
        up.start()
        rest = Rest(up.url, up.token)
        rest.wait_idle(chat["id"], timeout=90)

        messages = rest.messages(chat["id"])
        final = messages[-1]
        assert final["role"] == "assistant" and final["blocks"][-1]["text"] == "done"
        ran = Counter(effects.read_text().split())
        for block in (b for m in messages for b in m["blocks"] if b["type"] == "tool_call"):
            markers = re.findall(r"echo (\w+) >>", block["tool_input"]["command"])
            if block["tool_state"] == "completed":
                assert all(ran[marker] == 1 for marker in markers), (block, ran)
            else:
                assert block["tool_state"] == "interrupted", block
                assert all(ran[marker] <= 1 for marker in markers), (block, ran)
        assert set(ran) >= set(scenario["must_run"]), ran
        assert max(ran.values()) == 1, f"a side effect happened twice: {ran}"

        calls = Counter(json.loads(line)["turn"] for line in call_log.read_text().splitlines())
        finished_turns = [m for m in messages if m["role"] == "assistant"]
        assert len(finished_turns) == len(scenario["turns"])
        repeated = {turn: n for turn, n in calls.items() if n > 1}
        if point == "during an LLM call":
            assert repeated == {1: 2}, calls  # only the turn that was streaming when killed
        else:
            assert repeated == {}, calls

        seqs = [int(u["seq"]) for u in rest.updates(chat["id"])]  # int64 is a string in proto JSON
        assert seqs == list(range(1, len(seqs) + 1)), "the update log has a gap or a duplicate"
        if point == "in the middle of a long shell tool":
            assert "end" not in ran, "the killed shell must not have finished"
        assert up.stop() == 0
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()
        for pid, _ in up.leftovers():
            os.kill(pid, signal.SIGKILL)
