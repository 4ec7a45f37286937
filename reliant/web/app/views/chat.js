// The chat view: header (title, status, totals, stop), the live transcript, and the composer.

import { h } from "../dom.js";
import { usageLine } from "../format.js";
import { ChatFeed } from "../feed.js";
import { ChatModel } from "../transcript.js";
import { TranscriptView } from "../transcript-view.js";
import { chatActions, renameChat, statusPill } from "./chat-actions.js";

const SIDEBAR_KINDS = new Set(["chat_status", "chat_updated", "message_completed"]);

export class ChatView {
  constructor(app, chatId) {
    this.app = app;
    this.chatId = chatId;
    this.feed = null;
    this.view = null;
    this.closed = false;
    this.project = null;
    this.sidebarTimer = null;
    this.ready = false;
  }

  async mount(main) {
    this.model = new ChatModel(this.chatId);
    this.root = h("section.chat", { "aria-label": "Chat", dataset: { feed: "connecting" } });
    this.buildHeader();
    this.scroller = h("div.transcript", { tabindex: "0", "aria-label": "Transcript" });
    this.list = h("div.rows", { role: "log", "aria-live": "off" });
    this.scroller.append(this.list);
    this.buildComposer();
    this.root.append(this.header, this.scroller, this.composer);
    main.replaceChildren(this.root);
    this.view = new TranscriptView(this.model, this.scroller, this.list, { onResume: () => this.resume() });
    this.app.setCrumbs([{ label: "Projects", href: "/" }, { label: "…" }]);
    this.feed = new ChatFeed(this.app.api, this.chatId, {
      onSnapshot: (snapshot, chat) => this.onSnapshot(snapshot, chat),
      onUpdates: (updates) => this.onUpdates(updates),
      onState: (state, detail) => this.onFeedState(state, detail),
    });
    this.textarea.focus();
  }

  unmount() {
    this.closed = true;
    if (this.feed) this.feed.close();
    if (this.view) this.view.destroy();
    clearTimeout(this.sidebarTimer);
    this.app.status.setFeed("closed");
  }

  // -- building --------------------------------------------------------------------------------

  buildHeader() {
    this.titleEl = h("h1.chat-title", null, "…");
    this.statusEl = h("span.chat-status");
    this.totalsEl = h("span.chat-totals", { title: "tokens and cost of this chat" });
    this.actionsEl = h("span");
    this.header = h(
      "header.chat-head",
      null,
      h("div.chat-head-main", null, this.titleEl, this.statusEl),
      h("div.chat-head-side", null, this.totalsEl, this.actionsEl),
    );
  }

  buildComposer() {
    this.textarea = h("textarea", {
      rows: "1",
      "aria-label": "Message",
      placeholder: "Message the agent — Enter sends, Shift+Enter adds a line",
      onkeydown: (e) => this.onComposerKey(e),
      oninput: () => this.autosize(),
    });
    this.modelSelect = h("select.model-picker", { "aria-label": "Model", title: "Model for the next message" });
    this.queuedEl = h("span.queued-note", { role: "status", "aria-live": "polite" });
    this.sendButton = h("button.primary.send", { type: "submit", "aria-label": "Send message" }, "Send");
    this.stopButton = h("button.danger.stop", { type: "button", "aria-label": "Stop the running turn", hidden: true, onclick: () => this.stop() }, "■ Stop");
    this.composerError = h("p.form-error", { role: "alert" });
    // The tool row has room for more controls (a mode switcher, attachments).
    this.composerTools = h("div.composer-tools", null, h("label.model-label", null, "Model ", this.modelSelect), this.queuedEl);
    this.composer = h(
      "form.composer",
      { "aria-label": "Send a message", onsubmit: (e) => this.onSubmit(e) },
      this.composerTools,
      h("div.composer-row", null, this.textarea, h("div.composer-actions", null, this.stopButton, this.sendButton)),
      this.composerError,
    );
  }

  async loadModels() {
    try {
      const models = await this.app.getModels();
      if (this.closed) return;
      this.models = models;
      this.fillModels();
    } catch (err) {
      this.composerError.textContent = `Could not list the models: ${err.message}`;
    }
  }

  fillModels() {
    const list = [...((this.models && this.models.models) || [])];
    const current = this.model.chat.model;
    if (current && !list.includes(current)) list.unshift(current);
    const selected = this.modelSelect.value && this.modelTouched ? this.modelSelect.value : current;
    this.modelSelect.replaceChildren(...list.map((m) => h("option", { value: m }, m)));
    if (selected) this.modelSelect.value = selected;
    if (!this.modelSelect.dataset.wired) {
      this.modelSelect.dataset.wired = "1";
      this.modelSelect.addEventListener("change", () => {
        this.modelTouched = this.modelSelect.value !== this.model.chat.model;
      });
    }
  }

  // -- the feed --------------------------------------------------------------------------------

  onSnapshot(snapshot, chat) {
    if (this.closed) return;
    this.model.setChat(chat);
    this.model.load(snapshot);
    this.chat = chat;
    const first = !this.rendered;
    this.render();
    if (first) {
      this.rendered = true;
      this.view.scrollToBottom();
      requestAnimationFrame(() => this.view.scrollToBottom());
      performance.mark("reliant:transcript-rendered");
      this.loadModels();
      requestAnimationFrame(() => setTimeout(() => performance.mark("reliant:transcript-painted")));
      this.showProject(chat.projectId);
    }
  }

  async showProject(projectId) {
    try {
      const project = await this.app.api.getProject(projectId);
      if (this.closed) return;
      this.project = project;
      this.renderChat();
      await this.app.sidebar.show(project, this.chatId);
    } catch {
      // the crumbs stay short; the chat still works
    }
  }

  renderCrumbs() {
    const items = [{ label: "Projects", href: "/" }];
    if (this.project) items.push({ label: this.project.name, href: `/projects/${this.project.id}` });
    items.push({ label: this.model.chat.title || "New chat" });
    this.app.setCrumbs(items);
  }

  onUpdates(updates) {
    if (this.closed) return;
    let sidebar = false;
    for (const update of updates) {
      this.model.apply(update);
      if (SIDEBAR_KINDS.has(update.kind)) sidebar = true;
    }
    this.render();
    if (sidebar) this.refreshSidebarSoon();
  }

  refreshSidebarSoon() {
    clearTimeout(this.sidebarTimer);
    this.sidebarTimer = setTimeout(() => this.app.sidebar.refresh(), 300);
  }

  onFeedState(state, detail) {
    if (this.closed && state !== "closed") return;
    this.root.dataset.feed = state;
    this.app.status.setFeed(state, detail, () => this.feed && this.feed.retryNow());
    if (state === "live" && !this.ready) {
      this.ready = true;
      performance.mark("reliant:chat-ready");
      document.documentElement.dataset.chatReady = this.chatId;
    }
    if (state === "gone") {
      this.composerError.textContent = detail.error && detail.error.code === "not_found" ? "This chat no longer exists." : (detail.error && detail.error.message) || "This chat is not available.";
      this.sendButton.disabled = true;
    }
  }

  // -- rendering -------------------------------------------------------------------------------

  render() {
    const changes = this.view.render();
    if (changes.chat || changes.order) this.renderChat();
  }

  renderChat() {
    const chat = this.model.chat;
    const empty = this.model.messages.size === 0 && !this.model.streaming();
    if (empty && !this.emptyEl) {
      this.emptyEl = h("div.empty-chat", null, h("p", null, "Send a message to start."));
      this.list.before(this.emptyEl);
    }
    if (this.emptyEl) {
      this.emptyEl.hidden = !empty;
      const where = this.project ? this.project.path : "";
      if (where && !this.emptyEl.dataset.where) {
        this.emptyEl.dataset.where = where;
        this.emptyEl.append(h("p", null, "The agent works in ", h("code", null, where), "."));
      }
    }
    this.titleEl.textContent = chat.title || "New chat";
    this.statusEl.replaceChildren(statusPill(chat.status));
    this.root.dataset.status = chat.status;
    this.totalsEl.textContent = usageLine(this.model.totals());
    const running = chat.status !== "idle" && chat.status !== "failed"; // running, waiting, paused
    this.stopButton.hidden = !running;
    const queued = this.model.queuedCount();
    this.queuedEl.textContent = queued ? `${queued} message${queued === 1 ? "" : "s"} queued` : running && chat.status === "running" ? "Running — new messages wait their turn" : "";
    if (this.chat && this.actionsFor !== chat.title) {
      // Rebuilt when the title changes: the buttons' labels and the rename dialog use it.
      if (this.actionsFor === undefined) this.titleEl.addEventListener("dblclick", () => this.rename());
      this.actionsFor = chat.title;
      this.actionsEl.replaceChildren(
        chatActions(this.app, { ...this.chat, title: chat.title }, {
          onDeleted: () => this.app.navigate(`/projects/${this.chat.projectId}`, { replace: true }),
        }),
      );
    }
    if (this.chat) this.chat.title = chat.title;
    if (this.models && !this.modelTouched && this.modelSelect.value !== chat.model) this.fillModels();
    this.renderCrumbs();
  }

  async rename() {
    const renamed = await renameChat(this.app, { ...this.chat, title: this.model.chat.title });
    if (renamed) this.model.apply({ kind: "chat_updated", payload: { title: renamed.title } }) && this.render();
  }

  // -- commands --------------------------------------------------------------------------------

  onComposerKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.composer.requestSubmit();
    }
  }

  autosize() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 320)}px`;
  }

  async onSubmit(event) {
    event.preventDefault();
    const text = this.textarea.value;
    if (!text.trim()) return;
    const model = this.modelSelect.value && this.modelSelect.value !== this.model.chat.model ? this.modelSelect.value : "";
    this.textarea.value = "";
    this.autosize();
    this.composerError.textContent = "";
    try {
      const sent = await this.app.api.sendMessage(this.chatId, text, model);
      if (this.closed) return;
      this.model.apply({ kind: "message_queued", payload: { message_id: sent.messageId, text }, createdUnix: Date.now() / 1000 });
      if (model) {
        this.modelTouched = false;
        this.model.apply({ kind: "chat_updated", payload: { model } });
      }
      this.render();
      this.view.scrollToBottom();
    } catch (err) {
      if (!this.textarea.value) this.textarea.value = text;
      this.autosize();
      this.composerError.textContent = `Not sent: ${err.message}`;
    }
  }

  async stop() {
    this.stopButton.disabled = true;
    try {
      await this.app.api.cancelChat(this.chatId);
    } catch (err) {
      this.app.notify(`Could not stop: ${err.message}`, "error");
    } finally {
      this.stopButton.disabled = false;
    }
  }

  async resume() {
    try {
      await this.app.api.resumeChat(this.chatId);
    } catch (err) {
      this.app.notify(`Could not resume: ${err.message}`, "error");
    }
  }
}
