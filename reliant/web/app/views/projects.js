// Projects: the list (each with its path and whether its daemon is online), adding one by path
// (typed, `~` for the daemon's home, or chosen in the daemon's directories; the daemon checks it),
// and one project's page: its first-message box (a chat starts with its first message), its chats,
// its trust step (nothing from its own files runs until trusted) and its removal.

import { h } from "../dom.js";
import { ago, cost, fullTime } from "../format.js";
import { icon } from "../icons.js";
import { chatActions, gatesBadge, statusPill } from "./chat-actions.js";
import { pickDirectory } from "./directory-picker.js";
import { TrustPanel, removeProject } from "./project-trust.js";
import { startWorkflowChat } from "./workflow-start.js";
import { StartChat } from "./start-chat.js";

/** Where a project's daemon is, and whether it is online now (from the status bar's last read). */
export function daemonLine(app, daemonId) {
  const all = (app.status.last && app.status.last.daemons) || [];
  const daemon = all.find((d) => d.id === daemonId);
  const online = Boolean(daemon && daemon.online);
  const name = daemon ? daemon.name || daemon.hostname || daemon.id : daemonId;
  const many = all.length > 1;
  const text = online ? (many ? `online · ${name}` : "daemon online") : `daemon offline${daemon ? ` · ${name}` : ""}`;
  return h(`span.daemon-state.${online ? "online" : "offline"}`, { title: `daemon ${daemonId}${daemon && daemon.hostname ? ` on ${daemon.hostname}` : ""}` }, h("span.dot", { "aria-hidden": "true" }), text);
}

export class ProjectsView {
  constructor(app) {
    this.app = app;
  }

  async mount(main) {
    this.app.setCrumbs([{ label: "Projects" }]);
    this.app.sidebar.hide();
    this.list = h("ul.project-list", { "aria-label": "Projects" }, h("li.loading", null, "Loading…"));
    this.error = h("p.form-error", { role: "alert" });
    this.path = h("input", { type: "text", name: "path", required: true, placeholder: "~/src/project or /home/you/src/project", autocomplete: "off", spellcheck: "false", autocapitalize: "off" });
    this.browse = h("button.secondary.browse", { type: "button", onclick: () => this.pick() }, icon("folder", 16), " Browse…");
    this.name = h("input", { type: "text", name: "name", placeholder: "default: the directory's name", autocomplete: "off" });
    this.daemon = h("select", { name: "daemon" });
    this.daemonField = h("label.field", { hidden: true }, "Daemon", this.daemon);
    this.submit = h("button.primary", { type: "submit" }, "Add project");
    const form = h(
      "form.add-project",
      { "aria-label": "Add a project", onsubmit: (e) => this.add(e) },
      h("h2", null, "Add a project"),
      h("p.hint", null, "A directory on the machine where the reliant daemon runs; the agent's tools work inside it."),
      h("label.field", { for: "project-path" }, "Path"),
      h("div.path-row", null, Object.assign(this.path, { id: "project-path" }), this.browse),
      h("label.field", null, "Name (optional)", this.name),
      this.daemonField,
      h("div.form-actions", null, this.submit),
      this.error,
    );
    main.replaceChildren(h("section.page.projects-page", null, h("h1", null, "Projects"), this.list, form));
    await Promise.all([this.app.status.last ? null : this.app.status.refresh()]);
    await this.load();
    if (this.app.current(this)) this.fillDaemons();
  }

  unmount() {}

  fillDaemons() {
    const daemons = this.app.status.daemons();
    this.daemon.replaceChildren(...daemons.map((d) => h("option", { value: d.id }, `${d.name || d.id} (${d.hostname || d.id})`)));
    this.daemonField.hidden = daemons.length < 2;
  }

  async load() {
    let projects;
    try {
      projects = await this.app.api.listProjects();
    } catch (err) {
      this.list.replaceChildren(h("li.error", { role: "alert" }, `Could not load the projects: ${err.message}`));
      return;
    }
    if (!this.app.current(this)) return;
    projects.sort((a, b) => a.name.localeCompare(b.name));
    this.list.replaceChildren(
      ...projects.map((p) =>
        h(
          "li.project-item",
          { dataset: { projectId: p.id } },
          h("a.project-link", { href: `/projects/${p.id}`, "data-link": "" }, h("span.project-name", null, p.name), h("code.project-path", { title: p.path }, p.path)),
          h("span.project-meta", { title: `added ${fullTime(Number(p.createdUnix))}` }, daemonLine(this.app, p.daemonId)),
        ),
      ),
    );
    if (!projects.length) this.list.replaceChildren(h("li.empty", null, "No projects yet: add a directory below."));
  }

  async pick() {
    const daemonId = this.daemonField.hidden ? "" : this.daemon.value;
    const chosen = await pickDirectory(this.app, { daemonId, start: this.path.value.trim() });
    if (chosen) {
      this.path.value = chosen;
      this.name.focus();
    }
  }

  async add(event) {
    event.preventDefault();
    this.error.textContent = "";
    const path = this.path.value.trim();
    if (!path) return;
    this.submit.disabled = true;
    try {
      const daemonId = this.daemonField.hidden ? "" : this.daemon.value;
      const project = await this.app.api.createProject(path, this.name.value.trim(), daemonId);
      this.app.notify(`Added ${project.name}`);
      await this.app.navigate(`/projects/${project.id}`);
    } catch (err) {
      this.error.textContent = err.message;
      this.path.focus();
    } finally {
      this.submit.disabled = false;
    }
  }
}

export class ProjectView {
  constructor(app, projectId) {
    this.app = app;
    this.projectId = projectId;
  }

  async mount(main) {
    const [project] = await Promise.all([this.app.api.getProject(this.projectId), this.app.status.last ? null : this.app.status.refresh()]);
    if (!this.app.current(this)) return;
    this.project = project;
    this.app.setCrumbs([{ label: "Projects", href: "/" }, { label: project.name }]);
    this.table = h("tbody");
    this.trust = new TrustPanel(this.app, project);
    this.start = new StartChat(this.app, project);
    const remove = h("button.secondary.delete", { type: "button", "aria-label": `Remove project ${project.name}`, onclick: () => this.remove() }, "Remove");
    main.replaceChildren(
      h(
        "section.page.project-page",
        null,
        h(
          "header.page-head",
          null,
          h("div.page-title", null, h("h1", null, project.name), h("div.project-where", null, h("code.project-path", { title: project.path }, project.path), daemonLine(this.app, project.daemonId))),
          h("div.page-actions", null, remove, h("button.secondary.new-workflow-chat", { type: "button", title: "A new chat on a workflow, with its inputs", onclick: () => startWorkflowChat(this.app, project) }, "Workflow…")),
        ),
        this.trust.el,
        this.start.el,
        h("h2.chats-head", null, "Chats"),
        h("table.chat-table", { "aria-label": "Chats" }, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Title"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Last activity"), h("th", { scope: "col", class: "num" }, "Cost"), h("th", { scope: "col" }, h("span.sr-only", null, "Actions")))), this.table),
      ),
    );
    this.start.focus();
    await Promise.all([this.app.sidebar.show(project, "", { newChat: false }), this.trust.load()]);
    if (!this.app.current(this)) return;
    this.render();
    if (new URLSearchParams(location.search).has("new")) this.start.focus();
  }

  async remove() {
    if (!(await removeProject(this.app, this.project))) return;
    this.app.sidebar.hide();
    await this.app.navigate("/", { replace: true });
  }

  unmount() {}

  render() {
    const chats = this.app.sidebar.chats;
    if (!chats.length) {
      this.table.replaceChildren(h("tr", null, h("td.empty", { colspan: "5" }, "No chats yet: the message box above starts one.")));
      return;
    }
    this.table.replaceChildren(
      ...chats.map((chat) =>
        h(
          "tr",
          { dataset: { chatId: chat.id } },
          h("td", null, h("a", { href: `/chats/${chat.id}`, "data-link": "" }, chat.title || "New chat")),
          h("td", null, statusPill(chat.status), " ", gatesBadge(chat.pendingGates)),
          h("td", { title: fullTime(Number(chat.updatedUnix)) }, ago(Number(chat.updatedUnix))),
          h("td.num", null, cost(Number((chat.usage && chat.usage.costUsd) || 0))),
          h("td", null, chatActions(this.app, chat, { compact: true, onRenamed: () => this.refresh(), onDeleted: () => this.refresh() })),
        ),
      ),
    );
  }

  async refresh() {
    await this.app.sidebar.refresh();
    if (this.app.current(this)) this.render();
  }
}
