"""What the terminal shows of a chat's workflow runs: every node as it starts and ends, an approval
node's question with its choices and the choice made (never as a tool approval), and how to answer
it when nobody can be asked here."""

from __future__ import annotations

import io

from reliant.cli.api import Api
from reliant.cli.gates import EXIT_GATE
from reliant.cli.workflow_client import NodeGates, RunRenderer

NODE_APPROVAL = {
    "approval_id": "a-1",
    "tool_call_id": "node:run-1/main:ask#0",
    "kind": "node",
    "question": "Write the greeting?",
    "choices": ["write", "skip"],
    "tool_name": "",
    "input": {},
    "turn": 0,
}


def renderer(*, live: bool) -> tuple[RunRenderer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return RunRenderer(out, err, styled=False, live=live), out, err


def test_a_replayed_run_shows_its_nodes_its_question_and_the_choice() -> None:
    r, out, _ = renderer(live=False)
    r.update("run_started", {"run_id": "r", "workflow": "gated", "source": "builtin/gated.yaml", "inputs": {}})
    r.update("node_state", {"run_id": "r", "path": "ask", "instance": "ask", "kind": "approval", "status": "running"})
    r.update("approval_requested", NODE_APPROVAL)
    r.update("approval_resolved", {"approval_id": "a-1", "status": "answered", "choice": "skip", "message": "later"})
    r.update("node_state", {"run_id": "r", "path": "ask", "instance": "ask", "kind": "approval", "status": "done"})
    r.update("run_finished", {"run_id": "r", "status": "done", "outputs": {"wrote": False}})
    assert out.getvalue().splitlines() == [
        "▶ workflow gated · builtin/gated.yaml",
        "  ◦ ask · approval",
        "? Write the greeting?  [write | skip]",
        "  → chose: skip (later)",
        "  ✓ ask · approval · done",
        "■ workflow done · wrote=false",
    ]
    assert "allow" not in out.getvalue() and "no answer in time" not in out.getvalue()


def test_a_plain_chat_on_the_builtin_agent_draws_no_node_lines() -> None:
    r, out, _ = renderer(live=False)
    started = {"run_id": "r", "workflow": "agent", "source": "builtin/agent.yaml", "inputs": {}}
    r.update("run_started", started)
    r.update("node_state", {"run_id": "r", "path": "agent", "instance": "agent", "kind": "agent", "status": "done"})
    r.update("run_finished", {"run_id": "r", "status": "done", "outputs": {}})
    assert out.getvalue() == ""
    r.update("run_started", started | {"run_id": "mine", "source": "/p/.reliant/workflows/agent.yaml"})
    assert out.getvalue() == "▶ workflow agent · /p/.reliant/workflows/agent.yaml\n", "a project's own agent shows"


def test_an_approval_node_nobody_can_answer_here_says_how_and_exits_3_when_asked_to() -> None:
    r, _, err = renderer(live=True)
    api = Api("http://127.0.0.1:1", "token")  # never called: nothing is asked in this terminal
    gates = NodeGates(api, r, interactive=False, wait_for_gate=True)
    assert gates.on_update("approval_requested", NODE_APPROVAL) == EXIT_GATE
    assert err.getvalue() == (
        "the workflow asks: Write the greeting? [write | skip]: reliant approvals choose a-1 CHOICE [-m NOTE]\n"
    )
    assert gates.on_update("approval_requested", NODE_APPROVAL) is None, "each gate once"
    tool = {"approval_id": "a-2", "tool_call_id": "c", "tool_name": "shell", "input": {"command": "ls"}}
    assert gates.on_update("approval_requested", tool) == EXIT_GATE
    assert "reliant approvals approve a-2" in err.getvalue(), "a tool approval is still a tool approval"
