"""The UI and the CLI say the same of how a tool call ended: the outcome the server computes
(reliant.domain.tool_outcome) is what the UI's transcript shows, whether it comes with a live
tool_finished, with a stored call of a ListMessages snapshot, or must be read (by outcomes.js) from
an older update or snapshot that does not carry it yet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from reliant.domain.chat import BlockType, ContentBlock, Role, StoredMessage, ToolRun, ToolState, Usage
from reliant.domain.tool_outcome import CANCELLED_BY_USER, ToolOutcome, tool_outcome
from reliant.wire import convert
from reliant.wire.payloads import tool_run_payload
from reliant.worker.transcript import tool_result_block

WEB_APP = Path(__file__).resolve().parents[2] / "reliant" / "web" / "app"

# Every way a call ends, as the daemon and the worker record it.
RUNS = [
    (ToolState.COMPLETED, {"exit_code": 0}, "", "fine\n"),
    (ToolState.COMPLETED, {"exit_code": 3}, "", "broken\n"),
    (ToolState.COMPLETED, {"exit_code": -9}, "", ""),
    (ToolState.COMPLETED, {}, "", "the file's lines"),
    (ToolState.COMPLETED, {"diff": "--- a/x\n+++ b/x\n"}, "", "edited x"),
    (ToolState.FAILED, {"exit_code": None, "timed_out": True}, "command timed out after 1s", "partial"),
    (ToolState.FAILED, {}, "refused: ../../outside.txt is outside the workspace /w", ""),
    (ToolState.FAILED, {}, "Refused to write x: read it first", ""),
    (ToolState.FAILED, {}, "file not found: a.txt", ""),
    (ToolState.FAILED, {}, "", "the tool failed"),
    (ToolState.INTERRUPTED, {}, CANCELLED_BY_USER, ""),
    (ToolState.INTERRUPTED, {}, "cancelled on request", ""),
    (ToolState.INTERRUPTED, {}, "the daemon restarted while this tool was running", ""),
    (ToolState.INTERRUPTED, {}, "", ""),
    # A turn that hit max_turns settles its unfinished calls: not a stop the user asked for.
    (ToolState.INTERRUPTED, {}, "stopped after 40 model turns without a final answer (max_turns)", ""),
    (ToolState.DENIED, {}, "The user denied this tool call.", ""),
    (ToolState.DENIED, {}, "", ""),
]

# Gives each case to a ChatModel three ways (a tool_finished without its outcome, a snapshot with
# it, one without it) and prints what toolOutcome says of each.
NODE_SCRIPT = """
import { readFileSync } from "node:fs";
const { ChatModel } = await import(process.env.APP + "/transcript.js");
const { toolOutcome } = await import(process.env.APP + "/outcomes.js");
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const live = new ChatModel("c");
  live.apply({ seq: 1, kind: "tool_finished", payload: c.finished }); // without its outcome
  const seen = {};
  for (const [name, snapshot] of Object.entries(c.snapshots)) {
    const model = new ChatModel("c");
    model.load(snapshot);
    seen[name] = toolOutcome(model.tools.get(c.id));
  }
  return { update_older: toolOutcome(live.tools.get(c.id)), ...seen };
});
process.stdout.write(JSON.stringify(out));
"""


def snapshot(run: ToolRun, *, with_outcome: bool) -> dict[str, Any]:
    """A ListMessages answer holding the call and its result, as the browser receives it."""
    call = ContentBlock(BlockType.TOOL_CALL, tool_call_id=run.tool_call_id, tool_name=run.tool_name)
    messages = [
        StoredMessage("m1", "c", 1, Role.ASSISTANT, "scripted:x", (call,), Usage(), 0.0, 0.0, turn=1),
        StoredMessage("m2", "c", 2, Role.TOOL, "", (tool_result_block(run),), Usage(), 0.0, 0.0, turn=1),
    ]
    docs = [MessageToDict(convert.message(m, {run.tool_call_id: run})) for m in messages]
    if not with_outcome:  # as an api from before the field answered
        for doc in docs:
            for block in doc.get("blocks", []):
                block.pop("toolOutcome", None)
    return {"messages": docs, "resumeSeq": "1"}


def node_outcomes(cases: list[dict[str, Any]]) -> list[dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed; the UI's module tests need it")
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "APP": WEB_APP.as_uri()},
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, str]] = json.loads(done.stdout)
    return result


def test_the_ui_shows_the_outcome_the_server_computes_from_updates_and_snapshots_old_and_new() -> None:
    runs = [
        ToolRun(f"call_{i}", "shell", state, read_only=False, attempts=1, output=output, error=error, data=data)
        for i, (state, data, error, output) in enumerate(RUNS)
    ]
    cases = []
    for run in runs:
        payload = tool_run_payload(run)
        older = {k: v for k, v in payload.items() if k != "outcome"}
        cases.append(
            {
                "id": run.tool_call_id,
                "finished": older,
                "snapshots": {
                    "stored": snapshot(run, with_outcome=True),
                    "stored_older": snapshot(run, with_outcome=False),
                },
            }
        )
    shown = node_outcomes(cases)
    expected = [tool_outcome(r.state, r.data, r.error).value for r in runs]
    # Every outcome is covered, so a rule the two sides read differently cannot hide.
    assert set(expected) == {o.value for o in ToolOutcome}, set(expected)
    for run, want, got in zip(runs, expected, shown, strict=True):
        case = f"{run.state.value} data={run.data} error={run.error!r}"
        assert got == {"update_older": want, "stored": want, "stored_older": want}, case
    # The snapshot carries the server's word itself.
    stored = snapshot(runs[1], with_outcome=True)["messages"][0]["blocks"][0]
    assert stored["toolOutcome"] == "exit_nonzero"
