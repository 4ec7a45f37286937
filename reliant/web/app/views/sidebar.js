// The sidebar: the chats of the current project, newest activity first; new, rename, delete.

import { h } from "../dom.js";
import { ago, cost } from "../format.js";
import { chatActions, gatesBadge, statusPill } from "./chat-actions.js";
import { startWorkflowChat } from "./workflow-start.js";

const POLL_MS = 15_000;

export class Sidebar {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.projectId = "";
    this.activeChatId = "";
    this.chats = [];
    this.timer = null;
    this.refreshing = null;
    this.list = h("ul.chat-list", { "aria-label": "Chats of this project" });
    this.head = h("div.sidebar-head");
    el.append(this.head, this.list);
  }

  hide() {
    this.el.hidden = true;
    this.projectId = "";
    clearInterval(this.timer);
    this.timer = null;
  }

  async show(project, activeChatId = "") {
    const changed = project.id !== this.projectId;
    this.el.hidden = false;
    this.activeChatId = activeChatId;
    if (changed) {
      this.projectId = project.id;
      this.chats = [];
      this.list.replaceChildren();
      this.head.replaceChildren(
        h("a.sidebar-project", { href: `/projects/${project.id}`, "data-link": "", title: project.path }, project.name),
        h("button.primary.new-chat", { type: "button", onclick: () => this.newChat() }, "+ New chat"),
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

  async newChat() {
    try {
      const models = await this.app.getModels().catch(() => null);
      const chat = await this.app.api.createChat(this.projectId, (models && models.defaultModel) || "");
      await this.app.navigate(`/chats/${chat.id}`);
    } catch (err) {
      this.app.notify(`Could not create a chat: ${err.message}`, "error");
    }
  }

  /** Reloads the list (coalesced: concurrent calls share one request). */
  refresh() {
    if (!this.projectId) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    const projectId = this.projectId;
    this.refreshing = this.app.api
      .listChats(projectId)
      .then((chats) => {
        if (projectId !== this.projectId) return;
        this.chats = chats.sort((a, b) => Number(b.updatedUnix || 0) - Number(a.updatedUnix || 0));
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
    if (!items.length) items.push(h("li.empty", null, "No chats yet."));
    this.list.replaceChildren(...items);
  }

  markActive() {
    for (const a of this.list.querySelectorAll("a.chat-link")) {
      const id = a.closest("li").dataset.chatId;
      if (id === this.activeChatId) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }
}
