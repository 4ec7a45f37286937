// A chat's sub-agents as the agent tree draws them: loaded from ListAgents, kept live by the
// agent_started / agent_status / agent_finished updates (the same fields, snake_case).

const AGENT_KINDS = new Set(["agent_started", "agent_status", "agent_finished"]);

/** One agent from an update's payload or a ListAgents Agent (lowerCamelCase, int64 as strings). */
const WORKTREE_ACTIONS = [
  ["merge", "Merge", "Merge its branch into {into} (refused, changing nothing, on a conflict)"],
  ["keep", "Keep", "Keep the worktree as it is (merge or remove it later)"],
  ["remove", "Remove", "Remove the worktree and its branch"],
];

// Where an agent's worktree is merged: the worktree its spawner worked in (the chat's or the parent
// agent's), else the project's checkout.
export function mergedInto(wt) {
  return wt && wt.into ? `the branch of the worktree it started from, ${wt.into}` : "the project's branch";
}

// What the user can do with an agent's worktree now, as [action, label, title]: nothing while the
// agent runs; merge, keep or remove an active one; merge or remove a kept one; remove a merged one's
// (left when the user changed it after the merge; the api says so when it is gone already).
export function worktreeActions(a) {
  const wt = a && a.worktree;
  if (!wt || a.status === "running") return [];
  if (wt.state === "merged") return [["remove", "Remove", "Remove the worktree if it was left after the merge"]];
  return WORKTREE_ACTIONS.filter(([action]) => wt.state === "active" || (wt.state === "kept" && action !== "keep")).map(
    ([action, label, title]) => [action, label, title.replace("{into}", mergedInto(wt))],
  );
}

// An agent's worktree merged, kept or removed (the Agent as it is then). A removal the api refuses
// for uncommitted changes (its error names the files) is asked about, and forced only once the user
// confirms losing them; null when they do not.
export async function setAgentWorktree(app, chatId, agent, action) {
  try {
    return await app.api.setWorktree(chatId, agent.id, action);
  } catch (err) {
    if (action !== "remove" || !err || err.code !== "failed_precondition" || !/uncommitted changes/.test(err.message)) throw err;
    const sure = await app.confirm({
      title: `${agent.name || "The agent"}'s worktree has changes that are not committed`,
      text: `${err.message.split(". To delete them")[0]}. Remove it anyway? Those changes are lost.`,
      ok: "Remove anyway",
    });
    return sure ? app.api.setWorktree(chatId, agent.id, action, { force: true }) : null;
  }
}

export function normAgent(a) {
  const wt = a.worktree || null;
  return {
    id: String(a.agent_id || a.agentId || ""),
    parentId: String(a.parent_agent_id || a.parentAgentId || ""),
    name: String(a.name || ""),
    task: String(a.task || ""),
    model: String(a.model || ""),
    workflow: String(a.workflow || ""),
    status: String(a.status || "running"),
    costUsd: Number(a.cost_usd ?? a.costUsd ?? 0),
    tokens: Number(a.input_tokens ?? a.inputTokens ?? 0) + Number(a.output_tokens ?? a.outputTokens ?? 0),
    worktree: wt && wt.path ? { path: String(wt.path), branch: String(wt.branch || ""), state: String(wt.state || ""), into: String(wt.into || "") } : null,
    error: String(a.error || ""),
  };
}

export class AgentsModel {
  constructor() {
    this.agents = new Map(); // id -> agent, in the order they were spawned
  }

  get size() {
    return this.agents.size;
  }

  load(response) {
    this.agents = new Map();
    for (const a of (response && response.agents) || []) this.put(normAgent(a));
  }

  put(agent) {
    if (agent.id) this.agents.set(agent.id, agent);
  }

  /** An update of the chat: true when it changed an agent. */
  apply(update) {
    if (!AGENT_KINDS.has(update.kind) || !update.payload) return false;
    this.put(normAgent(update.payload));
    return true;
  }

  /** The agents in tree order, each with its depth under the chat's own agent (0: a child of it). */
  rows() {
    const children = new Map();
    for (const a of this.agents.values()) {
      const parent = this.agents.has(a.parentId) ? a.parentId : "";
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(a);
    }
    const out = [];
    const walk = (parent, depth) => {
      for (const a of children.get(parent) || []) {
        out.push({ agent: a, depth });
        walk(a.id, depth + 1);
      }
    };
    walk("", 0);
    return out;
  }

  spentUsd() {
    let sum = 0;
    for (const a of this.agents.values()) sum += a.costUsd;
    return sum;
  }
}
