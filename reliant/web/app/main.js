// The app shell: routing, the sidebar, the status bar, the theme, dialogs and notices.
//
// Where the UI grows: a new screen is a view class in ROUTES (and its path in PAGE in
// reliant/api/web.py, so a reload serves the app); a side panel (terminals, files) goes in
// <aside class="panel">; a tool with its own card registers it with registerToolView (tools.js);
// controls next to the model picker go in the composer's .composer-tools row; update kinds this
// UI does not know are ignored by the transcript model until it learns them.

import { Api } from "./api.js";
import { ConnectClient } from "./connect.js";
import { askOtherTabs, forgetToken, sessionToken, shareToken, takeToken } from "./session.js";
import { h } from "./dom.js";
import { PanelDock } from "./panels/dock.js";
import { AgentView } from "./views/agent.js";
import { ChatView } from "./views/chat.js";
import { ProjectsView, ProjectView } from "./views/projects.js";
import { SettingsView } from "./views/settings.js";
import { Sidebar } from "./views/sidebar.js";
import { StatusBar } from "./views/status.js";
import { ThemeToggle } from "./theme.js";
import { WaitingIndicator } from "./views/waiting.js";

const ROUTES = [
  [/^\/(?:projects)?$/, ProjectsView],
  [/^\/projects\/([^/]+)$/, ProjectView],
  [/^\/chats\/([^/]+)$/, ChatView],
  [/^\/chats\/([^/]+)\/agents\/([^/]+)$/, AgentView],
  [/^\/settings$/, SettingsView],
];

class NotFoundView {
  constructor(app) {
    this.app = app;
  }
  mount(main) {
    this.app.setCrumbs([]);
    this.app.sidebar.hide();
    main.replaceChildren(h("section.page", null, h("h1", null, "Not found"), h("p", null, h("a", { href: "/", "data-link": "" }, "Back to the projects"))));
  }
  unmount() {}
}

export class App {
  constructor() {
    this.client = new ConnectClient("", { token: () => sessionToken(), onUnauthenticated: () => this.signedOut() });
    this.api = new Api(this.client);
    this.main = document.getElementById("main");
    this.crumbs = document.querySelector(".crumbs");
    this.sidebar = new Sidebar(this, document.querySelector(".sidebar"), document.querySelector(".menu-toggle"));
    this.status = new StatusBar(this, document.querySelector(".statusbar"));
    this.theme = new ThemeToggle(document.querySelector(".theme-toggle"));
    this.waiting = new WaitingIndicator(this, document.querySelector(".topbar-actions"));
    this.toasts = h("div.toasts", { "aria-live": "polite" });
    document.body.append(this.toasts);
    this.dock = new PanelDock(this, document.querySelector("aside.panel"), document.querySelector(".topbar-actions"));
    this.view = null;
    this.modelChoices = null;
    this.routeToken = 0;
    document.addEventListener("click", (event) => this.onClick(event));
    document.addEventListener("keydown", (event) => this.onKey(event));
    window.addEventListener("popstate", () => this.route());
  }

  start() {
    this.status.start();
    this.waiting.start();
    return this.route();
  }

  onClick(event) {
    const a = event.target.closest("a[href]");
    if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (a.target === "_blank" || a.origin !== location.origin || !a.hasAttribute("data-link")) return;
    event.preventDefault();
    this.navigate(a.pathname + a.search);
  }

  onKey(event) {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const composer = document.querySelector(".composer textarea");
      if (composer) {
        event.preventDefault();
        composer.focus();
      }
    }
  }

  navigate(path, { replace = false } = {}) {
    if (path !== location.pathname + location.search) {
      if (replace) history.replaceState(null, "", path);
      else history.pushState(null, "", path);
    }
    return this.route();
  }

  async route() {
    const token = ++this.routeToken;
    this.sidebar.closeDrawer();
    if (this.view) this.view.unmount();
    this.view = null;
    const path = location.pathname;
    this.dock.follow(path);
    let View = NotFoundView;
    let params = [];
    for (const [pattern, candidate] of ROUTES) {
      const match = pattern.exec(path);
      if (match) {
        View = candidate;
        params = match.slice(1).map(decodeURIComponent);
        break;
      }
    }
    const view = new View(this, ...params);
    this.view = view;
    try {
      await view.mount(this.main);
      // Keyboard and screen-reader users land in the new page, unless the view chose a focus.
      if (token === this.routeToken && (document.activeElement === document.body || !document.activeElement)) {
        this.main.focus({ preventScroll: true });
      }
    } catch (err) {
      if (token !== this.routeToken) return;
      this.main.replaceChildren(h("section.page", null, h("h1", null, "Something went wrong"), h("p.error", { role: "alert" }, err.message || String(err))));
    }
  }

  /** The current route is still `token`'s: views check before writing after an await. */
  current(view) {
    return this.view === view;
  }

  setCrumbs(items) {
    const parts = [];
    items.forEach((item, i) => {
      if (i) parts.push(h("span.sep", { "aria-hidden": "true" }, "/"));
      parts.push(item.href ? h("a", { href: item.href, "data-link": "" }, item.label) : h("span", { "aria-current": "page" }, item.label));
    });
    this.crumbs.replaceChildren(...parts);
    const last = items.length ? items[items.length - 1].label : "";
    document.title = last ? `${last} · reliant` : "reliant";
  }

  /** The model field's suggestions (ListModelChoices), shared by every field until forgotten. */
  async getModelChoices() {
    if (!this.modelChoices) {
      this.modelChoices = this.api.listModelChoices().catch((err) => {
        this.modelChoices = null;
        throw err;
      });
    }
    return this.modelChoices;
  }

  forgetModels() {
    this.modelChoices = null;
  }

  notify(text, kind = "info") {
    const toast = h(`div.toast.toast-${kind}`, { role: kind === "error" ? "alert" : "status" }, text);
    this.toasts.append(toast);
    setTimeout(() => toast.remove(), kind === "error" ? 8000 : 4000);
  }

  /** A modal confirmation; resolves true when confirmed. */
  confirm({ title, text, ok = "Delete" }) {
    const dialog = document.querySelector("dialog.confirm");
    dialog.querySelector("#confirm-title").textContent = title;
    dialog.querySelector(".confirm-text").textContent = text;
    dialog.querySelector(".confirm-ok").textContent = ok;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      dialog.querySelector("button.secondary").focus();
    });
  }

  signedOut() {
    forgetToken(); // it is not this reliant's token (any more): a reload asks for the right one
    if (document.querySelector(".signed-out")) return;
    const box = h(
      "div.signed-out",
      { role: "alertdialog", "aria-labelledby": "signed-out-title" },
      h(
        "div.signed-out-box",
        null,
        h("h2", { id: "signed-out-title" }, "Signed out"),
        h("p", null, "This tab's token is not the token of this reliant (it was changed, or it comes from another data dir). Open the link that ", h("code", null, "reliant up"), " printed (it ends in ", h("code", null, "/?token=…"), ") to sign in again."),
        h("button", { type: "button", onclick: () => location.reload() }, "Reload"),
      ),
    );
    document.body.append(box);
  }
}

/** What a tab without the token shows: how to get it (nothing else is asked of the api). */
function signInNeeded() {
  document.title = "Sign-in needed · reliant";
  const code = (text) => h("code", null, text);
  document.getElementById("main").replaceChildren(
    h(
      "section.page.sign-in",
      null,
      h("h1", null, "reliant needs its access token"),
      h("p", null, "This tab is not signed in to this reliant."),
      h("p", null, "Open the link that ", code("reliant up"), " printed when it started: it ends in ", code("/?token=…"), " and signs this tab in."),
      h("p", null, "Lost it? The token is in ", code("<data dir>/secrets/api_token"), " (the data dir is ", code("~/.reliant"), " unless ", code("--data-dir"), " was given); open ", code(`${location.origin}/?token=<that token>`), "."),
    ),
  );
}

if (takeToken() || (await askOtherTabs())) {
  shareToken();
  const app = new App();
  window.reliant = app;
  app.start();
} else {
  signInNeeded();
}
