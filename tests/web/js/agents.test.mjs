// The agent tree's model: ListAgents, then live agent updates, drawn in tree order.

import { test } from "node:test";
import assert from "node:assert/strict";

import { AgentsModel, mergedInto, normAgent, setAgentWorktree, worktreeActions } from "../../../reliant/web/app/views/agents-model.js";
import { ChatModel } from "../../../reliant/web/app/transcript.js";

test("the tree loads from ListAgents and follows agent updates, children under their parent", () => {
  const m = new AgentsModel();
  m.load({ agents: [{ agentId: "a", name: "lead", task: "t", status: "running", costUsd: 0.5, inputTokens: "10", outputTokens: "5" }] });
  assert.equal(m.size, 1);
  assert.equal(m.rows()[0].agent.tokens, 15, "int64 arrive as strings");
  assert.equal(m.apply({ kind: "message_completed", payload: {} }), false);
  assert.ok(m.apply({ kind: "agent_started", payload: { agent_id: "b", parent_agent_id: "a", name: "kid", status: "running", cost_usd: 0 } }));
  assert.ok(m.apply({ kind: "agent_started", payload: { agent_id: "c", parent_agent_id: "", name: "other", status: "running" } }));
  assert.deepEqual(m.rows().map((r) => [r.agent.name, r.depth]), [["lead", 0], ["kid", 1], ["other", 0]]);
  m.apply({
    kind: "agent_finished",
    payload: { agent_id: "b", parent_agent_id: "a", name: "kid", status: "done", cost_usd: 0.25, worktree: { path: "/w", branch: "reliant/agent-b", state: "active" } },
  });
  const kid = m.rows()[1].agent;
  assert.deepEqual([kid.status, kid.worktree.state], ["done", "active"]);
  assert.equal(m.spentUsd(), 0.75);
  assert.equal(normAgent({ agentId: "x", worktree: null }).worktree, null);
});

test("an agent's worktree says where a merge goes: the worktree it started from, else the project's branch", () => {
  const chats = normAgent({ agentId: "x", status: "done", worktree: { path: "/p/.reliant/worktrees/agent-x", branch: "reliant/agent-x", state: "active", into: "/p/.reliant/worktrees/chat-1" } });
  assert.equal(chats.worktree.into, "/p/.reliant/worktrees/chat-1");
  assert.equal(mergedInto(chats.worktree), "the branch of the worktree it started from, /p/.reliant/worktrees/chat-1");
  assert.match(worktreeActions(chats).find(([action]) => action === "merge")[2], /into the branch of the worktree it started from/);
  const projects = normAgent({ agentId: "y", status: "done", worktree: { path: "/p/.reliant/worktrees/agent-y", branch: "reliant/agent-y", state: "active" } });
  assert.equal(projects.worktree.into, "");
  assert.equal(mergedInto(projects.worktree), "the project's branch");
  assert.match(worktreeActions(projects).find(([action]) => action === "merge")[2], /into the project's branch/);
});

test("a merged agent's worktree can still be removed (one left after the merge), not merged or kept again", () => {
  const merged = normAgent({ agentId: "x", status: "done", worktree: { path: "/p/.reliant/worktrees/agent-x", branch: "reliant/agent-x", state: "merged" } });
  assert.deepEqual(worktreeActions(merged).map(([action]) => action), ["remove"]);
  const removed = normAgent({ agentId: "y", status: "done", worktree: { path: "/p/.reliant/worktrees/agent-y", branch: "reliant/agent-y", state: "removed" } });
  assert.deepEqual(worktreeActions(removed), []);
});

test("removing an agent's worktree with uncommitted changes asks, naming them, and forces only once confirmed", async () => {
  const refused = Object.assign(new Error("not removed: the worktree agent-x has uncommitted changes to 2 files (a.py, b.txt); removing it would delete them: commit or merge them first, or remove it with force. To delete them, remove it with force (REST: ...)"), { code: "failed_precondition" });
  const calls = [];
  const asked = [];
  let answer = false;
  const app = {
    api: {
      async setWorktree(chatId, agentId, action, opts = {}) {
        calls.push([action, Boolean(opts.force)]);
        if (action === "remove" && !opts.force) throw refused;
        return { agentId, worktree: { state: "removed" } };
      },
    },
    async confirm(dialog) {
      asked.push(dialog);
      return answer;
    },
  };
  const agent = { id: "x", name: "fixer" };
  assert.equal(await setAgentWorktree(app, "c", agent, "remove"), null, "declined: nothing removed");
  assert.deepEqual(calls, [["remove", false]]);
  assert.match(asked[0].text, /2 files \(a\.py, b\.txt\).*Remove it anyway\? Those changes are lost\./);
  assert.doesNotMatch(asked[0].text, /REST/);
  answer = true;
  assert.equal((await setAgentWorktree(app, "c", agent, "remove")).worktree.state, "removed");
  assert.deepEqual(calls.slice(1), [["remove", false], ["remove", true]]);
  const running = Object.assign(new Error("agent fixer is still running"), { code: "failed_precondition" });
  app.api.setWorktree = async () => { throw running; };
  await assert.rejects(setAgentWorktree(app, "c", agent, "remove"), /still running/);
  assert.equal(asked.length, 2, "only uncommitted changes are asked about");
});

test("an agent's transcript keeps only its own messages, answer, calls and gates from the chat's stream", () => {
  const m = new ChatModel("c", { agentId: "kid" });
  m.load({
    resumeSeq: "10",
    messages: [
      {
        id: "k1", role: "assistant", ordinal: 3, turn: 1, step: "kid/agent/1", threadId: "t-kid",
        blocks: [{ type: "tool_call", toolCallId: "call_0", toolName: "shell", toolInput: { command: "ls" }, toolState: "completed" }],
      },
    ],
  });
  assert.ok(m.tools.has("call_0@t-kid"), "its calls are known by their call key");
  assert.deepEqual([...m.threads], ["t-kid"]);
  let seq = 10;
  const up = (kind, payload) => m.apply({ seq: ++seq, kind, payload });
  // The chat's own messages and another agent's stay out.
  up("message_queued", { message_id: "u2", text: "hi" });
  up("message_created", { message: { id: "p1", role: "assistant", ordinal: 4, step: "run/agent/2", thread_id: "t-main", blocks: [{ type: "text", text: "parent" }] } });
  up("message_created", { message: { id: "o1", role: "assistant", ordinal: 5, step: "other/agent/1", thread_id: "t-o", blocks: [{ type: "text", text: "other" }] } });
  assert.deepEqual([...m.messages.keys()], ["k1"]);
  // Its streamed answer and the call in it, keyed on its thread.
  m.apply({ seq: 0, kind: "message_started", payload: { message_id: "live", turn: 2, step: "kid/agent/2", thread_id: "t-kid" } });
  m.apply({ seq: 0, kind: "block_started", payload: { message_id: "live", index: 0, type: "tool_call", tool_call_id: "call_0", tool_name: "shell" } });
  m.apply({ seq: 0, kind: "message_started", payload: { message_id: "olive", turn: 3, step: "other/agent/2", thread_id: "t-o" } });
  assert.equal(m.live.size, 1);
  assert.ok(m.toolOwner.get("call_0@t-kid") === "l:2", "the streamed call is its own, not the stored call_0 of another turn");
  // Tool updates: its thread's only; a main-thread call with the same short id is not its.
  up("tool_started", { tool_call_id: "call_0", tool_name: "shell", call_key: "call_0@t-kid", thread_id: "t-kid" });
  up("tool_started", { tool_call_id: "call_0", tool_name: "read" });
  up("tool_started", { tool_call_id: "call_1", tool_name: "read", call_key: "call_1@t-o", thread_id: "t-o" });
  assert.equal(m.tools.get("call_0@t-kid").status, "running");
  assert.ok(!m.tools.has("call_0") && !m.tools.has("call_1@t-o"));
  // Gates: the ones it raised, on its calls' cards; another agent's and the chat's stay out.
  up("approval_requested", { approval_id: "a1", tool_call_id: "call_0", call_key: "call_0@t-kid", tool_name: "shell", agent: { agent_id: "kid", name: "kid" } });
  up("approval_requested", { approval_id: "a2", tool_call_id: "call_9", tool_name: "shell" });
  up("approval_resolved", { approval_id: "a2", tool_call_id: "call_9", status: "approved" });
  assert.deepEqual([...m.gates.keys()], ["call_0@t-kid"]);
  const mark = m.markStale();
  m.mergePending(mark, [{ id: "a1", toolCallId: "call_0@t-kid", chatId: "c", agent: { agentId: "kid" } }, { id: "a3", toolCallId: "x@t-o", chatId: "c", agent: { agentId: "other" } }], []);
  assert.deepEqual([...m.gates.keys()], ["call_0@t-kid"]);
  assert.equal(m.gates.get("call_0@t-kid").status, "pending");
  up("error", { message: "the chat's" });
  assert.equal(m.notices.size, 0);

  // The chat's own transcript is as before: the agent's messages and calls stay out of it.
  const chat = new ChatModel("c");
  chat.addAgents(["kid"]);
  chat.apply({ seq: 1, kind: "message_created", payload: { message: { id: "k2", role: "assistant", ordinal: 6, step: "kid/agent/3", blocks: [] } } });
  chat.apply({ seq: 2, kind: "tool_started", payload: { tool_call_id: "call_0", tool_name: "shell", call_key: "call_0@t-kid", thread_id: "t-kid" } });
  chat.apply({ seq: 3, kind: "tool_started", payload: { tool_call_id: "call_5", tool_name: "shell" } });
  assert.equal(chat.messages.size, 0);
  assert.deepEqual([...chat.tools.keys()], ["call_5"]);
});
