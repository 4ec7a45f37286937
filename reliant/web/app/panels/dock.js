// The workspace panel's dock: a toggle in the top bar on a project's or a chat's pages. The panel
// itself (files, terminal, processes, MCP servers, worktree) and its stylesheet load on first use,
// so they cost the chat view nothing until then. Whether it was open, on which tab and how wide is
// remembered in localStorage; an open panel comes back after a reload once the page is idle.

import { h } from "../dom.js";

const KEY = "reliant.panel";
export const TABS = ["files", "terminal", "processes", "mcp", "worktree"];
export const MIN_WIDTH = 320;
const DEFAULT_WIDTH = 500;
const SVG = "http://www.w3.org/2000/svg";

function loadPrefs() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    saved = {};
  }
  return {
    open: saved.open === true,
    tab: TABS.includes(saved.tab) ? saved.tab : "files",
    width: Number.isFinite(saved.width) ? saved.width : DEFAULT_WIDTH,
  };
}

function panelIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon-svg");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M3 5h18v14H3zM14 5v14M16.5 9h2M16.5 12h2");
  svg.append(path);
  return svg;
}

export function linkStylesheet(href) {
  return new Promise((resolve) => {
    const link = h("link", { rel: "stylesheet", href });
    link.addEventListener("load", resolve, { once: true });
    link.addEventListener("error", resolve, { once: true }); // unstyled beats stuck
    document.head.append(link);
  });
}

/** {projectId, chatId} of a page that has a workspace, else null. */
export function contextOf(path) {
  const chat = /^\/chats\/([^/]+)$/.exec(path);
  if (chat) return { projectId: "", chatId: decodeURIComponent(chat[1]) };
  const project = /^\/projects\/([^/]+)$/.exec(path);
  if (project) return { projectId: decodeURIComponent(project[1]), chatId: "" };
  return null;
}

export class PanelDock {
  constructor(app, aside, actions) {
    this.app = app;
    this.aside = aside;
    this.prefs = loadPrefs();
    this.context = null;
    this.panel = null;
    this.loading = null;
    this.pendingOpen = null;
    aside.id = "workspace-panel";
    aside.setAttribute("aria-label", "Workspace");
    this.button = h(
      "button.icon.panel-toggle",
      {
        type: "button",
        hidden: true,
        "aria-label": "Workspace panel",
        "aria-expanded": "false",
        "aria-controls": "workspace-panel",
        "aria-keyshortcuts": "Control+`",
        title: "Workspace: files, terminal, processes, MCP servers, worktree (Ctrl+`)",
        onclick: () => (this.isOpen() ? this.close() : this.open()),
      },
      panelIcon(),
    );
    actions.prepend(this.button);
    // Capture: the terminal (xterm) would otherwise take Ctrl+` as a keystroke for the shell.
    document.addEventListener("keydown", (event) => this.onKey(event), true);
  }

  isOpen() {
    return !this.aside.hidden;
  }

  save() {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.prefs));
    } catch {
      // storage blocked: the choice lasts for this page
    }
  }

  /** The route changed (called by the app before the new view mounts). */
  follow(path) {
    const context = contextOf(path);
    const same = context && this.context && context.chatId === this.context.chatId && context.projectId === this.context.projectId;
    this.context = context;
    this.button.hidden = !context;
    if (!context) {
      this.aside.hidden = true;
      this.button.setAttribute("aria-expanded", "false");
      if (this.panel) this.panel.hide();
      return;
    }
    if (same) return;
    if (this.prefs.open) {
      // After the page's own first work: the panel never delays a chat.
      cancelIdle(this.pendingOpen);
      this.pendingOpen = whenIdle(() => {
        this.pendingOpen = null;
        if (this.context === context) this.open(this.prefs.tab, { focus: false });
      });
    }
  }

  onKey(event) {
    if (event.key !== "`" || !event.ctrlKey || event.altKey || event.metaKey || !this.context) return;
    event.preventDefault();
    event.stopPropagation();
    if (this.isOpen() && this.prefs.tab === "terminal") this.close();
    else this.open("terminal");
  }

  setWidth(width) {
    const max = Math.max(MIN_WIDTH, window.innerWidth - 360);
    this.prefs.width = Math.round(Math.min(max, Math.max(MIN_WIDTH, width)));
    this.aside.style.width = `${this.prefs.width}px`;
    this.save();
    return this.prefs.width;
  }

  rememberTab(tab) {
    this.prefs.tab = tab;
    this.save();
  }

  load() {
    if (!this.loading) {
      const css = new URL("./panels.css", import.meta.url).href;
      this.loading = Promise.all([linkStylesheet(css), import("./panel.js")])
        .then(([, module]) => {
          this.panel = new module.WorkspacePanel(this.app, this.aside, this);
          return this.panel;
        })
        .catch((err) => {
          this.loading = null;
          throw err;
        });
    }
    return this.loading;
  }

  /** Opens the panel (on `tab`, or the last one) for the current page. */
  async open(tab = "", { focus = true } = {}) {
    const context = this.context;
    if (!context) return;
    cancelIdle(this.pendingOpen);
    this.pendingOpen = null;
    if (tab) this.prefs.tab = tab;
    this.prefs.open = true;
    this.save();
    this.aside.style.width = `${this.prefs.width}px`;
    this.aside.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    let panel;
    try {
      panel = await this.load();
    } catch (err) {
      this.app.notify(`Could not load the workspace panel: ${err.message || err}`, "error");
      this.close();
      return;
    }
    if (this.context !== context || this.aside.hidden) return;
    await panel.show(context, this.prefs.tab, { focus });
  }

  close() {
    cancelIdle(this.pendingOpen);
    this.pendingOpen = null;
    const hadFocus = this.aside.contains(document.activeElement);
    this.prefs.open = false;
    this.save();
    this.aside.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (this.panel) this.panel.hide();
    if (hadFocus) this.button.focus();
  }
}

function whenIdle(fn) {
  if (typeof requestIdleCallback === "function") return { idle: requestIdleCallback(fn, { timeout: 1500 }) };
  return { timer: setTimeout(fn, 300) };
}

function cancelIdle(handle) {
  if (!handle) return;
  if (handle.idle !== undefined) cancelIdleCallback(handle.idle);
  if (handle.timer !== undefined) clearTimeout(handle.timer);
}
