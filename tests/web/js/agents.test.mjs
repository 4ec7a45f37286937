// The agent tree's model: ListAgents, then live agent updates, drawn in tree order.

import { test } from "node:test";
import assert from "node:assert/strict";

import { AgentsModel, normAgent } from "../../../reliant/web/app/views/agents-model.js";

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
