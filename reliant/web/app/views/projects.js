// Projects: the list, adding one by path (the daemon checks the directory), and one project's chats,
// its trust step (nothing from its own files runs until trusted) and its removal.

import { h } from "../dom.js";
import { ago, cost, fullTime } from "../format.js";
import { chatActions, gatesBadge, statusPill } from "./chat-actions.js";
import { TrustPanel, removeProject } from "./project-trust.js";
import { startWorkflowChat } from "./workflow-start.js";

export class ProjectsView {
  constructor(app) {
    this.app = app;
  }

  async mount(main) {
    this.app.setCrumbs([{ label: "Projects" }]);
    this.app.sidebar.hide();
    this.list = h("ul.project-list", { "aria-label": "Projects" }, h("li.loading", null, "Loading…"));
    this.error = h("p.form-error", { role: "alert" });
    this.path = h("input", { type: "text", name: "path", required: true, placeholder: "/home/you/src/project", autocomplete: "off", spellcheck: "false" });
    this.name = h("input", { type: "text", name: "name", placeholder: "default: the directory's name", autocomplete: "off" });
    this.daemon = h("select", { name: "daemon" });
    this.daemonField = h("label.field", { hidden: true }, "Daemon", this.daemon);
    this.submit = h("button.primary", { type: "submit" }, "Add project");
    const form = h(
      "form.add-project",
      { "aria-label": "Add a project", onsubmit: (e) => this.add(e) },
      h("h2", null, "Add a project"),
      h("p.hint", null, "A directory on the machine where the reliant daemon runs; the agent's tools work inside it."),
      h("label.field", null, "Path", this.path),
      h("label.field", null, "Name (optional)", this.name),
      this.daemonField,
      h("div.form-actions", null, this.submit),
      this.error,
    );
    main.replaceChildren(h("section.page.projects-page", null, h("h1", null, "Projects"), this.list, form));
    await Promise.all([this.load(), this.app.status.last ? null : this.app.status.refresh()]);
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
          null,
          h("a.project-link", { href: `/projects/${p.id}`, "data-link": "" }, h("span.project-name", null, p.name), h("code.project-path", null, p.path)),
          h("span.project-meta", { title: fullTime(Number(p.createdUnix)) }, `daemon ${p.daemonId}`),
        ),
      ),
    );
    if (!projects.length) this.list.replaceChildren(h("li.empty", null, "No projects yet: add a directory below."));
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
    const project = await this.app.api.getProject(this.projectId);
    if (!this.app.current(this)) return;
    this.project = project;
    this.app.setCrumbs([{ label: "Projects", href: "/" }, { label: project.name }]);
    this.table = h("tbody");
    this.trust = new TrustPanel(this.app, project);
    const remove = h("button.secondary.delete", { type: "button", "aria-label": `Remove project ${project.name}`, onclick: () => this.remove() }, "Remove");
    main.replaceChildren(
      h(
        "section.page.project-page",
        null,
        h("header.page-head", null, h("div", null, h("h1", null, project.name), h("code.project-path", null, project.path)), h("div.page-actions", null, remove, h("button.secondary.new-workflow-chat", { type: "button", onclick: () => startWorkflowChat(this.app, project) }, "Workflow…"), h("button.primary", { type: "button", onclick: () => this.app.sidebar.newChat() }, "+ New chat"))),
        this.trust.el,
        h("table.chat-table", { "aria-label": "Chats" }, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Title"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Last activity"), h("th", { scope: "col", class: "num" }, "Cost"), h("th", { scope: "col" }, h("span.sr-only", null, "Actions")))), this.table),
      ),
    );
    await Promise.all([this.app.sidebar.show(project), this.trust.load()]);
    this.render();
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
      this.table.replaceChildren(h("tr", null, h("td.empty", { colspan: "5" }, "No chats yet: start one with “New chat”.")));
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
