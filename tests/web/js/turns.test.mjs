// How a tool call ended (outcomes.js), a turn as one unit (turns.js), and the small parsers of the
// composer and the MCP tab: model choices, @path mentions, command lines.
import assert from "node:assert/strict";
import { test } from "node:test";

import { groupSummary, outcomeWord, toolOutcome, withoutExitNote } from "../../../reliant/web/app/outcomes.js";
import { displayRows, turnItems, turnModels, turnUsage } from "../../../reliant/web/app/turns.js";
import { ChatModel } from "../../../reliant/web/app/transcript.js";
import { matchChoices, modelProblem, refusedForKey } from "../../../reliant/web/app/model-field.js";
import { insertMention, mentionAt } from "../../../reliant/web/app/path-complete.js";
import { parseEnv, splitCommand } from "../../../reliant/web/app/panels/mcp.js";

test("a command that exited non-zero is not ok, and every other ending has its own outcome", () => {
  const shell = (patch) => ({ name: "shell", status: "ok", error: "", data: { exit_code: 0 }, resultText: null, ...patch });
  assert.equal(toolOutcome(shell({})), "ok");
  assert.equal(toolOutcome(shell({ data: { exit_code: 1 } })), "exit_nonzero");
  assert.equal(outcomeWord("exit_nonzero", shell({ data: { exit_code: 2 } })), "exit 2");
  assert.equal(toolOutcome(shell({ status: "error", error: "command timed out after 5s", data: { exit_code: null, timed_out: true } })), "timeout");
  assert.equal(toolOutcome({ status: "error", error: "refused: ../x is outside the workspace /w" }), "refused");
  assert.equal(toolOutcome({ status: "error", error: "file not found: a.txt" }), "error");
  assert.equal(toolOutcome({ status: "interrupted", error: "the daemon restarted while this tool was running" }), "interrupted");
  assert.equal(toolOutcome({ status: "interrupted", error: "cancelled by the user" }), "cancelled");
  assert.equal(toolOutcome({ status: "denied", error: "The user denied this tool call." }), "denied");
  assert.equal(toolOutcome({ status: "running" }), "running");
  // The payload's own word wins (newer updates carry it).
  assert.equal(toolOutcome(shell({ outcome: "timeout" })), "timeout");
  // A snapshot: the state of the call and the result the model was given.
  assert.equal(toolOutcome({ status: "error", error: "", resultIsError: true, resultText: "refused: /etc is outside" }), "refused");
  // An older transcript where a stop left the call pending, but its result says how it ended.
  assert.equal(toolOutcome({ status: "pending", resultText: "interrupted: cancelled by the user", resultIsError: true }), "cancelled");
});

test("the exit code is said once: the note the output carries is dropped when the card says it", () => {
  assert.equal(withoutExitNote("FAILED (failures=2)\n[exit code 1]", { data: { exit_code: 1 } }), "FAILED (failures=2)");
  assert.equal(withoutExitNote("ok\n[exit code 0]\n", { data: { exit_code: 0 } }), "ok");
  assert.equal(withoutExitNote("[exit code 1] in the middle\nmore", { data: { exit_code: 1 } }), "[exit code 1] in the middle\nmore");
  assert.equal(withoutExitNote("no data\n[exit code 3]", { data: null }), "no data\n[exit code 3]");
});

test("a group of tool calls reads as one line, with what did not go well", () => {
  const calls = [
    { name: "view", status: "ok" },
    { name: "shell", status: "ok", data: { exit_code: 1 } },
    { name: "view", status: "ok" },
    { name: "edit", status: "denied" },
    { name: "shell", status: "ok", data: { exit_code: 0 } },
    { name: "view", status: "ok" },
  ];
  const sum = groupSummary(calls);
  assert.equal(sum.text, "ran 6 tools: 3 view, 2 shell, 1 edit");
  assert.deepEqual(sum.problems.map((p) => [p.outcome, p.count]), [["exit_nonzero", 1], ["denied", 1]]);
  assert.equal(groupSummary([{ name: "grep", status: "running" }, { name: "glob", status: "ok" }]).text, "running 2 tools: 1 grep, 1 glob");
});

const CHAT = "c0ffee00-0000-4000-8000-000000000001";
let seq = 0;
const u = (kind, payload) => ({ chatId: CHAT, seq: String(++seq), kind, payload, createdUnix: 1_700_000_000 });
const assistant = (id, ordinal, turn, blocks, usage = { inputTokens: "100", outputTokens: "10", costUsd: 0.01 }) => ({
  id, ordinal, role: "assistant", model: "scripted:demo", turn, blocks, usage, createdUnix: 2,
});
const user = (id, ordinal, text) => ({ id, ordinal, role: "user", blocks: [{ type: "text", text }], usage: {}, createdUnix: 1 });
const call = (id, name) => ({ type: "tool_call", toolCallId: id, toolName: name, toolInput: {} });

test("every step between two user messages is one turn row, keyed the same while it streams and once stored", () => {
  seq = 0;
  const m = new ChatModel(CHAT);
  m.load({
    messages: [
      user("u1", 1, "fix it"),
      assistant("a1", 2, 1, [{ type: "text", text: "Looking." }, call("t1", "view")]),
      { id: "r1", ordinal: 3, role: "tool", blocks: [], usage: {}, createdUnix: 2 },
      assistant("a2", 4, 2, [call("t2", "view"), call("t3", "shell")]),
    ],
    resumeSeq: "0",
  });
  m.apply(u("message_started", { message_id: "tmp", turn: 3, attempt: 1, model: "scripted:demo" }));
  m.apply(u("block_delta", { message_id: "tmp", index: 0, type: "text", text: "All" }));
  let rows = displayRows(m.rows());
  assert.deepEqual(rows.map((r) => [r.key, r.kind]), [["m:u1", "message"], ["t:m:u1:0", "turn"]]);
  const turn = rows[1];
  assert.deepEqual(turn.members.map((x) => x.key), ["m:a1", "m:a2", "l:3"]);
  let items = turnItems(turn.members);
  // The view call of step 1 and the two calls of step 2 are consecutive: one group.
  assert.deepEqual(items.map((i) => [i.type, i.key]), [["block", "text:s1:0"], ["group", "g:t1"], ["block", "text:s3:0"]]);
  assert.deepEqual(items[1].calls.map((c) => c.toolCallId), ["t1", "t2", "t3"]);
  m.apply(u("message_completed", { message: { ...assistant("a3", 5, 3, [{ type: "text", text: "All done." }]), usage: { input_tokens: 100, output_tokens: 10 }, cost_usd: 0.01 } }));
  rows = displayRows(m.rows());
  assert.equal(rows[1].key, "t:m:u1:0", "the same row once the streaming step is stored");
  items = turnItems(rows[1].members);
  assert.equal(items[2].key, "text:s3:0", "and the same item: its text is not drawn again");
  assert.deepEqual(turnModels(rows[1].members), ["scripted:demo"]);
  const usage = turnUsage(rows[1].members);
  assert.deepEqual([usage.steps, usage.input, usage.output], [3, 300, 30]);
  assert.ok(Math.abs(usage.cost - 0.03) < 1e-9);
});

test("a single call stays a card of its own; text between calls splits the groups; a new user message starts a new turn", () => {
  const members = [
    { key: "m:a", kind: "message", item: { turn: 1, blocks: [call("x1", "view"), { type: "text", text: "then" }, call("x2", "grep"), call("x3", "glob")] } },
  ];
  assert.deepEqual(turnItems(members).map((i) => i.key), ["c:x1", "text:s1:1", "g:x2"]);
  const rows = displayRows([
    { key: "m:u1", kind: "message", item: { role: "user" } },
    { key: "m:a1", kind: "message", item: { role: "assistant" } },
    { key: "n:5", kind: "notice", item: {} },
    { key: "m:a2", kind: "message", item: { role: "assistant" } },
    { key: "m:u2", kind: "message", item: { role: "user" } },
    { key: "l:9", kind: "live", item: { turn: 9, blocks: [] } },
    { key: "m:q", kind: "queued", item: { role: "user", queued: true } },
  ]);
  assert.deepEqual(rows.map((r) => r.key), ["m:u1", "t:m:u1:0", "n:5", "t:m:u1:1", "m:u2", "t:m:u2:0", "m:q"]);
});

test("a step a limit cut short says so after what it wrote, from the snapshot and from the stream alike", () => {
  seq = 0;
  const cut = "the model reached its output limit (max_tokens 8192)";
  const m = new ChatModel(CHAT);
  m.load({ messages: [user("u1", 1, "plan it"), { ...assistant("a1", 2, 1, [{ type: "text", text: "First," }, call("t1", "view")]), cut }], resumeSeq: "0" });
  m.apply(u("message_completed", { message: { id: "a2", ordinal: 3, role: "assistant", turn: 2, blocks: [{ type: "text", text: "Then" }], usage: {}, cost_usd: 0, cut } }));
  m.apply(u("message_completed", { message: { id: "a3", ordinal: 4, role: "assistant", turn: 3, blocks: [{ type: "text", text: "Done." }], usage: {}, cost_usd: 0, cut: "" } }));
  const items = turnItems(displayRows(m.rows())[1].members);
  assert.deepEqual(items.map((i) => i.key), ["text:s1:0", "c:t1", "cut:s1", "text:s2:0", "cut:s2", "text:s3:0"]);
  assert.equal(items[2].text, cut);
});

test("the model field suggests what matches every typed word, and says what a model looks like", () => {
  const choices = [
    { model: "anthropic:claude-sonnet-4-6", label: "Claude Sonnet 4.6", source: "provider" },
    { model: "openai:gpt-5.4", label: "", source: "provider" },
    { model: "scripted:demo", label: "scripted, offline", source: "default" },
  ];
  assert.deepEqual(matchChoices(choices, "sonnet").map((c) => c.model), ["anthropic:claude-sonnet-4-6"]);
  assert.deepEqual(matchChoices(choices, "claude 4.6").map((c) => c.model), ["anthropic:claude-sonnet-4-6"]);
  assert.deepEqual(matchChoices(choices, "offline").map((c) => c.model), ["scripted:demo"]);
  assert.equal(matchChoices(choices, "").length, 3);
  assert.equal(modelProblem("openai:my-finetune"), "");
  assert.match(modelProblem("gpt-5"), /provider:model/);
  assert.match(modelProblem(""), /Choose a model/);
  const refused = "model: 'openai:x' cannot be called: openai: no API key configured: set RELIANT_OPENAI_API_KEY";
  assert.ok(refusedForKey(`Not sent: ${refused}`), "the way to Settings is offered");
  assert.ok(!refusedForKey("Not sent: unknown model 'gpt-5'"));
});

test("@path mentions: found at the caret, replaced by the chosen path", () => {
  assert.deepEqual(mentionAt("look at @src/ma", 15), { start: 8, query: "src/ma" });
  assert.deepEqual(mentionAt("@", 1), { start: 0, query: "" });
  assert.equal(mentionAt("mail me@example.com", 19), null, "an address is not a mention");
  assert.equal(mentionAt("@done then more", 15), null);
  const text = "look at @src/ma please";
  assert.deepEqual(insertMention(text, 8, 15, "src/main.py"), { text: "look at @src/main.py please", caret: 20 });
  assert.deepEqual(insertMention("@sr", 0, 3, "src/"), { text: "@src/", caret: 5 }, "a directory goes on being completed");
  assert.deepEqual(insertMention("see @a", 4, 6, "a.txt"), { text: "see @a.txt ", caret: 11 });
});

test("the MCP tab reads a command line like a shell and NAME=value lines", () => {
  assert.deepEqual(splitCommand(`npx -y "@scope/server files" --root '/a b' c\\ d`), ["npx", "-y", "@scope/server files", "--root", "/a b", "c d"]);
  assert.deepEqual(splitCommand("   "), []);
  assert.deepEqual(parseEnv("TOKEN=${TOKEN}\n# comment\n\nMODE = fast=yes"), { TOKEN: "${TOKEN}", MODE: "fast=yes" });
});
