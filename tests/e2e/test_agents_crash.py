"""SIGKILL the whole appliance while three sub-agents run, restart it: every agent completes, no
tool effect runs twice, the parent reads each agent's result exactly once, and the update log has no
gap or duplicate."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env
from tests.support import wait_until

pytestmark = pytest.mark.e2e

NAMES = ("a", "b", "c")


def test_sigkill_while_three_agents_run_then_restart_finishes_each_once(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    scripts = workspace / "scripted"  # scripts and their logs live in the project
    scripts.mkdir(parents=True)
    effects = workspace / "effects.log"
    for name in NAMES:
        # One effect, then a long streamed answer: the kill lands while all three stream.
        turns = [
            {"tools": [{"name": "shell", "input": {"command": f"echo {name} >> effects.log"}}]},
            {"text": f"child {name} finished " + " ".join(["streaming"] * 80), "delay_ms": 40},
        ]
        (scripts / f"{name}.yaml").write_text(
            yaml.safe_dump({"turns": turns, "call_log": str(scripts / f"{name}.jsonl")})
        )
    spawns = [
        {"name": "spawn_agent", "input": {"task": f"task {n}", "name": n, "model": f"scripted:{scripts / n}.yaml"}}
        for n in NAMES
    ]
    parent = scripts / "parent.yaml"
    parent.write_text(
        yaml.safe_dump({"turns": [{"tools": spawns}, {"text": "done"}], "call_log": str(scripts / "parent.jsonl")})
    )
    up = Appliance(tmp_path / "data", env=clean_env())
    try:
        up.start()
        rest = Rest(up.url, up.token)
        project = rest.project(workspace)
        chat = rest.chat(project["id"], f"scripted:{parent}")
        client = rest.follow(chat["id"])
        rest.send(chat["id"], "split the work")

        def all_streaming() -> bool:
            ran = effects.read_text().split() if effects.exists() else []
            # the parent's answer, then two answers of each agent begun
            return sorted(ran) == list(NAMES) and client.kinds().count("message_started") >= 1 + 2 * len(NAMES)

        wait_until(all_streaming, timeout=90, interval=0.05)
        agents = rest.call("GET", f"/api/chats/{chat['id']}/agents")["agents"]
        assert [a["status"] for a in agents] == ["running"] * 3, "killed while the agents run"
        up.kill()
        client.close()
        up.start()
        rest = Rest(up.url, up.token)
        rest.wait_idle(chat["id"], timeout=180)

        tree = rest.call("GET", f"/api/chats/{chat['id']}/agents")
        assert sorted((a["name"], a["status"]) for a in tree["agents"]) == [(n, "done") for n in NAMES]
        assert Counter(effects.read_text().split()) == dict.fromkeys(NAMES, 1), "an effect ran twice"
        for name in NAMES:  # an agent's finished turn is never asked again (only the one killed mid-stream)
            turns = Counter(json.loads(line)["turn"] for line in (scripts / f"{name}.jsonl").read_text().splitlines())
            assert turns[0] == 1 and 1 <= turns[1] <= 2, (name, turns)
        parent_turns = [json.loads(line) for line in (scripts / "parent.jsonl").read_text().splitlines()]
        assert [c["turn"] for c in parent_turns] == [0, 1], "the parent's model: the spawns once, then its answer"
        results = [b for m in parent_turns[1]["messages"] for b in m["blocks"] if b["type"] == "tool_result"]
        assert len(results) == 3, "the parent read each agent's result exactly once"
        texts = sorted(b["text"] for b in results)
        assert all(f"child {n} finished" in t for n, t in zip(NAMES, texts, strict=True)), texts

        seqs = [int(u["seq"]) for u in rest.updates(chat["id"])]
        assert seqs == list(range(1, len(seqs) + 1)), "the update log has a gap or a duplicate"
        kinds = Counter(u["kind"] for u in rest.updates(chat["id"]))
        assert (kinds["agent_started"], kinds["agent_finished"]) == (3, 3)
        assert up.stop() == 0
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()
        for pid, _ in up.leftovers():
            os.kill(pid, signal.SIGKILL)
