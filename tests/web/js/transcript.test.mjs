// The transcript model on its own: snapshots and updates applied idempotently, in the shapes the
// api sends (ListMessages in protobuf JSON, update payloads in snake_case).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChatModel, NOTICE_LOOKS } from "../../../reliant/web/app/transcript.js";

const CHAT = "5c798bc6-0a2d-4a8f-a307-ac9e85e3dd11";
let seq = 0;
const u = (kind, payload, at = 1_700_000_000) => ({ chatId: CHAT, seq: String(++seq), kind, payload, createdUnix: at });

function userPb(id, ordinal, text, queued = false) {
  return { id, chatId: CHAT, ordinal, role: "user", blocks: [{ type: "text", text }], usage: {}, createdUnix: 1, queued };
}
function assistantPb(id, ordinal, turn, blocks, usage = { inputTokens: "10", outputTokens: "5", costUsd: 0.001 }) {
  return { id, chatId: CHAT, ordinal, role: "assistant", model: "scripted:demo", turn, blocks, usage, createdUnix: 2 };
}
function assistantPayload(id, ordinal, turn, blocks) {
  return { id, ordinal, role: "assistant", model: "scripted:demo", turn, blocks, usage: { input_tokens: 10, output_tokens: 5 }, cost_usd: 0.001, created_at: 2 };
}
function texts(model) {
  return model.rows().map((r) => `${r.kind}:${r.item.blocks ? r.item.blocks.map((b) => b.text || b.toolCallId).join("|") : r.key}`);
}

test("a streamed answer is replaced by the stored message, once", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "3" });
  seq = 3;
  m.apply(u("message_started", { message_id: "tmp1", turn: 1, attempt: 1 }));
  m.apply(u("block_started", { message_id: "tmp1", index: 0, type: "text" }));
  m.apply(u("block_delta", { message_id: "tmp1", index: 0, type: "text", text: "Hel" }));
  m.apply(u("block_delta", { message_id: "tmp1", index: 0, type: "text", text: "lo" }));
  assert.deepEqual(texts(m), ["message:hi", "live:Hello"]);
  assert.equal(m.streaming(), true);
  m.apply(u("message_completed", { message: assistantPayload("a1", 2, 1, [{ type: "text", text: "Hello" }]) }));
  assert.deepEqual(texts(m), ["message:hi", "message:Hello"]);
  assert.equal(m.streaming(), false);
  assert.equal(m.totals().cost, 0.001);
});

test("a later attempt of the same turn replaces the partial answer; an abort drops it", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "0" });
  m.apply(u("message_started", { message_id: "t1", turn: 1, attempt: 1 }));
  m.apply(u("block_delta", { message_id: "t1", index: 0, type: "text", text: "partial answ" }));
  m.apply(u("message_started", { message_id: "t2", turn: 1, attempt: 2 }));
  m.apply(u("block_delta", { message_id: "t1", index: 0, type: "text", text: "er (late, old attempt)" }));
  m.apply(u("block_delta", { message_id: "t2", index: 0, type: "text", text: "fresh" }));
  assert.deepEqual(texts(m), ["message:hi", "live:fresh"]);
  m.apply(u("message_aborted", { turn: 1, reason: "cancelled by the user" }));
  assert.deepEqual(texts(m), ["message:hi"]);
});

test("replaying updates the snapshot already holds shows nothing twice", () => {
  seq = 0;
  const updates = [
    u("message_queued", { message_id: "u1", text: "fix it" }),
    u("message_created", { message: { id: "u1", ordinal: 1, role: "user", turn: null, blocks: [{ type: "text", text: "fix it" }], usage: {}, cost_usd: 0, created_at: 1 } }),
    u("chat_status", { status: "running", reason: "" }),
    u("message_started", { message_id: "tmp", turn: 1, attempt: 1 }),
    u("block_started", { message_id: "tmp", index: 0, type: "text" }),
    u("block_delta", { message_id: "tmp", index: 0, type: "text", text: "Looking." }),
    u("block_started", { message_id: "tmp", index: 1, type: "tool_call", tool_call_id: "call_0_0", tool_name: "view" }),
    u("message_completed", { message: assistantPayload("a1", 2, 1, [{ type: "text", text: "Looking." }, { type: "tool_call", tool_call_id: "call_0_0", tool_name: "view", tool_input: { path: "x.py" } }]) }),
    u("tool_started", { tool_call_id: "call_0_0", tool_name: "view", input: { path: "x.py" }, turn: 1 }),
    u("tool_finished", { tool_call_id: "call_0_0", tool_name: "view", status: "ok", output: "1\tprint()", error: "", data: {}, duration_ms: 2.5 }),
  ];
  // The snapshot raced the completion: it holds the stored answer, and resume_seq points before
  // its message_started (seq 3), so the stream replays the whole answer.
  const m = new ChatModel(CHAT);
  m.load({
    messages: [userPb("u1", 1, "fix it"), assistantPb("a1", 2, 1, [{ type: "text", text: "Looking." }, { type: "tool_call", toolCallId: "call_0_0", toolName: "view", toolInput: { path: "x.py" }, toolState: "executing" }])],
    resumeSeq: "3",
  });
  for (const update of updates) m.apply(update);
  assert.deepEqual(texts(m), ["message:fix it", "message:Looking.|call_0_0"]);
  const tool = m.tools.get("call_0_0");
  assert.equal(tool.status, "ok");
  assert.equal(tool.output, "1\tprint()");
  // Applying everything again (a stream resumed from an older seq) changes nothing.
  for (const update of updates) assert.equal(m.apply(update), false);
  assert.deepEqual(texts(m), ["message:fix it", "message:Looking.|call_0_0"]);
});

test("a queued message shows last, then takes its place when admitted", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "first")], resumeSeq: "0" });
  m.apply(u("message_started", { message_id: "t", turn: 1, attempt: 1 }));
  m.apply(u("block_delta", { message_id: "t", index: 0, type: "text", text: "working" }));
  m.apply(u("message_queued", { message_id: "u2", text: "second" }));
  assert.deepEqual(texts(m), ["message:first", "live:working", "queued:second"]);
  assert.equal(m.queuedCount(), 1);
  m.apply(u("message_completed", { message: assistantPayload("a1", 2, 1, [{ type: "text", text: "working" }]) }));
  m.apply(u("message_created", { message: { id: "u2", ordinal: 3, role: "user", blocks: [{ type: "text", text: "second" }], usage: {}, created_at: 3 } }));
  assert.deepEqual(texts(m), ["message:first", "message:working", "message:second"]);
  assert.equal(m.queuedCount(), 0);
});

test("tool results attach to their call; a fresh snapshot keeps unchanged rows", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  const snapshot = {
    messages: [
      userPb("u1", 1, "go"),
      assistantPb("a1", 2, 1, [{ type: "tool_call", toolCallId: "c1", toolName: "edit", toolInput: { path: "a.py" }, toolState: "completed", durationMs: 1.2, toolData: { diff: "--- a/a.py\n+++ b/a.py\n" } }]),
      { id: "t1", chatId: CHAT, ordinal: 3, role: "tool", turn: 1, blocks: [{ type: "tool_result", toolCallId: "c1", toolName: "edit", text: "edited a.py" }], usage: {}, createdUnix: 3 },
    ],
    resumeSeq: "40",
  };
  m.load(snapshot);
  assert.deepEqual(texts(m), ["message:go", "message:c1"]);
  const tool = m.tools.get("c1");
  assert.equal(tool.status, "ok");
  assert.equal(tool.resultText, "edited a.py");
  assert.equal(tool.data.diff.startsWith("--- a/a.py"), true);
  const before = m.messages.get("a1");
  m.take();
  m.load(snapshot);
  assert.equal(m.messages.get("a1"), before);
  assert.equal(m.take().changed.size, 0);
  assert.equal(m.lastSeq, 40);
});

test("retry waits and pauses are rows; a status change clears the wait", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [], resumeSeq: "0" });
  m.apply(u("chat_status", { status: "running", reason: "" }));
  m.apply(u("retry_wait", { seconds: 12, attempt: 1, reason: "429 slow down" }, 1000));
  const retry = m.rows().find((r) => r.kind === "retry");
  assert.equal(retry.item.until, 1000 * 1000 + 12_000);
  m.apply(u("chat_status", { status: "paused", reason: "no API key" }));
  assert.deepEqual(m.rows().map((r) => r.kind), ["paused"]);
  assert.equal(m.chat.reason, "no API key");
  m.apply(u("error", { message: "boom" }));
  assert.deepEqual(m.rows().map((r) => r.kind), ["notice", "paused"]);
});

test("a notice (the thread was summarised) is shown neutrally, an error as one; an unknown kind is skipped", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "0" });
  const told = "The conversation no longer fit the model's context window: it was summarised, and the model is asked again.";
  assert.equal(m.apply(u("notice", { message: told })), true);
  assert.equal(m.apply(u("error", { message: "boom" })), true);
  assert.equal(m.apply(u("a_kind_from_later", { message: "?" })), true);
  const notices = m.rows().filter((r) => r.kind === "notice");
  assert.deepEqual(notices.map((r) => [r.item.text, r.item.tone]), [[told, "info"], ["boom", "error"]]);
  const [notice, error] = notices.map((r) => NOTICE_LOOKS[r.item.tone]);
  assert.deepEqual(notice, { className: "notice-info", label: "", role: "status" }); // not red, not "Error:", not an alert
  assert.deepEqual(error, { className: "notice-error", label: "Error: ", role: "alert" });
  assert.deepEqual(m.rows().map((r) => r.kind), ["message", "notice", "notice"]);
});

test("deltas are placed by offset: a replayed one adds nothing, one after a gap waits for the stored answer", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "1" });
  const live = (kind, payload) => ({ chatId: CHAT, seq: "0", kind, payload, createdUnix: 1 });
  const delta = (offset, text) => live("block_delta", { message_id: "m", index: 0, type: "text", offset, text });
  m.apply(live("message_started", { message_id: "m", turn: 1, attempt: 1 }));
  m.apply(delta(0, "🌍 one "));
  m.apply(delta(0, "🌍 one ")); // replayed
  m.apply(delta(2, "one two ")); // overlaps: only "two " is new
  assert.deepEqual(texts(m), ["message:hi", "live:🌍 one two "]);
  m.take();
  m.apply(delta(6, "two ")); // nothing new: no re-render either
  assert.equal(m.take().changed.size, 0);
  m.apply(delta(40, "far ahead")); // a gap
  assert.deepEqual(texts(m), ["message:hi", "live:🌍 one two "]);
  seq = 1;
  m.apply(u("message_completed", { message: assistantPayload("a1", 2, 1, [{ type: "text", text: "🌍 one two three" }]) }));
  assert.deepEqual(texts(m), ["message:hi", "message:🌍 one two three"]);
});

test("a sub-agent's thread stays out of the transcript, and its gates do not take its spawner's cards", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "go")], resumeSeq: "0" });
  const spawn = { type: "tool_call", tool_call_id: "call_0_0", tool_name: "spawn_agent", tool_input: { task: "t" } };
  m.apply(u("message_completed", { message: assistantPayload("a1", 2, 1, [spawn]) }));
  m.apply(u("agent_started", { agent_id: "ag1", name: "kid", status: "running" }));
  m.apply(u("message_created", { message: { id: "c1", ordinal: 3, role: "user", step: "ag1/task", blocks: [{ type: "text", text: "t" }], usage: {} } }));
  m.apply(u("message_started", { message_id: "tmp2", turn: 1, attempt: 1, step: "ag1/n/1", thread_id: "th2" }));
  m.apply(u("block_started", { message_id: "tmp2", index: 0, type: "text" }));
  m.apply(u("block_delta", { message_id: "tmp2", index: 0, type: "text", text: "child" }));
  const shell = { type: "tool_call", tool_call_id: "call_0_0", tool_name: "shell", tool_input: { command: "ls" } };
  m.apply(u("message_completed", { message: { ...assistantPayload("c2", 4, 1, [shell]), step: "ag1/n/1" } }));
  m.apply(u("tool_started", { tool_call_id: "call_0_0", call_key: "th2:call_0_0", tool_name: "shell", input: { command: "ls" } }));
  m.apply(u("approval_requested", { approval_id: "ap1", tool_call_id: "call_0_0", call_key: "th2:call_0_1", tool_name: "shell", input: {}, agent: { agent_id: "ag1", name: "kid", task: "t" } }));
  assert.deepEqual(texts(m), ["message:go", "message:call_0_0", "gate:g:th2:call_0_1"]);
  assert.equal(m.tools.get("call_0_0").name, "spawn_agent", "the spawner's card keeps its call");
  m.apply(u("approval_resolved", { approval_id: "ap1", tool_call_id: "call_0_1", call_key: "th2:call_0_1", status: "approved" }));
  assert.equal(m.gates.get("th2:call_0_1").status, "approved");
  assert.equal(m.gates.get("th2:call_0_1").agent.name, "kid");
});

test("the instruction files in effect come with the snapshot and change with a context update", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "2" });
  assert.deepEqual(m.instructions, []); // none listed: protobuf JSON leaves the empty list out
  m.take();
  m.load({ messages: [userPb("u1", 1, "hi")], resumeSeq: "2", instructions: [{ path: "/w/AGENTS.md", shown: "AGENTS.md", scope: "project", directory: "." }] });
  assert.deepEqual(m.instructions, [{ shown: "AGENTS.md", path: "/w/AGENTS.md" }]);
  assert.equal(m.take().chat, true);
  seq = 2;
  const files = [
    { path: "/w/AGENTS.md", shown: "AGENTS.md", scope: "project", directory: ".", chars: 40, truncated: false },
    { path: "/w/src/CLAUDE.md", shown: "src/CLAUDE.md", scope: "project", directory: "src", chars: 12, truncated: false },
  ];
  assert.equal(m.apply(u("context", { prompt_version: 3, workspace: "/w", instructions: files, environment: null })), true);
  assert.deepEqual(m.instructions.map((f) => f.shown), ["AGENTS.md", "src/CLAUDE.md"]);
  assert.equal(m.take().chat, true);
  // The same files again (a replayed update, a fresh snapshot) change nothing.
  m.apply(u("context", { instructions: files }));
  assert.equal(m.take().chat, false);
  // A sub-agent's, taken on its own thread in its own worktree, is not the chat's.
  m.apply(u("agent_started", { agent_id: "a1", name: "solve #1", status: "running" }));
  m.apply(u("message_created", { message: { id: "c1", ordinal: 3, role: "user", step: "a1/main:work#0/prompt", thread_id: "th2", blocks: [], usage: {} } }));
  const its = [{ path: "/w/.reliant/worktrees/agent-a1/AGENTS.md", shown: "AGENTS.md", scope: "project", directory: "." }];
  m.apply(u("context", { thread_id: "th2", workspace: "/w/.reliant/worktrees/agent-a1", instructions: its }));
  assert.deepEqual(m.instructions.map((f) => f.path), ["/w/AGENTS.md", "/w/src/CLAUDE.md"]);
  assert.equal(m.take().chat, false);
  m.apply(u("context", { thread_id: "th1", instructions: files.slice(0, 1) })); // the chat's own thread
  assert.deepEqual(m.instructions.map((f) => f.shown), ["AGENTS.md"]);
  // A sub-agent's transcript leaves them to its chat.
  const agent = new ChatModel(CHAT, { agentId: "a1" });
  agent.load({ messages: [], resumeSeq: "0", instructions: files });
  agent.apply(u("context", { instructions: files }));
  assert.deepEqual(agent.instructions, []);
});

test("a message sent as an image alone shows queued with its image and no empty text", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({ messages: [], resumeSeq: "0" });
  m.apply({ kind: "message_queued", payload: { message_id: "u1", text: "", image_data: [{ mediaType: "image/png", data: "iVBO" }] }, createdUnix: 1 });
  const [row] = m.rows();
  assert.equal(row.kind, "queued");
  assert.deepEqual(row.item.blocks.map((b) => [b.type, b.mediaType, b.text]), [["image", "image/png", "iVBO"]]);
  // The stream's own message_queued (it counts the images) changes nothing.
  m.apply(u("message_queued", { message_id: "u1", text: "", images: 1 }));
  assert.equal(m.rows()[0].item.blocks.length, 1);
});
