// The agent tree beside a chat's transcript, once the chat has sub-agents: each agent's name,
// task, status, model, cost and tokens, live; an ended agent's worktree can be merged (a conflict
// is named, nothing changes), kept or removed. In a chat on a workflow it sits under the run panel.
// An agent's name (or a click on its row) opens its own transcript (views/agent.js).

import { h } from "../dom.js";
import { cost, tokens } from "../format.js";
import { AgentsModel, normAgent, setAgentWorktree, worktreeActions } from "./agents-model.js";

const STATUS_ICONS = { running: "◐", done: "✓", failed: "✗", cancelled: "■" };

export class AgentTree {
  /** `onAgents(ids)`: told the agents ListAgents knows (the transcript leaves their threads out). */
  constructor(app, chatId, root, onAgents = () => {}) {
    this.onAgents = onAgents;
    this.app = app;
    this.chatId = chatId;
    this.root = root; // the chat view: laid out with the tree once there is one
    this.model = new AgentsModel();
    this.busy = false;
    this.list = h("ul.agent-list");
    this.spent = h("span.agent-spent");
    this.errorEl = h("p.gate-error", { role: "alert" });
    this.el = h("aside.agent-panel", { "aria-label": "Agents", hidden: true }, h("header.agent-head", null, h("strong", null, "Agents"), this.spent), this.list, this.errorEl);
  }

  load() {
    return this.app.api
      .listAgents(this.chatId)
      .then((response) => {
        this.model.load(response);
        this.onAgents([...this.model.agents.keys()]);
        this.render();
      })
      .catch(() => {}); // the next agent update draws it
  }

  apply(updates) {
    let changed = false;
    for (const update of updates) if (this.model.apply(update)) changed = true;
    if (changed) this.render();
  }

  async act(agent, action) {
    if (this.busy) return;
    this.busy = true;
    this.errorEl.textContent = "";
    try {
      const done = await setAgentWorktree(this.app, this.chatId, agent, action);
      if (done) this.model.put(normAgent(done));
    } catch (err) {
      this.errorEl.textContent = `${agent.name}: ${(err && err.message) || err}`;
    } finally {
      this.busy = false;
      this.render();
    }
  }

  render() {
    const shown = this.model.size > 0;
    this.el.hidden = !shown;
    if (!this.el.closest(".wf-run-panel")) this.root.classList.toggle("with-agents", shown);
    this.spent.textContent = shown ? cost(this.model.spentUsd()) : "";
    this.list.replaceChildren(...this.model.rows().map(({ agent, depth }) => this.row(agent, depth)));
  }

  row(a, depth) {
    const wt = a.worktree;
    const offered = worktreeActions(a);
    const actions = offered.length
      ? h("span.agent-actions", null, ...offered.map(([action, label, title]) => h("button.secondary.small", { type: "button", title, disabled: this.busy, onclick: () => this.act(a, action) }, label)))
      : null;
    const href = `/chats/${encodeURIComponent(this.chatId)}/agents/${encodeURIComponent(a.id)}`;
    const row = h(
      "li.agent-row",
      {
        dataset: { status: a.status, agentId: a.id },
        // A click anywhere on the row but its buttons opens the agent (the name is its link, for keys).
        onclick: (event) => {
          if (event.target.closest("a, button") || event.defaultPrevented) return;
          this.app.navigate(href);
        },
      },
      h(
        "div.agent-line",
        null,
        h(`span.wf-state-icon.wf-state-${a.status}`, { "aria-hidden": "true" }, STATUS_ICONS[a.status] || "○"),
        h("a.agent-name", { href, "data-link": "", title: `Show ${a.name}'s transcript and tool calls` }, a.name),
        h("span.agent-status", null, a.status),
        h("span.agent-usage", null, `${cost(a.costUsd)} · ${tokens(a.tokens)} tokens`),
      ),
      h("div.agent-task", { title: a.task }, a.task),
      h("div.agent-meta", null, a.model || "the chat's model", a.error ? ` · ${a.error}` : ""),
      wt ? h("div.agent-worktree", null, "worktree ", h("code", null, wt.branch), ` ${wt.state}`, actions) : null,
    );
    row.style.setProperty("--depth", String(depth)); // through the CSSOM: the page's CSP refuses style attributes
    return row;
  }
}

/** The tree of a chat's view (under its run panel when it has one); it shows once agents exist. */
export function attachAgentTree(app, root, chatId, runPanel, onAgents) {
  const tree = new AgentTree(app, chatId, root, onAgents);
  if (runPanel) runPanel.el.append(tree.el);
  else root.append(tree.el);
  tree.load();
  return tree;
}
