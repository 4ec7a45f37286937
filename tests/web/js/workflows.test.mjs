// Workflows in the UI without the DOM: a definition's typed inputs as a form (values checked by type
// before anything is sent, the api's answer about an input put back on that input), a chat's runs as
// a tree of nodes whose states follow the stream (the newest version wins; an unknown run asks for
// ListRuns), and a workflow's approval node as a gate with its question and choices.
import assert from "node:assert/strict";
import { test } from "node:test";

import { approvalGate, outcome, waitingSummary } from "../../../reliant/web/app/gates.js";
import { ChatModel } from "../../../reliant/web/app/transcript.js";
import { RunsModel, inputError, inputFields, readField, readForm, stateText } from "../../../reliant/web/app/views/workflow-model.js";

const TDD_INPUTS = [
  { name: "task", type: "string", description: "What to build", required: true },
  { name: "test_command", type: "string", default: "python -m pytest -q" },
  { name: "max_rounds", type: "integer", default: 5 },
];

test("a definition's inputs become fields with their defaults", () => {
  const fields = inputFields([...TDD_INPUTS, { name: "mode", type: "enum", values: ["auto", "manual"], default: "auto" }, { name: "fast", type: "boolean" }]);
  assert.deepEqual(
    fields.map((f) => [f.name, f.type, f.required, f.value]),
    [
      ["task", "string", true, ""],
      ["test_command", "string", false, "python -m pytest -q"],
      ["max_rounds", "integer", false, 5],
      ["mode", "enum", false, "auto"],
      ["fast", "boolean", false, false],
    ],
  );
});

test("values are checked by type: a required one, whole numbers, enums, models", () => {
  const [task, , rounds] = inputFields(TDD_INPUTS);
  assert.deepEqual(readField(task, "  "), { error: "required" });
  assert.deepEqual(readField(rounds, ""), { skip: true });
  assert.deepEqual(readField(rounds, "3"), { value: 3 });
  assert.deepEqual(readField(rounds, "2.5"), { error: "must be a whole number" });
  assert.deepEqual(readField(rounds, "five"), { error: "must be a whole number" });
  assert.deepEqual(readField({ name: "t", type: "number" }, "0.5"), { value: 0.5 });
  assert.deepEqual(readField({ name: "t", type: "number" }, "x"), { error: "must be a number" });
  assert.deepEqual(readField({ name: "m", type: "enum", values: ["a", "b"] }, "c"), { error: "must be one of a, b" });
  assert.deepEqual(readField({ name: "m", type: "model" }, "gpt"), { error: "must be provider:model (e.g. anthropic:claude-sonnet-4-5)" });
  assert.deepEqual(readField({ name: "f", type: "boolean" }, true), { value: true });
  const form = readForm(inputFields(TDD_INPUTS), { task: "leap years", test_command: "", max_rounds: "4" });
  assert.deepEqual(form, { inputs: { task: "leap years", max_rounds: 4 }, errors: {} });
  assert.deepEqual(inputError("inputs.max_rounds: must be an integer, not str (workflow tdd)"), { field: "max_rounds", message: "must be an integer, not str" });
  assert.equal(inputError("workflow: no workflow called 'x'"), null);
});

const NODES = [
  { id: "write_test", kind: "agent", path: "write_test", next: ["red"] },
  { id: "red", kind: "run", path: "red" },
  {
    id: "fix",
    kind: "loop",
    path: "fix",
    children: [
      { id: "implement", kind: "agent", path: "fix/implement" },
      { id: "check", kind: "run", path: "fix/check" },
    ],
  },
  { id: "sub", kind: "workflow", path: "sub" },
];
const RUN = "00000000-0000-4000-8000-000000000001";
const state = (path, status, version, extra = {}) => ({ kind: "node_state", payload: { run_id: RUN, path, instance: path, status, version, ...extra } });

test("a run's nodes follow the stream; the newest version of a node wins", () => {
  const model = new RunsModel();
  model.load([{ id: RUN, workflow: "tdd", status: "running", nodes: NODES, states: [{ path: "write_test", instance: "write_test", status: "done", version: "2" }] }]);
  const run = model.current();
  assert.equal(model.apply(state("red", "running", 3)), true);
  assert.equal(model.apply(state("red", "done", 4, { outputs: { exit_code: 1 } })), true);
  assert.equal(model.apply(state("red", "running", 3)), false); // late and older: ignored
  model.apply(state("fix", "running", 5, { iteration: 1 }));
  model.apply(state("fix/check", "failed", 6, { instance: "fix[1]/check", error: "boom" }));
  const tree = model.tree(run);
  assert.deepEqual(tree.map((i) => [i.node.id, i.state.status]), [["write_test", "done"], ["red", "done"], ["fix", "running"], ["sub", "waiting"]]);
  assert.deepEqual(tree.map(stateText), ["done", "done: exit 1", "round 2", "waiting"]);
  const check = tree[2].children[1];
  assert.equal(stateText(check), "failed: boom (round 2)");
  assert.deepEqual(model.progress(run), { done: 3, total: 5 });
  assert.equal(model.apply({ kind: "run_finished", payload: { run_id: RUN, status: "failed", outputs: { passed: false }, error: "node fix: boom" } }), true);
  assert.equal(run.status, "failed");
  assert.deepEqual(run.outputs, { passed: false });
});

test("a run or child run not yet listed asks for ListRuns, and child runs sit under their workflow node", () => {
  const model = new RunsModel();
  assert.equal(model.apply({ kind: "run_started", payload: { run_id: RUN, workflow: "tdd", source: "builtin/tdd.yaml" } }), "fetch");
  assert.equal(model.current().nodes, null);
  assert.equal(model.apply(state("write_test", "running", 1)), "fetch");
  const child = "00000000-0000-4000-8000-000000000002";
  assert.equal(model.apply({ kind: "run_started", payload: { run_id: child, workflow: "agent", parent_run_id: RUN, node: "sub" } }), "fetch");
  model.load([
    { id: RUN, workflow: "tdd", status: "running", nodes: NODES, states: [], text: "name: tdd" },
    { id: child, workflow: "agent", status: "running", parentId: RUN, node: "sub", nodes: [{ id: "agent", kind: "agent", path: "agent" }], states: [] },
  ]);
  const run = model.current();
  assert.equal(run.id, RUN, "the newest run of the chat itself, not a child");
  assert.equal(run.text, "name: tdd");
  assert.equal(model.tree(run)[0].state.status, "running", "a state heard before the list is kept");
  assert.deepEqual(model.tree(run)[3].runs.map((r) => r.workflow), ["agent"]);
});

test("a workflow's approval node is a gate with its question and choices, answered with a choice", () => {
  const CHAT = "5c798bc6-0a2d-4a8f-a307-ac9e85e3dd11";
  const m = new ChatModel(CHAT);
  m.load({ messages: [{ id: "u1", ordinal: 1, role: "user", blocks: [{ type: "text", text: "go" }], usage: {} }], resumeSeq: "1" });
  m.take();
  const asked = { approval_id: "ap1", tool_call_id: "node:r/planning/approve", kind: "node", question: "Build this plan?", choices: ["build", "revise", "stop"], node: "planning[0]/approve", tool_name: "", input: {}, turn: 0 };
  m.apply({ chatId: CHAT, seq: "2", kind: "approval_requested", payload: asked, createdUnix: 1_700_000_000 });
  const [gate] = m.pendingGates();
  assert.deepEqual([gate.approval, gate.question, gate.choices, gate.node], ["node", "Build this plan?", ["build", "revise", "stop"], "planning[0]/approve"]);
  assert.ok(m.rows().some((r) => r.kind === "gate"), "no tool call shows it: it has a row of its own");
  m.apply({ chatId: CHAT, seq: "3", kind: "approval_resolved", payload: { approval_id: "ap1", tool_call_id: asked.tool_call_id, status: "answered", choice: "revise", message: "smaller", scope: "" } });
  const settled = m.gates.get(asked.tool_call_id);
  assert.deepEqual(outcome(settled), { status: "answered", label: "Chose “revise”", detail: "with the note “smaller”" });
  assert.equal(approvalGate({ id: "x", toolName: "shell" }).approval, "tool");
  const summary = waitingSummary([{ id: "ap1", chatId: CHAT, kind: "node", question: "Build this plan?", createdUnix: 1 }], []);
  assert.equal(summary.entries[0].text, "Choose: Build this plan?");
});
