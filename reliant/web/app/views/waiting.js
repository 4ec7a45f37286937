// What waits for the user across every chat: a button in the top bar ("2 waiting") that opens a
// list of the approvals and questions, each a link to its chat. Polled cheaply (two small list
// calls) while the page is visible, and at once when the open chat sees a gate come or go; when the
// set of waiting chats changes, the sidebar is refreshed so its badges follow.

import { h } from "../dom.js";
import { ago } from "../format.js";
import { waitingSummary } from "../gates.js";

const POLL_MS = 5_000;

export class WaitingIndicator {
  constructor(app, container) {
    this.app = app;
    this.summary = waitingSummary([], []);
    this.signature = "";
    this.timer = null;
    this.soon = null;
    this.loading = null;
    this.button = h(
      "button.waiting-button",
      { type: "button", hidden: true, "aria-haspopup": "true", "aria-expanded": "false", onclick: () => this.toggle() },
    );
    this.menu = h("div.waiting-menu", { hidden: true, role: "region", "aria-label": "Waiting for you" });
    this.el = h("div.waiting", null, this.button, this.menu);
    container.prepend(this.el);
    this.onOutside = (event) => {
      if (!this.el.contains(event.target)) this.close();
    };
    this.menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.close();
        this.button.focus();
      }
    });
    this.button.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    this.menu.addEventListener("click", (event) => {
      const link = event.target.closest("a");
      if (!link) return;
      this.close();
      // Already in that chat: no reload, just to its card.
      const view = this.app.view;
      if (link.pathname === location.pathname && view && view.showGate && view.showGate(link.dataset.toolCallId)) event.preventDefault();
    });
  }

  start() {
    setTimeout(() => this.refresh(), 300);
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
  }

  /** Soon, once: several gate updates in a row cost one refresh. */
  refreshSoon() {
    clearTimeout(this.soon);
    this.soon = setTimeout(() => this.refresh(), 150);
  }

  refresh() {
    if (this.loading) return this.loading;
    this.loading = Promise.all([this.app.api.listPendingApprovals(), this.app.api.listPendingQuestions()])
      .then(([approvals, questions]) => this.show(waitingSummary(approvals, questions)))
      .catch(() => {}) // the status bar says when the api is unreachable
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  show(summary) {
    this.summary = summary;
    const signature = [...summary.chats].map(([id, n]) => `${id}:${n}`).sort().join(",");
    const changed = signature !== this.signature;
    this.signature = signature;
    const n = summary.total;
    this.button.hidden = n === 0;
    this.button.replaceChildren(h("span.waiting-dot", { "aria-hidden": "true" }), `${n} waiting`);
    this.button.setAttribute("aria-label", `${n} approval${n === 1 ? "" : "s"} or question${n === 1 ? "" : "s"} waiting for you`);
    this.button.title = "Approvals and questions waiting for you";
    if (n === 0) this.close();
    if (!this.menu.hidden) this.renderMenu();
    if (changed) this.app.sidebar.refresh();
  }

  renderMenu() {
    const items = this.summary.entries.map((e) =>
      h(
        "li",
        null,
        h(
          "a.waiting-item",
          { href: `/chats/${e.chatId}`, "data-link": "", dataset: { chatId: e.chatId, kind: e.kind, toolCallId: e.toolCallId } },
          h("span.waiting-chat", null, e.chatTitle),
          h("span.waiting-age", null, ago(e.createdAt)),
          h("span.waiting-text", null, e.text),
        ),
      ),
    );
    this.menu.replaceChildren(
      h("p.waiting-head", null, "Waiting for you"),
      items.length ? h("ul.waiting-list", null, ...items) : h("p.hint", null, "Nothing waits."),
    );
  }

  toggle() {
    if (this.menu.hidden) this.open();
    else this.close();
  }

  open() {
    this.renderMenu();
    this.menu.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", this.onOutside, true);
    const first = this.menu.querySelector("a");
    if (first) first.focus();
    this.refresh();
  }

  close() {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", this.onOutside, true);
  }
}
