// The run panel of a chat on a workflow: beside the transcript (on a phone, a strip that folds
// open), the chat's newest run with every node of its pinned definition and its state — waiting,
// running, done, failed, skipped — loop rounds, child runs under their workflow node, the run's
// outputs once it ends, and a link to the definition. Live: the chat view hands it every update;
// a run it has not seen (or a node of one) makes it read ListRuns again.

import { h } from "../dom.js";
import { RunsModel, stateText } from "./workflow-model.js";
import { kindIcon, showDefinition } from "./workflow-source.js";

const STATUS_ICONS = { waiting: "○", running: "◐", done: "✓", failed: "✗", skipped: "–", cancelled: "■" };
const RUN_KINDS = new Set(["run_started", "node_state", "run_finished"]);
const PHONE = "(max-width: 760px)";

export class RunPanel {
  constructor(app, chatId, workflow) {
    this.app = app;
    this.chatId = chatId;
    this.workflow = workflow;
    this.model = new RunsModel();
    this.fetching = null;
    this.refetch = false;
    this.closed = false;
    this.title = h("span.wf-run-title", null, "Workflow ", h("code", null, workflow));
    this.statusEl = h("span.wf-run-status", { role: "status" });
    this.viewButton = h("button.link.wf-view-definition", { type: "button", onclick: () => this.viewDefinition() }, "Definition");
    this.body = h("div.wf-run-body", null, h("p.hint", null, "No run yet: send a message to start one."));
    this.summary = h("summary.wf-run-summary", null, this.title, this.statusEl);
    this.details = h("details.wf-run-fold", { open: !matchMedia(PHONE).matches }, this.summary, h("div.wf-run-actions", null, this.viewButton), this.body);
    this.el = h("aside.wf-run-panel", { "aria-label": `Workflow ${workflow}`, dataset: { status: "none" } }, this.details);
  }

  /** Reads the chat's runs (again); concurrent calls share one request, and one more follows if
   * something asked for it meanwhile. */
  load() {
    if (this.fetching) {
      this.refetch = true;
      return this.fetching;
    }
    this.fetching = this.app.api
      .listRuns(this.chatId)
      .then((runs) => {
        if (this.closed) return;
        this.model.load(runs);
        this.render();
      })
      .catch(() => {
        // the stream goes on; the next update that needs the nodes asks again
      })
      .finally(() => {
        this.fetching = null;
        if (this.refetch && !this.closed) {
          this.refetch = false;
          this.load();
        }
      });
    return this.fetching;
  }

  /** The chat view's updates; only the run's own kinds matter here. */
  apply(updates) {
    let changed = false;
    let fetch = false;
    for (const update of updates) {
      if (!RUN_KINDS.has(update.kind)) continue;
      const result = this.model.apply(update);
      if (result === "fetch") fetch = true;
      else if (result) changed = true;
    }
    if (fetch) this.load();
    if (changed || fetch) this.render();
  }

  close() {
    this.closed = true;
  }

  render() {
    const run = this.model.current();
    if (!run) return;
    this.el.dataset.status = run.status;
    this.title.replaceChildren("Workflow ", h("code", null, run.workflow || this.workflow));
    const { done, total } = this.model.progress(run);
    const counted = total ? ` · ${done}/${total}` : "";
    this.statusEl.replaceChildren(h(`span.wf-status.wf-status-${run.status}`, null, run.status), counted);
    const parts = [];
    if (run.nodes === null) parts.push(h("p.hint", null, "Loading the run…"));
    else parts.push(this.tree(run));
    if (run.status !== "running" && (run.error || Object.keys(run.outputs || {}).length)) parts.push(this.ending(run));
    this.body.replaceChildren(...parts);
  }

  tree(run) {
    const items = (list) =>
      h(
        "ol.wf-run-nodes",
        null,
        list.map((item) => {
          const status = item.state.status;
          const children = item.children.length ? items(item.children) : null;
          const childRuns = item.runs.map((child) => h("div.wf-child-run", null, h("span.wf-child-title", null, "↳ ", h("code", null, child.workflow), ` · ${child.status}`), this.tree(child)));
          return h(
            "li.wf-run-node",
            { dataset: { path: item.node.path, status, kind: item.node.kind } },
            h(
              "div.wf-run-line",
              { title: item.node.detail || item.node.kind },
              h(`span.wf-state-icon.wf-state-${status}`, { "aria-hidden": "true" }, STATUS_ICONS[status] || "•"),
              kindIcon(item.node.kind),
              h("code.wf-node-id", null, item.node.branch ? `${item.node.branch} · ${item.node.id}` : item.node.id),
              h("span.wf-node-state", null, stateText(item)),
            ),
            children,
            ...childRuns,
          );
        }),
      );
    return items(this.model.tree(run));
  }

  ending(run) {
    const outputs = Object.entries(run.outputs || {});
    return h(
      "div.wf-run-end",
      null,
      run.error ? h("p.wf-run-error", { role: "alert" }, run.error) : null,
      outputs.length ? h("dl.wf-outputs", null, outputs.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, typeof v === "string" ? v : JSON.stringify(v))])) : null,
    );
  }

  async viewDefinition() {
    const run = this.model.current();
    try {
      if (run && run.nodes) {
        await showDefinition({ name: run.workflow, source: run.source, nodes: run.nodes, text: run.text });
        return;
      }
      const project = this.app.sidebar && this.app.sidebar.projectId;
      await showDefinition(await this.app.api.getWorkflow(this.workflow, project || ""));
    } catch (err) {
      this.app.notify(`Could not show the definition: ${err.message}`, "error");
    }
  }
}

/** The run panel of a chat on a workflow other than the plain agent, put beside its transcript; null
 * for an agent chat. */
export function attachRunPanel(app, root, chat) {
  if (!chat.workflow || chat.workflow === "agent") return null;
  const panel = new RunPanel(app, chat.id, chat.workflow);
  root.classList.add("with-run");
  root.append(panel.el);
  panel.load();
  return panel;
}
