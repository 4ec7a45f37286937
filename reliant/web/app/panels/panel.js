// The workspace panel: tabs for the open project (or chat): Files, Terminal, Processes, MCP and
// Worktree. Each tab's code loads the first time it is shown. The panel knows the context every
// tab works in: the project, the chat (if a chat is open), the chat's worktree, and "where" — the
// directory the Files and MCP tabs look at (the project, or one of its active worktrees; a chat
// with a worktree starts in it, since that is where its tools run).
//
// A new tab is a module here whose class takes (panel, section) and has setContext(context,
// changed), show({focus}), hide() and destroy(); add it to LABELS and MODULES below and to TABS in
// dock.js. Its RPCs go in api.js (WorkspaceApi) and its styles in panels.css.

import { h } from "../dom.js";
import { MIN_WIDTH, TABS } from "./dock.js";
import { WorkspaceApi } from "./api.js";

const LABELS = { files: "Files", terminal: "Terminal", processes: "Processes", mcp: "MCP", worktree: "Worktree" };
const MODULES = {
  files: () => import("./files.js").then((m) => m.FilesTab),
  terminal: () => import("./terminal.js").then((m) => m.TerminalTab),
  processes: () => import("./processes.js").then((m) => m.ProcessesTab),
  mcp: () => import("./mcp.js").then((m) => m.McpTab),
  worktree: () => import("./worktree.js").then((m) => m.WorktreeTab),
};

export class WorkspacePanel {
  constructor(app, aside, dock) {
    this.app = app;
    this.aside = aside;
    this.dock = dock;
    this.api = new WorkspaceApi(app.client);
    this.context = null; // {projectId, chatId, project, chat}
    this.worktrees = [];
    this.where = { projectId: "", worktreeId: "" };
    this.current = "";
    this.tabs = new Map();
    this.visible = false;
    this.contextToken = 0;
    this.build();
  }

  build() {
    this.aside.classList.add("workspace-panel");
    this.tablist = h("div.wp-tabs", { role: "tablist", "aria-label": "Workspace", onkeydown: (e) => this.onTabKey(e) });
    for (const name of TABS) {
      const button = h(
        "button.wp-tab",
        {
          type: "button",
          role: "tab",
          id: `wp-tab-${name}`,
          "aria-controls": `wp-${name}`,
          "aria-selected": "false",
          tabindex: "-1",
          dataset: { tab: name },
          onclick: () => this.select(name, { focus: false }),
        },
        LABELS[name],
      );
      const section = h(`section.wp-section.wp-${name}`, { role: "tabpanel", id: `wp-${name}`, "aria-labelledby": `wp-tab-${name}`, hidden: true, tabindex: "-1" });
      this.tabs.set(name, { button, section, instance: null, loading: null });
      this.tablist.append(button);
    }
    this.closeButton = h("button.icon.wp-close", { type: "button", "aria-label": "Close the workspace panel", title: "Close (Ctrl+` on the terminal)", onclick: () => this.dock.close() }, "×");
    this.whereSelect = h("select.wp-where-select", { "aria-label": "Where the files and MCP servers are", onchange: () => this.setWhere(this.whereSelect.value) });
    this.whereRow = h("div.wp-where", { hidden: true }, h("label", null, "In ", this.whereSelect));
    this.title = h("div.wp-title");
    this.resizer = h("div.wp-resize", {
      role: "separator",
      tabindex: "0",
      "aria-orientation": "vertical",
      "aria-label": "Resize the workspace panel",
      "aria-valuemin": String(MIN_WIDTH),
      onpointerdown: (e) => this.startResize(e),
      onkeydown: (e) => this.resizeKey(e),
    });
    this.aside.replaceChildren(
      this.resizer,
      h("header.wp-head", null, this.tablist, this.closeButton),
      h("div.wp-context", null, this.title, this.whereRow),
      ...[...this.tabs.values()].map((t) => t.section),
    );
    this.updateResizer();
  }

  // -- context ----------------------------------------------------------------------------------

  /** Shows the panel for `context` ({projectId, chatId}) on `tab`. */
  async show(context, tab, { focus = true } = {}) {
    this.visible = true;
    this.mark(tab);
    const changed = !this.context || context.chatId !== this.context.chatId || (context.projectId && context.projectId !== this.context.projectId);
    if (changed) {
      this.loadingContext = true;
      try {
        await this.setContext(context);
      } finally {
        this.loadingContext = false;
      }
    }
    if (!this.context || !this.visible) return;
    await this.select(this.current, { focus }); // the user may have picked another tab meanwhile
  }

  hide() {
    this.visible = false;
    const tab = this.tabs.get(this.current);
    if (tab && tab.instance && tab.instance.hide) tab.instance.hide();
  }

  async setContext(given) {
    const token = ++this.contextToken;
    let projectId = given.projectId;
    let chat = null;
    try {
      if (given.chatId) {
        chat = await this.app.api.getChat(given.chatId);
        projectId = chat.projectId;
      }
      const project = await this.app.api.getProject(projectId);
      if (token !== this.contextToken) return;
      const previous = this.context;
      this.context = { projectId, chatId: given.chatId || "", project, chat };
      const projectChanged = !previous || previous.projectId !== projectId;
      this.title.replaceChildren(h("span.wp-project", { title: project.path }, project.name), h("span.wp-chat", null, chat ? ` · ${chat.title || "New chat"}` : ` · ${project.path}`));
      await this.refreshWorktrees({ keepWhere: false });
      if (token !== this.contextToken) return;
      for (const tab of this.tabs.values()) {
        if (tab.instance) tab.instance.setContext(this.context, { project: projectChanged, chat: true, where: true });
      }
    } catch (err) {
      if (token !== this.contextToken) return;
      this.context = null;
      this.title.replaceChildren(h("span.error", { role: "alert" }, `Could not open the workspace: ${err.message}`));
    }
  }

  /** The chat's active worktree, if it has one. */
  chatWorktree() {
    if (!this.context || !this.context.chatId) return null;
    return this.worktrees.find((w) => w.chatId === this.context.chatId && w.state === "active") || null;
  }

  /** Reloads the project's worktrees (after one was created or removed) and the "where" choice. */
  async refreshWorktrees({ keepWhere = true } = {}) {
    if (!this.context) return;
    try {
      this.worktrees = (await this.api.listWorktrees(this.context.projectId)).filter((w) => w.state === "active");
    } catch {
      this.worktrees = [];
    }
    const before = this.where.worktreeId;
    let worktreeId = keepWhere ? before : "";
    if (!keepWhere) {
      const own = this.chatWorktree();
      worktreeId = own ? own.id : "";
    }
    if (worktreeId && !this.worktrees.some((w) => w.id === worktreeId)) worktreeId = "";
    this.whereSelect.replaceChildren(
      h("option", { value: "" }, `Project · ${this.context.project.path}`),
      ...this.worktrees.map((w) => h("option", { value: w.id }, `Worktree ${w.name} (${w.branch})${w.chatId === this.context.chatId ? " · this chat" : ""}`)),
    );
    this.whereSelect.value = worktreeId;
    this.whereRow.hidden = this.worktrees.length === 0;
    this.where = { projectId: this.context.projectId, worktreeId };
    if (keepWhere && before !== worktreeId) this.notifyWhere();
  }

  setWhere(worktreeId) {
    if (worktreeId === this.where.worktreeId) return;
    this.where = { projectId: this.context.projectId, worktreeId };
    this.notifyWhere();
  }

  notifyWhere() {
    for (const tab of this.tabs.values()) {
      if (tab.instance) tab.instance.setContext(this.context, { project: false, chat: false, where: true });
    }
  }

  // -- tabs -------------------------------------------------------------------------------------

  /** Shows `name` as the selected tab (its content comes with select). */
  mark(name) {
    if (!LABELS[name]) name = "files";
    const previous = this.tabs.get(this.current);
    if (this.current !== name && previous && previous.instance && previous.instance.hide) previous.instance.hide();
    this.current = name;
    this.dock.rememberTab(name);
    for (const [key, tab] of this.tabs) {
      const on = key === name;
      tab.button.setAttribute("aria-selected", String(on));
      tab.button.tabIndex = on ? 0 : -1;
      tab.section.hidden = !on;
    }
    return name;
  }

  async select(name, { focus = true } = {}) {
    name = this.mark(name);
    if (!this.context || this.loadingContext) return; // show() selects it once the context is known
    const tab = this.tabs.get(name);
    if (!tab.instance) {
      if (!tab.loading) {
        tab.section.replaceChildren(h("p.wp-loading", null, "Loading…"));
        tab.loading = MODULES[name]().then((Tab) => {
          tab.section.replaceChildren();
          tab.instance = new Tab(this, tab.section);
          if (this.context) tab.instance.setContext(this.context, { project: true, chat: true, where: true });
          return tab.instance;
        });
        tab.loading.catch((err) => {
          tab.loading = null;
          tab.section.replaceChildren(h("p.error", { role: "alert" }, `Could not load this tab: ${err.message || err}`));
        });
      }
      try {
        await tab.loading;
      } catch {
        return;
      }
    }
    if (this.current !== name || !this.visible) return;
    tab.instance.show({ focus });
  }

  onTabKey(event) {
    const order = TABS;
    const at = order.indexOf(this.current);
    let next = null;
    if (event.key === "ArrowRight") next = order[(at + 1) % order.length];
    else if (event.key === "ArrowLeft") next = order[(at - 1 + order.length) % order.length];
    else if (event.key === "Home") next = order[0];
    else if (event.key === "End") next = order[order.length - 1];
    if (!next) return;
    event.preventDefault();
    this.tabs.get(next).button.focus();
    this.select(next, { focus: false });
  }

  // -- width ------------------------------------------------------------------------------------

  updateResizer() {
    this.resizer.setAttribute("aria-valuenow", String(this.dock.prefs.width));
  }

  startResize(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    const startX = event.clientX;
    const startWidth = this.aside.getBoundingClientRect().width;
    this.resizer.setPointerCapture(event.pointerId);
    this.aside.classList.add("wp-resizing");
    const move = (e) => {
      this.dock.setWidth(startWidth + (startX - e.clientX));
      this.updateResizer();
    };
    const up = () => {
      this.resizer.removeEventListener("pointermove", move);
      this.aside.classList.remove("wp-resizing");
    };
    this.resizer.addEventListener("pointermove", move);
    this.resizer.addEventListener("pointerup", up, { once: true });
    this.resizer.addEventListener("pointercancel", up, { once: true });
  }

  resizeKey(event) {
    const step = event.shiftKey ? 96 : 32;
    let width = null;
    if (event.key === "ArrowLeft") width = this.dock.prefs.width + step;
    else if (event.key === "ArrowRight") width = this.dock.prefs.width - step;
    if (width === null) return;
    event.preventDefault();
    this.dock.setWidth(width);
    this.updateResizer();
  }
}
