// One sub-agent of a chat (/chats/<chat>/agents/<agent>, opened from the agent tree): its
// transcript and tool cards with the chat's own components, live while it runs (its ListMessages
// snapshot, then the chat's stream filtered to it: see ChatModel's agentId), its approvals and
// questions answered here, and, when it works in its own worktree, the worktree's diff with merge /
// keep / remove. The way back to the chat: the link at the top, the crumbs, or Escape.

import { h } from "../dom.js";
import { cost, tokens } from "../format.js";
import { ChatFeed } from "../feed.js";
import { ChatModel } from "../transcript.js";
import { TranscriptView } from "../transcript-view.js";
import { diffView } from "../tools.js";
import { projectCrumbs, showChatProject, statusPill } from "./chat-actions.js";
import { mergedInto, normAgent, setAgentWorktree, worktreeActions } from "./agents-model.js";

const AGENT_KINDS = new Set(["agent_started", "agent_status", "agent_finished"]);
const GATE_KINDS = new Set(["approval_requested", "approval_resolved", "question_asked", "question_answered"]);
const OPEN_LINES = 200; // a file's diff shown open up to this many changed lines

export class AgentView {
  constructor(app, chatId, agentId) {
    this.app = app;
    this.chatId = chatId;
    this.agentId = agentId;
    this.agent = null;
    this.closed = false;
    this.busy = false;
    this.diffShownFor = ""; // the worktree state the diff was read in
    this.onDocumentKey = (event) => this.onKey(event);
  }

  get chatPath() {
    return `/chats/${encodeURIComponent(this.chatId)}`;
  }

  async mount(main) {
    this.model = new ChatModel(this.chatId, { agentId: this.agentId });
    this.root = h("section.chat.agent-view", { "aria-label": "Agent", dataset: { feed: "connecting", agentId: this.agentId } });
    this.back = h("a.back-link", { href: this.chatPath, "data-link": "", title: "Back to the chat (Escape)" }, "← Back to the chat");
    this.titleEl = h("h1.chat-title", null, "Agent");
    this.statusEl = h("span.chat-status", { role: "status" });
    this.totalsEl = h("span.chat-totals", { title: "tokens and cost of this agent" });
    this.taskEl = h("p.agent-view-task");
    this.metaEl = h("p.agent-view-meta");
    this.worktreeEl = h("section.agent-view-worktree", { "aria-label": "Worktree", hidden: true });
    this.errorEl = h("p.gate-error", { role: "alert" });
    this.header = h(
      "header.chat-head.agent-view-head",
      null,
      h("div.chat-head-main", null, this.back, this.titleEl, this.statusEl),
      h("div.chat-head-side", null, this.totalsEl),
    );
    this.scroller = h("div.transcript", { tabindex: "0", "aria-label": "Agent transcript" });
    this.list = h("div.rows", { role: "log", "aria-live": "off" });
    this.scroller.append(this.list);
    this.about = h("div.agent-view-about", null, this.taskEl, this.metaEl, this.worktreeEl, this.errorEl);
    this.root.append(this.header, this.about, this.scroller);
    main.replaceChildren(this.root);
    this.view = new TranscriptView(this.model, this.scroller, this.list, {
      onResume: () => this.resume(),
      gate: {
        approve: (gate, scope, prefix) => this.answerGate(() => this.app.api.approve(gate.id, scope, prefix)),
        deny: (gate, message) => this.answerGate(() => this.app.api.deny(gate.id, message)),
        answer: (gate, answers) => this.answerGate(() => this.app.api.answerQuestion(gate.id, answers)),
        choose: (gate, choice, note) => this.answerGate(() => this.app.api.choose(gate.id, choice, note)),
      },
    });
    document.addEventListener("keydown", this.onDocumentKey);
    this.app.setCrumbs([{ label: "Projects", href: "/" }, { label: "Chat", href: this.chatPath }, { label: "Agent" }]);
    try {
      this.showAgent(normAgent(await this.app.api.getAgent(this.chatId, this.agentId)));
    } catch (err) {
      if (this.closed) return;
      this.gone(err && err.code === "not_found" ? "This chat has no such agent." : `Could not read the agent: ${(err && err.message) || err}`);
      return;
    }
    if (this.closed) return;
    this.feed = new ChatFeed(
      this.app.api,
      this.chatId,
      {
        onSnapshot: (snapshot, chat) => this.onSnapshot(snapshot, chat),
        onUpdates: (updates) => this.onUpdates(updates),
        onState: (state, detail) => this.onFeedState(state, detail),
      },
      { agentId: this.agentId },
    );
    this.back.focus();
  }

  unmount() {
    this.closed = true;
    document.removeEventListener("keydown", this.onDocumentKey);
    if (this.feed) this.feed.close();
    if (this.view) this.view.destroy();
    this.app.status.setFeed("closed");
  }

  gone(text) {
    this.titleEl.textContent = "Agent not found";
    this.errorEl.textContent = text;
    this.scroller.hidden = true;
  }

  // -- the feed --------------------------------------------------------------------------------

  onSnapshot(snapshot, chat) {
    if (this.closed) return;
    this.model.setChat(chat);
    this.model.load(snapshot);
    this.chat = chat;
    this.renderCrumbs();
    const first = !this.rendered;
    this.render();
    if (first) {
      this.rendered = true;
      this.view.scrollToBottom();
      showChatProject(this, chat.projectId, () => this.renderCrumbs());
    } else {
      this.reload(); // after a reconnect: what the stream will not replay
    }
    this.syncGates();
  }

  renderCrumbs() {
    const chat = { label: (this.chat && this.chat.title) || "Chat", href: this.chatPath };
    this.app.setCrumbs([...projectCrumbs(this.project), chat, { label: this.agent ? this.agent.name || "Agent" : "Agent" }]);
  }

  async syncGates() {
    const mark = this.model.markStale();
    let approvals;
    let questions;
    try {
      [approvals, questions] = await Promise.all([this.app.api.listPendingApprovals(this.chatId), this.app.api.listPendingQuestions(this.chatId)]);
    } catch {
      return; // the next snapshot tries again
    }
    if (!this.closed && this.model.mergePending(mark, approvals, questions)) this.render();
  }

  async answerGate(call) {
    try {
      return await call();
    } catch (err) {
      if (err && (err.code === "failed_precondition" || err.code === "not_found")) this.syncGates();
      throw err;
    } finally {
      if (this.app.waiting) this.app.waiting.refreshSoon();
    }
  }

  onUpdates(updates) {
    if (this.closed) return;
    let gates = false;
    for (const update of updates) {
      this.model.apply(update);
      if (AGENT_KINDS.has(update.kind) && update.payload && (update.payload.agent_id || update.payload.agentId) === this.agentId) this.showAgent(normAgent(update.payload));
      if (GATE_KINDS.has(update.kind)) gates = true;
    }
    this.render();
    if (gates && this.app.waiting) this.app.waiting.refreshSoon();
  }

  onFeedState(state, detail) {
    if (this.closed && state !== "closed") return;
    this.root.dataset.feed = state;
    this.app.status.setFeed(state, detail, () => this.feed && this.feed.retryNow());
    if (state === "gone") this.gone(detail.error && detail.error.code === "not_found" ? "This chat no longer exists." : "This chat is not available.");
  }

  async reload() {
    try {
      const agent = normAgent(await this.app.api.getAgent(this.chatId, this.agentId));
      if (!this.closed) this.showAgent(agent);
    } catch {
      // the next agent update shows it
    }
  }

  // -- rendering -------------------------------------------------------------------------------

  render() {
    this.view.render();
    const empty = this.model.messages.size === 0 && !this.model.streaming();
    this.scroller.dataset.empty = String(empty);
  }

  showAgent(agent) {
    const before = this.agent;
    this.agent = agent;
    this.root.dataset.status = agent.status;
    this.titleEl.textContent = agent.name || `agent ${this.agentId.slice(0, 8)}`;
    this.statusEl.replaceChildren(...[statusPill(agent.status), agent.error ? h("span.chat-reason", null, agent.error) : null].filter(Boolean));
    this.totalsEl.textContent = `${tokens(agent.tokens)} tokens · ${cost(agent.costUsd)}`;
    this.taskEl.textContent = agent.task;
    this.metaEl.textContent = `${agent.model || "the chat's model"}${agent.workflow ? ` · ${agent.workflow}` : ""}`;
    this.renderCrumbs();
    const changed = !before || before.status !== agent.status || JSON.stringify(before.worktree) !== JSON.stringify(agent.worktree);
    if (changed) this.renderWorktree();
  }

  renderWorktree() {
    const a = this.agent;
    const wt = a && a.worktree;
    this.worktreeEl.hidden = !wt;
    if (!wt) return;
    const offered = worktreeActions(a);
    const actions = offered.length
      ? h("span.agent-actions", null, ...offered.map(([action, label, title]) => h("button.secondary.small", { type: "button", title, disabled: this.busy, dataset: { action }, onclick: () => this.act(action) }, label)))
      : null;
    const running = a.status === "running" ? h("span.hint", null, " · merge, keep or remove once it ends") : null;
    this.diffEl = this.diffEl || h("div.agent-diff", { "aria-live": "polite" });
    this.worktreeEl.replaceChildren(
      ...[h("h2.agent-view-sub", null, "Worktree ", h("code", null, wt.branch), h("span.agent-wt-state", { dataset: { state: wt.state } }, ` ${wt.state}`), running), actions, this.diffEl].filter(Boolean),
    );
    if (wt.state === "active" || wt.state === "kept") {
      const key = `${wt.state}|${a.status}`;
      if (key !== this.diffShownFor) {
        this.diffShownFor = key;
        this.loadDiff();
      }
    } else {
      this.diffEl.replaceChildren(h("p.hint", null, wt.state === "merged" ? `Merged into ${mergedInto(wt)}.` : "The worktree and its branch were removed."));
    }
  }

  async loadDiff() {
    this.diffEl.replaceChildren(h("p.hint", null, "Reading the diff…"));
    let diff;
    let hunksOf;
    let splitDiff;
    try {
      ({ hunksOf, splitDiff } = await import("../panels/diff.js")); // the side panel's, loaded when needed
      diff = await this.app.api.getAgentDiff(this.chatId, this.agentId);
    } catch (err) {
      if (!this.closed) this.diffEl.replaceChildren(h("p.error", { role: "alert" }, `Could not read the diff: ${(err && err.message) || err}`));
      return;
    }
    if (this.closed) return;
    const pieces = splitDiff(diff.diff || "");
    const totals = pieces.reduce((t, f) => ({ added: t.added + f.added, removed: t.removed + f.removed }), { added: 0, removed: 0 });
    this.diffEl.replaceChildren(
      pieces.length
        ? h("p.agent-diff-head", null, `${pieces.length} file${pieces.length === 1 ? "" : "s"} changed`, h("span.wt-diff-totals", null, ` +${totals.added} −${totals.removed}`))
        : h("p.hint", null, "No changes yet."),
      ...pieces.map((file) =>
        h(
          "details.wt-file",
          { open: file.added + file.removed <= OPEN_LINES, dataset: { path: file.path } },
          h("summary", null, h("code.wt-file-path", null, file.path), h(`span.wt-file-status.wt-change-${file.status}`, null, file.status), h("span.wt-file-stat", null, h("span.wt-add", null, `+${file.added}`), " ", h("span.wt-del", null, `−${file.removed}`))),
          hunksOf(file.text) ? diffView(hunksOf(file.text)) : h("p.hint", null, file.status === "binary" ? "Binary file changed." : "No line changes (mode or name only)."),
        ),
      ),
      ...(diff.truncated ? [h("p.hint", null, "The diff is cut short: it is too large to show whole.")] : []),
    );
  }

  async act(action) {
    if (this.busy) return;
    this.busy = true;
    this.errorEl.textContent = "";
    this.renderWorktree();
    try {
      const agent = { id: this.agentId, name: this.agent && this.agent.name };
      const done = await setAgentWorktree(this.app, this.chatId, agent, action);
      if (done) this.showAgent(normAgent(done));
    } catch (err) {
      this.errorEl.textContent = `${(this.agent && this.agent.name) || "agent"}: ${(err && err.message) || err}`;
    } finally {
      this.busy = false;
      if (!this.closed) this.renderWorktree();
    }
  }

  /** The paused notice's Resume: the chat (and so this agent) goes on. */
  async resume() {
    try {
      await this.app.api.resumeChat(this.chatId);
    } catch (err) {
      this.app.notify(`Could not resume: ${err.message}`, "error");
    }
  }

  /** y / n / a answer the agent's approvals as in the chat's view; Escape goes back to the chat. */
  onKey(event) {
    if (this.view && this.view.answerKey(event)) return;
    if (event.key !== "Escape" || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable], dialog, .gate")) return;
    if (document.querySelector("dialog[open]")) return;
    event.preventDefault();
    this.app.navigate(this.chatPath);
  }
}
