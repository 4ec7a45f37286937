// Approvals and questions in the transcript model (from the stream and from ListPending* after a
// snapshot, idempotently), the prefix offered for always-allowing a shell command, what a settled
// gate says, and the cross-chat summary behind the "waiting" button.
import assert from "node:assert/strict";
import { test } from "node:test";

import { approvalGate, commandPrefix, gateAgent, outcome, questionGate, waitingSummary } from "../../../reliant/web/app/gates.js";
import { ChatModel } from "../../../reliant/web/app/transcript.js";

const CHAT = "5c798bc6-0a2d-4a8f-a307-ac9e85e3dd11";
let seq = 0;
const u = (kind, payload, at = 1_700_000_000) => ({ chatId: CHAT, seq: String(++seq), kind, payload, createdUnix: at });

function withCall(toolCallId = "call_1_0", toolName = "shell", input = { command: "echo hi >> out" }) {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({
    messages: [
      { id: "u1", ordinal: 1, role: "user", blocks: [{ type: "text", text: "go" }], usage: {} },
      { id: "a1", ordinal: 2, role: "assistant", turn: 1, blocks: [{ type: "tool_call", toolCallId, toolName, toolInput: input, toolState: "pending" }], usage: {} },
    ],
    resumeSeq: "5",
  });
  seq = 5;
  m.take();
  return m;
}

const requested = (id = "call_1_0", approvalId = "ap1", at) =>
  u("approval_requested", { approval_id: approvalId, tool_call_id: id, tool_name: "shell", input: { command: "echo hi >> out" }, turn: 1 }, at);

test("an approval shows in the row of its call, pending, then resolved as the stream says", () => {
  const m = withCall();
  m.apply(requested());
  const changes = m.take();
  assert.deepEqual([...changes.changed], ["m:a1"]);
  assert.equal(changes.gates, true);
  assert.deepEqual(m.pendingGates().map((g) => [g.kind, g.id, g.toolName, g.input.command]), [["approval", "ap1", "shell", "echo hi >> out"]]);
  assert.deepEqual(m.rows().map((r) => r.kind), ["message", "message"]); // no row of its own
  m.apply(u("approval_resolved", { approval_id: "ap1", tool_call_id: "call_1_0", status: "approved", scope: "chat", message: "" }));
  assert.deepEqual(m.pendingGates(), []);
  const gate = m.gates.get("call_1_0");
  assert.equal(gate.status, "approved");
  assert.deepEqual(outcome(gate), { status: "approved", label: "Approved", detail: "always in this chat" });
  // A replay of the same updates changes nothing.
  seq = 5;
  assert.equal(m.apply(requested()), false);
  assert.equal(m.gates.get("call_1_0").status, "approved");
});

test("a deny's message is kept; the call's denied state finishes the card", () => {
  const m = withCall();
  m.apply(requested());
  m.apply(u("approval_resolved", { approval_id: "ap1", tool_call_id: "call_1_0", status: "denied", scope: "", message: "The user denied this tool call. Their message: not now" }));
  m.apply(u("tool_finished", { tool_call_id: "call_1_0", tool_name: "shell", status: "denied", output: "", error: "denied", data: {}, duration_ms: 0 }));
  const gate = m.gates.get("call_1_0");
  assert.equal(outcome(gate).label, "Denied");
  assert.match(outcome(gate).detail, /not now/);
  assert.equal(m.tools.get("call_1_0").status, "denied");
});

test("after a snapshot, ListPending* adds what the stream did not replay, once", () => {
  const m = withCall();
  const mark = m.markStale();
  const listed = [{ id: "ap1", chatId: CHAT, toolCallId: "call_1_0", toolName: "shell", input: { command: "echo hi >> out" }, status: "pending", createdUnix: 1_700_000_001, turn: 1 }];
  assert.equal(m.mergePending(mark, listed, []), true);
  assert.equal(m.pendingGates().length, 1);
  assert.equal(m.take().changed.has("m:a1"), true);
  // The stream then replays its request: still one gate.
  m.apply(requested());
  assert.equal(m.pendingGates().length, 1);
  // Listing it again adds nothing.
  assert.equal(m.mergePending(m.markStale(), listed, []), false);
  // Another chat's gates are not this chat's.
  assert.equal(m.mergePending(m.markStale(), [{ ...listed[0], chatId: "other", toolCallId: "x" }, ...listed], []), false);
  assert.equal(m.gates.has("x"), false);
});

test("a list that raced a resolution does not bring the approval back", () => {
  const m = withCall();
  const mark = m.markStale();
  // The stream resolves it while ListPendingApprovals (read a moment earlier) is on its way.
  m.apply(u("approval_resolved", { approval_id: "ap1", tool_call_id: "call_1_0", status: "approved", scope: "", message: "" }));
  m.mergePending(mark, [{ id: "ap1", chatId: CHAT, toolCallId: "call_1_0", toolName: "shell", input: {}, createdUnix: 1 }], []);
  assert.equal(m.gates.get("call_1_0").status, "approved");
  assert.deepEqual(m.pendingGates(), []);
});

test("a pending gate that a fresh list leaves out was settled elsewhere; one heard of since stays", () => {
  const m = withCall();
  m.apply(requested("call_1_0", "ap1", 10));
  const mark = m.markStale();
  // While the list is read, a second approval arrives on the stream (it may not be in the list).
  m.apply(u("approval_requested", { approval_id: "ap2", tool_call_id: "call_9_9", tool_name: "edit", input: { path: "a" }, turn: 1 }, 20));
  assert.equal(m.mergePending(mark, [], []), true);
  assert.equal(m.gates.get("call_1_0").status, "settled");
  assert.equal(m.gates.get("call_9_9").status, "pending");
  // Its call ran: the settled gate reads as approved.
  m.apply(u("tool_started", { tool_call_id: "call_1_0", tool_name: "shell", input: {}, turn: 1 }));
  assert.equal(outcome(m.gates.get("call_1_0"), m.tools.get("call_1_0")).label, "Approved");
  // The second one has no call in the transcript: it gets a row of its own.
  assert.deepEqual(m.rows().map((r) => r.kind), ["message", "message", "gate"]);
});

test("a tool that starts or finishes settles a gate whose resolution was not seen", () => {
  const m = withCall();
  m.apply(requested());
  m.apply(u("tool_finished", { tool_call_id: "call_1_0", tool_name: "shell", status: "denied", output: "", error: "", data: {}, duration_ms: 0 }));
  const gate = m.gates.get("call_1_0");
  assert.equal(gate.status, "settled");
  assert.equal(outcome(gate, m.tools.get("call_1_0")).label, "Denied");
});

test("questions: asked, answered with the answers, cancelled when the turn ends", () => {
  const m = withCall("call_2_0", "ask_user", { questions: [{ question: "Which?", choices: ["a", "b"] }, { question: "Why?" }] });
  m.apply(u("question_asked", { question_id: "q1", tool_call_id: "call_2_0", questions: [{ question: "Which?", choices: ["a", "b"] }, { question: "Why?" }], turn: 1 }));
  const gate = m.pendingGates()[0];
  assert.equal(gate.kind, "question");
  assert.deepEqual(gate.questions, [{ question: "Which?", choices: ["a", "b"] }, { question: "Why?", choices: [] }]);
  m.apply(u("question_answered", { question_id: "q1", tool_call_id: "call_2_0", answers: ["b", "because"], status: "answered" }));
  assert.deepEqual(m.gates.get("call_2_0").answers, ["b", "because"]);
  assert.equal(outcome(m.gates.get("call_2_0")).label, "Answered");

  const c = withCall("call_3_0", "ask_user", { questions: [{ question: "Go?" }] });
  c.apply(u("question_asked", { question_id: "q2", tool_call_id: "call_3_0", questions: [{ question: "Go?" }], turn: 1 }));
  c.apply(u("question_answered", { tool_call_id: "call_3_0", answers: [], status: "cancelled" }));
  assert.equal(outcome(c.gates.get("call_3_0")).label, "Not answered");
});

test("the pending ones come oldest first; the mode follows chat_updated", () => {
  const m = withCall();
  m.setChat({ status: "waiting", mode: "manual" });
  assert.equal(m.chat.mode, "manual");
  m.apply(u("approval_requested", { approval_id: "late", tool_call_id: "b", tool_name: "shell", input: {}, turn: 1 }, 30));
  m.apply(u("approval_requested", { approval_id: "early", tool_call_id: "a", tool_name: "shell", input: {}, turn: 1 }, 10));
  assert.deepEqual(m.pendingGates().map((g) => g.id), ["early", "late"]);
  m.apply(u("chat_updated", { mode: "plan" }));
  assert.equal(m.chat.mode, "plan");
  assert.equal(m.take().chat, true);
});

test("the prefix offered for always-allowing a shell command", () => {
  assert.equal(commandPrefix("echo hi >> out"), "echo");
  assert.equal(commandPrefix("  git status --short"), "git status");
  assert.equal(commandPrefix("git --no-pager log"), "git");
  assert.equal(commandPrefix("npm  run build"), "npm  run"); // as typed: a real prefix of the command
  assert.equal(commandPrefix("python3 -m pytest -q tests"), "python3 -m pytest");
  assert.equal(commandPrefix("python -m"), "python");
  assert.equal(commandPrefix("ls;rm -rf /"), "");
  assert.equal(commandPrefix("make && make install"), "make");
  assert.equal(commandPrefix(""), "");
  for (const command of ["git status --short", "npm  run build", "pytest -x", "cargo test"]) {
    assert.ok(command.startsWith(commandPrefix(command)), command);
  }
});

test("what a settled gate says", () => {
  const base = { kind: "approval", scope: "", message: "", answers: [], questions: [] };
  assert.equal(outcome({ ...base, status: "expired" }).label, "Expired");
  assert.equal(outcome({ ...base, status: "cancelled" }).detail, "the turn ended before an answer");
  assert.equal(outcome({ ...base, status: "approved", scope: "prefix", prefix: "git status" }).detail, "always for commands starting with “git status”");
  assert.equal(outcome({ ...base, status: "approved", scope: "project" }).detail, "always in this project");
  assert.equal(outcome({ ...base, status: "settled" }, null).label, "Answered elsewhere");
  assert.equal(outcome({ ...base, kind: "question", status: "settled" }, { status: "ok" }).label, "Answered");
});

test("everything that waits, across chats, oldest first", () => {
  const s = waitingSummary(
    [
      { id: "a2", chatId: "c1", chatTitle: "Build", toolName: "shell", input: { command: "make" }, createdUnix: 20 },
      { id: "a1", chatId: "c2", chatTitle: "", toolName: "edit", input: { path: "x.py", old_string: "a", new_string: "b" }, createdUnix: 10 },
    ],
    [{ id: "q1", chatId: "c1", chatTitle: "Build", questions: [{ question: "Which target?" }, { question: "Why?" }], createdUnix: 15 }],
  );
  assert.equal(s.total, 3);
  assert.deepEqual(s.entries.map((e) => [e.id, e.chatTitle, e.text]), [
    ["a1", "New chat", "Approve edit: x.py"],
    ["q1", "Build", "Question: Which target? (+1)"],
    ["a2", "Build", "Approve shell: make"],
  ]);
  assert.deepEqual([...s.chats], [["c2", 1], ["c1", 2]]);
  assert.equal(waitingSummary([], []).total, 0);
});

test("a sub-agent's gates name it, in the waiting list and on the card", () => {
  const tag = { agentId: "0a1b2c3d-4e5f", name: "kid", task: "count once" };
  const s = waitingSummary(
    [{ id: "a1", chatId: "c1", toolName: "shell", input: { command: "make" }, createdUnix: 1, agent: tag }],
    [{ id: "q1", chatId: "c1", questions: [{ question: "Which?" }], createdUnix: 2, agent: tag }],
  );
  assert.deepEqual(s.entries.map((e) => e.text), ["kid: Approve shell: make", "kid: Question: Which?"]);
  const fromUpdate = approvalGate({ approval_id: "a1", tool_name: "shell", agent: { agent_id: "0a1b", name: "kid", task: "t" } });
  assert.deepEqual(fromUpdate.agent, { id: "0a1b", name: "kid", task: "t" });
  assert.deepEqual(questionGate({ question_id: "q1", agent: tag }).agent, { id: "0a1b2c3d-4e5f", name: "kid", task: "count once" });
  assert.equal(gateAgent({ id: "a2" }), null, "the chat's own agent's gates carry none");
  assert.equal(approvalGate({ id: "a2", toolName: "shell" }).agent, null);
});
