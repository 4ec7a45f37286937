// The sidebar: the chats of the current project, newest activity first; new, rename, delete. On a
// narrow screen it is a drawer, opened by the top bar's menu button.

import { h } from "../dom.js";
import { ago, cost } from "../format.js";
import { icon } from "../icons.js";
import { chatActions, gatesBadge, statusPill } from "./chat-actions.js";
import { startWorkflowChat } from "./workflow-start.js";

const POLL_MS = 15_000;

export class Sidebar {
  constructor(app, el, menuButton) {
    this.app = app;
    this.el = el;
    this.menuButton = menuButton;
    this.projectId = "";
    this.activeChatId = "";
    this.chats = [];
    this.timer = null;
    this.refreshing = null;
    this.followed = null;
    this.list = h("ul.chat-list", { "aria-label": "Chats of this project" });
    this.head = h("div.sidebar-head");
    this.backdrop = h("div.drawer-backdrop", { hidden: true, onclick: () => this.closeDrawer() });
    el.after(this.backdrop);
    el.append(this.head, this.list);
    menuButton.append(icon("menu", 20));
    menuButton.addEventListener("click", () => (this.drawerOpen() ? this.closeDrawer() : this.openDrawer()));
    // Escape closes the drawer wherever the focus is (it may have been on a row drawn again since).
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.drawerOpen() && !event.defaultPrevented) {
        this.closeDrawer();
        this.menuButton.focus();
      }
    });
  }

  drawerOpen() {
    return this.el.classList.contains("drawer-open");
  }

  /** On a narrow screen: the chat list over the page (the menu button's job). */
  openDrawer() {
    if (this.el.hidden) return;
    this.el.classList.add("drawer-open");
    this.backdrop.hidden = false;
    this.menuButton.setAttribute("aria-expanded", "true");
    const target = this.list.querySelector('a[aria-current="page"]') || this.head.querySelector("a, button");
    if (target) target.focus();
  }

  closeDrawer() {
    if (!this.drawerOpen()) return;
    this.el.classList.remove("drawer-open");
    this.backdrop.hidden = true;
    this.menuButton.setAttribute("aria-expanded", "false");
  }

  hide() {
    this.el.hidden = true;
    this.menuButton.hidden = true;
    this.closeDrawer();
    this.projectId = "";
    clearInterval(this.timer);
    this.timer = null;
  }

  /** `newChat`: whether to offer "+ New chat" (not on the project's page, which has the message box). */
  async show(project, activeChatId = "", { newChat = true } = {}) {
    const changed = project.id !== this.projectId;
    this.el.hidden = false;
    this.menuButton.hidden = false;
    this.activeChatId = activeChatId;
    this.el.classList.toggle("on-project-page", !newChat);
    if (changed) {
      this.projectId = project.id;
      this.chats = [];
      this.list.replaceChildren();
      this.head.replaceChildren(
        h("a.sidebar-project", { href: `/projects/${project.id}`, "data-link": "", title: project.path }, project.name),
        h("a.button.primary.new-chat", { href: `/projects/${project.id}?new`, "data-link": "", title: "Start a chat: type its first message on the project's page" }, "+ New chat"),
        h("button.secondary.small.new-workflow-chat", { type: "button", title: "A new chat on a workflow, with its inputs", onclick: () => startWorkflowChat(this.app, project) }, "Workflow…"),
      );
      clearInterval(this.timer);
      this.timer = setInterval(() => {
        if (!document.hidden) this.refresh();
      }, POLL_MS);
    }
    this.markActive();
    await this.refresh();
  }

  /** Reloads the list (coalesced: calls while one is in flight share one more request after it,
   * so a change that happened meanwhile is never missed). */
  refresh() {
    if (!this.projectId) return Promise.resolve();
    if (this.refreshing) {
      if (!this.again) this.again = this.refreshing.then(() => ((this.again = null), this.refresh()));
      return this.again;
    }
    const projectId = this.projectId;
    this.refreshing = this.app.api
      .listChats(projectId)
      .then((chats) => {
        if (projectId !== this.projectId) return;
        this.chats = chats.sort((a, b) => Number(b.updatedUnix || 0) - Number(a.updatedUnix || 0));
        const followed = this.followed && this.chats.find((c) => c.id === this.followed.chatId);
        if (followed) Object.assign(followed, this.followed.fields);
        this.render();
      })
      .catch(() => {})
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** A chat changed while open (title, status): show it without waiting for the next poll. */
  patch(chatId, fields) {
    const chat = this.chats.find((c) => c.id === chatId);
    if (chat) {
      Object.assign(chat, fields);
      this.render();
    }
  }

  /** The open chat's own view of itself (`fields`, e.g. its status from its live stream) wins over
   * what a list read saw, which may be older: sidebar and header always agree. ("", null) stops. */
  follow(chatId, fields) {
    this.followed = chatId && fields ? { chatId, fields } : null;
    if (this.followed) this.patch(chatId, fields);
  }

  render() {
    const items = this.chats.map((chat) => {
      const title = chat.title || "New chat";
      const link = h(
        "a.chat-link",
        { href: `/chats/${chat.id}`, "data-link": "", "aria-current": chat.id === this.activeChatId ? "page" : null },
        h("span.chat-title", null, title),
        h("span.chat-meta", null, statusPill(chat.status), gatesBadge(chat.pendingGates), h("span", { title: "last activity" }, ago(Number(chat.updatedUnix || 0))), h("span.chat-cost", { title: "cost of this chat" }, cost(Number((chat.usage && chat.usage.costUsd) || 0)))),
      );
      return h("li.chat-item", { dataset: { chatId: chat.id } }, link, chatActions(this.app, chat, { compact: true }));
    });
    // One empty state per page: the project's page says it under its own message box.
    if (!items.length && !this.el.classList.contains("on-project-page")) items.push(h("li.empty", null, "No chats yet: the first message you send starts one."));
    const focus = this.focusedControl();
    this.list.replaceChildren(...items);
    if (focus) this.restoreFocus(focus);
  }

  /** Which control of which row has the keyboard focus: the list is drawn anew on every change, and
   * the focus must stay where the user had it. */
  focusedControl() {
    const active = document.activeElement;
    const row = active && this.list.contains(active) ? active.closest("li.chat-item") : null;
    return row ? { chatId: row.dataset.chatId, index: [...row.querySelectorAll("a, button")].indexOf(active) } : null;
  }

  restoreFocus({ chatId, index }) {
    const row = [...this.list.children].find((li) => li.dataset.chatId === chatId);
    const control = row ? row.querySelectorAll("a, button")[index] : null;
    if (control) control.focus({ preventScroll: true });
  }

  markActive() {
    for (const a of this.list.querySelectorAll("a.chat-link")) {
      const id = a.closest("li").dataset.chatId;
      if (id === this.activeChatId) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }
}
