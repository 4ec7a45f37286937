"""A chat whose agents run side by side, drawn readably: the main view has the top agent's own
thread and a line when each sub-agent starts and ends, never a sub-agent's streamed text or tool
calls; one agent's view has its transcript alone; what a sub-agent waits for is still shown.

The updates are recorded from a real run (tests/cli/recorded/best_of_n_three_agents.jsonl): the
built-in best-of-n workflow with three scripted agents (a, b, c) whose answers stream interleaved,
then a judge that picks b; every update a following client was sent, the streamed deltas too."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from reliant.cli.agent_follow import AgentUpdates
from reliant.cli.workflow_client import NodeGates, RunRenderer

RECORDED = Path(__file__).parent / "recorded" / "best_of_n_three_agents.jsonl"
# What only the agents said or did (the judge's prompt quotes their last answers, not these).
AGENTS_OWN = ("looks at greet.py", "writes the greeting now", "● view greet.py", "● write greet.py")


def recorded() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines()]


def agent_ids() -> dict[str, str]:
    """name -> id of the recorded run's agents ("solve #1" is agent a)."""
    return {u["payload"]["name"]: u["payload"]["agent_id"] for u in recorded() if u["kind"] == "agent_started"}


def drawn(*, live: bool, styled: bool = False, agent: str = "") -> tuple[str, str]:
    """(stdout, stderr) of the recorded run drawn live (every update, deltas too) or as `reliant show`
    replays it (the log only); `agent`: that agent's view, handed what `--agent` hands it."""
    out, err = io.StringIO(), io.StringIO()
    renderer = RunRenderer(out, err, styled=styled, live=live, agent=agent)
    view = AgentUpdates(agent, set()) if agent else None
    for update in recorded():
        if not live and not update["seq"]:
            continue  # the answer in progress is not in the log
        if view is None or view.shown(update["kind"], update["payload"]):
            renderer.update(update["kind"], update["payload"], at=100.0)
    if live:
        renderer.settle()
    else:
        renderer.finish_replay()
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("live", [True, False], ids=["live", "show"])
def test_the_main_view_has_the_top_agents_thread_and_a_line_per_sub_agent_start_and_end(live: bool) -> None:
    out, err = drawn(live=live)
    for text in AGENTS_OWN:
        assert text not in out, f"a sub-agent's {text!r} is in the main view:\n{out}"
    ids = agent_ids()
    lines = out.splitlines()
    for name, letter, greeting in (("solve #1", "a", "hi"), ("solve #2", "b", "hello"), ("solve #3", "c", "hey")):
        short = ids[name][:8]
        assert lines.count(f'▸ agent {name} ({short}) started: greet() returns "hello"') == 1, out
        [ended] = [line for line in lines if line.startswith(f"■ agent {name} ({short}) done · $0.0000 · ")]
        assert f"Agent {letter} is done: greet() returns {greeting}" in ended
        assert len(ended) <= 160 and ended.endswith("…"), "a long result is clipped to one short line"
    assert out.index("▸ agent solve #3") < out.index("■ agent solve #1") < out.index("Weighing the three.")
    assert "▶ workflow solve" not in out and "work · agent" not in out, "the agents' runs are their lines"
    [outputs] = [line for line in lines if line.startswith("■ workflow done")]
    assert "winner=2" in outputs and "reason=b says hello" in outputs and len(outputs) < 300
    notes = err if live else out
    assert notes.count("instructions in effect: AGENTS.md") == 1, "said once, not before every call"
    assert "─ 15k in · 295 out" in notes, "the turn's line counts what its agents spent"


def test_the_live_view_on_a_terminal_leaves_out_the_agents_too() -> None:
    out, _ = drawn(live=True, styled=True)
    for text in AGENTS_OWN:
        assert text not in out
    assert "Weighing the three." in out and out.count("▸ agent solve #") == 3


@pytest.mark.parametrize("live", [True, False], ids=["live", "show"])
def test_one_agents_view_is_its_transcript_alone(live: bool) -> None:
    ids = agent_ids()
    out, _ = drawn(live=live, agent=ids["solve #2"])
    assert out.count("Agent b looks at greet.py before changing anything at all.") == 1, out
    assert out.count("Agent b writes the greeting now.") == 1 and out.count("● write greet.py") == 1
    assert "Agent b is done" in out
    assert "Agent a" not in out and "Agent c" not in out, "a sibling's text is not this agent's"
    assert "Weighing the three." not in out and "agent solve #" not in out
    assert out.count("■ workflow done") == 1, "its own run's end"


def test_a_sub_agents_gate_is_shown_in_the_main_view_tagged_with_the_agent() -> None:
    ids = agent_ids()
    updates = [u for u in recorded() if u["seq"]][:12]  # the run and its agents have started
    asked = {
        "approval_id": "ap1",
        "tool_call_id": "call_9",
        "tool_name": "shell",
        "input": {"command": "rm -rf build"},
        "turn": 3,
        "agent": {"agent_id": ids["solve #1"], "name": "solve #1", "task": "greet"},
    }
    out = io.StringIO()
    renderer = RunRenderer(out, io.StringIO(), styled=False, live=False)
    for update in [*updates, {"kind": "approval_requested", "payload": asked}]:
        renderer.update(update["kind"], update["payload"], at=100.0)
    renderer.settle()
    assert "? allow shell rm -rf build  (agent solve #1)" in out.getvalue()


def test_a_sub_agents_line_waits_for_the_sentence_being_streamed_to_end() -> None:
    ids = agent_ids()
    started = next(u for u in recorded() if u["kind"] == "agent_started")
    top = {"message_id": "m1", "turn": 20, "attempt": 1, "step": "", "thread_id": "main"}
    stored = {
        "id": "m1",
        "role": "assistant",
        "turn": 20,
        "blocks": [{"type": "text", "text": "Running the tests again."}],
    }
    out = io.StringIO()
    renderer = RunRenderer(out, io.StringIO(), styled=False, live=True)
    for kind, payload in [
        ("message_started", top),
        ("block_started", {"message_id": "m1", "index": 0, "type": "text"}),
        ("block_delta", {"message_id": "m1", "index": 0, "type": "text", "offset": 0, "text": "Running the tests "}),
        ("agent_started", started["payload"]),
        ("block_delta", {"message_id": "m1", "index": 0, "type": "text", "offset": 18, "text": "again."}),
        ("message_completed", {"message": stored}),
    ]:
        renderer.update(kind, payload, at=100.0)
    renderer.settle()
    assert out.getvalue().splitlines() == [
        "Running the tests again.",
        f'▸ agent solve #1 ({ids["solve #1"][:8]}) started: greet() returns "hello"',
    ]


def test_an_approval_node_in_a_sub_agents_run_names_the_agent_when_it_asks() -> None:
    ids = agent_ids()
    err = io.StringIO()
    renderer = RunRenderer(io.StringIO(), err, styled=False, live=True)
    for update in [u for u in recorded() if u["seq"]][:12]:
        renderer.update(update["kind"], update["payload"], at=100.0)
    gates = NodeGates(api=None, renderer=renderer, interactive=False, wait_for_gate=True)  # type: ignore[arg-type]
    asked = {"approval_id": "ap2", "kind": "node", "question": "Ship it?", "choices": ["yes", "no"]}
    assert gates.on_update("approval_requested", asked | {"run_id": ids["solve #2"]}) == 3
    assert "the workflow asks: Ship it? (agent solve #2) [yes | no]" in err.getvalue()
