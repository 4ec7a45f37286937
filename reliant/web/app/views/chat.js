// The chat view: header (title, status and its reason, totals), the live transcript with approval
// and question cards, and the composer (mode, model, pause / resume, stop, interrupt, send).

import { h } from "../dom.js";
import { usageLine } from "../format.js";
import { ChatFeed } from "../feed.js";
import { ChatModel } from "../transcript.js";
import { TranscriptView } from "../transcript-view.js";
import { ModelField, modelProblem, showRefusal } from "../model-field.js";
import { PathCompleter } from "../path-complete.js";
import { chatActions, projectCrumbs, renameChat, showChatProject, statusPill } from "./chat-actions.js";
import { ModeSwitch } from "./mode-switch.js";
import { attachAgentTree } from "./agent-tree.js";
import { attachRunPanel } from "./workflow-run.js";

const SIDEBAR_KINDS = new Set(["chat_status", "chat_updated", "message_completed", "approval_requested", "approval_resolved", "question_asked", "question_answered"]);
const GATE_KINDS = new Set(["approval_requested", "approval_resolved", "question_asked", "question_answered"]);
const BUSY = new Set(["running", "waiting", "paused"]);
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

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
    this.gateSync = 0;
    this.pausing = false;
    this.modeWanted = "";
    this.onDocumentKey = (event) => this.onKey(event);
  }

  async mount(main) {
    this.model = new ChatModel(this.chatId);
    this.root = h("section.chat", { "aria-label": "Chat", dataset: { feed: "connecting" } });
    this.buildHeader();
    this.scroller = h("div.transcript", { tabindex: "0", "aria-label": "Transcript" });
    this.list = h("div.rows", { role: "log", "aria-live": "off" });
    this.instructionsEl = h("p.chat-instructions", { hidden: true });
    this.scroller.append(this.instructionsEl, this.list);
    this.buildComposer();
    this.root.append(this.header, this.scroller, this.composer);
    main.replaceChildren(this.root);
    this.view = new TranscriptView(this.model, this.scroller, this.list, {
      onResume: () => this.resume(),
      gate: {
        approve: (gate, scope, prefix) => this.answerGate(() => this.app.api.approve(gate.id, scope, prefix)),
        deny: (gate, message) => this.answerGate(() => this.app.api.deny(gate.id, message)),
        answer: (gate, answers) => this.answerGate(() => this.app.api.answerQuestion(gate.id, answers)),
        choose: (gate, choice, note) => this.answerGate(() => this.app.api.choose(gate.id, choice, note)),
      },
    });
    document.addEventListener("keydown", this.onDocumentKey);
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
    document.removeEventListener("keydown", this.onDocumentKey);
    if (this.feed) this.feed.close();
    if (this.runPanel) this.runPanel.close();
    if (this.view) this.view.destroy();
    clearTimeout(this.sidebarTimer);
    this.app.sidebar.follow("", null);
    this.app.status.setFeed("closed");
  }

  // -- building --------------------------------------------------------------------------------

  buildHeader() {
    this.titleEl = h("h1.chat-title", null, "…");
    this.statusEl = h("span.chat-status", { role: "status" });
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
      placeholder: "Message the agent — @ attaches a file, Enter sends",
      onkeydown: (e) => this.onComposerKey(e),
      oninput: () => this.autosize(),
      onpaste: (e) => this.takeImages(e, e.clipboardData),
    });
    this.mentions = new PathCompleter(this.textarea, {
      client: this.app.client,
      where: () => (this.chat ? { projectId: this.chat.projectId } : null),
    });
    this.images = []; // pasted or dropped, sent with the next message: [{ mediaType, data }]
    this.imagesEl = h("div.composer-images", { hidden: true, role: "status" });
    this.modelField = new ModelField({
      app: this.app,
      label: "Model for the next message",
      onChange: (model) => {
        this.modelTouched = model !== this.model.chat.model;
      },
    });
    this.queuedEl = h("span.queued-note", { role: "status", "aria-live": "polite" });
    this.sendButton = h("button.primary.send", { type: "submit", "aria-label": "Send message" }, "Send");
    this.stopButton = h("button.danger.stop", { type: "button", "aria-label": "Stop the running turn", hidden: true, onclick: () => this.stop() }, "■ Stop");
    this.pauseButton = h("button.secondary.pause", { type: "button", "aria-label": "Pause after the current step", title: "Let the step in flight finish, then wait until you resume", hidden: true, onclick: () => this.pause() }, "Pause");
    this.interruptButton = h(
      "button.secondary.interrupt",
      { type: "button", "aria-label": "Interrupt: send this message now, in place of the running turn", title: "Cancel the running turn and send this message now (Ctrl+Enter)", hidden: true, onclick: () => this.interrupt() },
      "Interrupt",
    );
    this.composerError = h("p.form-error", { role: "alert" });
    this.dropHint = h("div.drop-hint", { hidden: true, "aria-hidden": "true" }, "Drop images to send them with your message");
    this.modeSwitch = new ModeSwitch((mode) => this.setMode(mode));
    this.composerTools = h("div.composer-tools", null, this.modeSwitch.el, h("span.model-label", null, h("span.model-caption", { "aria-hidden": "true" }, "Model"), this.modelField.el), this.queuedEl);
    this.composer = h(
      "form.composer",
      {
        "aria-label": "Send a message",
        onsubmit: (e) => this.onSubmit(e),
        // Files dragged anywhere over the composer: dropped there, not opened by the browser.
        ondragenter: (e) => this.onDrag(e, true),
        ondragover: (e) => this.onDrag(e, true),
        ondragleave: (e) => this.onDrag(e, this.composer.contains(e.relatedTarget)),
        ondrop: (e) => {
          this.onDrag(e, false);
          this.takeImages(e, e.dataTransfer);
        },
      },
      this.dropHint,
      this.composerTools,
      this.imagesEl,
      this.mentions.list,
      h("div.composer-row", null, this.textarea, h("div.composer-actions", null, this.pauseButton, this.stopButton, this.interruptButton, this.sendButton)),
      this.composerError,
    );
  }

  showMode() {
    const mode = this.modeWanted || this.model.chat.mode || "auto";
    this.modeSwitch.show(mode);
    this.composerTools.dataset.mode = mode;
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
      requestAnimationFrame(() => setTimeout(() => performance.mark("reliant:transcript-painted")));
      showChatProject(this, chat.projectId, () => this.renderChat());
      this.runPanel = attachRunPanel(this.app, this.root, chat);
      this.agentTree = attachAgentTree(this.app, this.root, chat.id, this.runPanel, (ids) => this.model.addAgents(ids));
    } else {
      if (this.runPanel) this.runPanel.load(); // after a reconnect: the states the stream will not replay
      if (this.agentTree) this.agentTree.load();
    }
    this.syncGates(Number(chat.pendingGates || 0) > 0 || chat.status === "waiting");
  }

  /**
   * Brings the approvals and questions up to date after a snapshot (the stream only replays what
   * came after it) or a refused answer: what ListPending* lists is added, what it no longer lists
   * (and the stream did not mention since) was answered elsewhere.
   */
  async syncGates(ask = true) {
    const token = ++this.gateSync;
    const mark = this.model.markStale();
    let approvals = [];
    let questions = [];
    if (ask) {
      try {
        [approvals, questions] = await Promise.all([this.app.api.listPendingApprovals(this.chatId), this.app.api.listPendingQuestions(this.chatId)]);
      } catch {
        return; // the next snapshot tries again
      }
    }
    if (this.closed || token !== this.gateSync) return;
    if (this.model.mergePending(mark, approvals, questions)) this.render();
  }

  /** Sends an answer to an approval or question; a refused one (already answered elsewhere, the
   * turn ended) re-reads what is pending, so the card shows how it really ended. */
  async answerGate(call) {
    try {
      return await call();
    } catch (err) {
      if (err && (err.code === "failed_precondition" || err.code === "not_found")) this.syncGates();
      throw err;
    } finally {
      if (this.app.waiting) this.app.waiting.refreshSoon();
    }
  }

  renderCrumbs() {
    this.app.setCrumbs([...projectCrumbs(this.project), { label: this.model.chat.title || "New chat" }]);
  }

  onUpdates(updates) {
    if (this.closed) return;
    let sidebar = false;
    let gates = false;
    if (this.runPanel) this.runPanel.apply(updates);
    if (this.agentTree) this.agentTree.apply(updates);
    for (const update of updates) {
      if (this.model.apply(update) && update.kind === "chat_updated" && update.payload && update.payload.mode) this.modeHeard(update.payload.mode);
      if (SIDEBAR_KINDS.has(update.kind)) sidebar = true;
      if (GATE_KINDS.has(update.kind)) gates = true;
    }
    this.render();
    if (sidebar) this.refreshSidebarSoon();
    if (gates && this.app.waiting) this.app.waiting.refreshSoon();
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
    this.renderInstructions();
    this.titleEl.textContent = chat.title || "New chat";
    if (this.pausing && chat.status !== "running" && chat.status !== "waiting") this.pausing = false;
    let reason = chat.status === "idle" ? "" : chat.reason;
    if (this.pausing) reason = chat.status === "waiting" && reason ? `${reason} · then pausing` : "pausing after the current step…";
    if (this.statusShown !== `${chat.status}|${reason}`) {
      this.statusShown = `${chat.status}|${reason}`; // a live region: redrawn only when it changes
      this.statusEl.replaceChildren(...[statusPill(chat.status), reason ? h("span.chat-reason", null, reason) : null].filter(Boolean));
    }
    this.root.dataset.status = chat.status;
    // The sidebar shows this chat's status as the header does (not as its last poll saw it).
    if (this.sidebarShown !== `${chat.status}|${chat.title}`) {
      this.sidebarShown = `${chat.status}|${chat.title}`;
      this.app.sidebar.follow(this.chatId, chat.title ? { status: chat.status, title: chat.title } : { status: chat.status });
    }
    this.totalsEl.textContent = usageLine(this.model.totals());
    const running = BUSY.has(chat.status);
    this.stopButton.hidden = !running;
    this.pauseButton.hidden = !(chat.status === "running" || chat.status === "waiting");
    this.pauseButton.disabled = this.pausing;
    this.pauseButton.textContent = this.pausing ? "Pausing…" : "Pause";
    this.interruptButton.hidden = !running;
    const narrow = window.matchMedia("(max-width: 760px)").matches;
    this.textarea.placeholder = running
      ? narrow
        ? "Queued until the turn ends"
        : "Enter queues · Ctrl+Enter interrupts the turn and sends now"
      : narrow
        ? "Message the agent (@file)"
        : "Message the agent — @ attaches a file, Enter sends";
    this.showMode();
    const queued = this.model.queuedCount();
    this.queuedEl.textContent = queued ? `${queued} message${queued === 1 ? "" : "s"} queued` : running && chat.status === "running" ? "Running — new messages wait their turn" : "";
    if (this.chat && this.actionsFor !== chat.title) {
      // Rebuilt when the title changes: the buttons' labels and the rename dialog use it.
      if (this.actionsFor === undefined) this.titleEl.addEventListener("dblclick", () => this.rename());
      this.actionsFor = chat.title;
      const options = { onDeleted: () => this.app.navigate(`/projects/${this.chat.projectId}`, { replace: true }) };
      const wide = chatActions(this.app, { ...this.chat, title: chat.title }, options);
      const narrow = chatActions(this.app, { ...this.chat, title: chat.title }, { ...options, compact: true });
      wide.classList.add("chat-actions-wide"); // words on a desktop, icons on a phone (CSS picks one)
      narrow.classList.add("chat-actions-narrow");
      this.actionsEl.replaceChildren(wide, narrow);
    }
    if (this.chat) this.chat.title = chat.title;
    if (!this.modelTouched && this.modelField.value !== chat.model && document.activeElement !== this.modelField.input) this.modelField.value = chat.model;
    this.renderCrumbs();
  }

  /** A quiet line atop the transcript: which instruction files the agent is told (their full
   * paths in its tooltip). */
  renderInstructions() {
    const files = this.model.instructions;
    const shown = files.map((f) => f.shown).join(", ");
    if (this.instructionsEl.dataset.shown === shown) return;
    this.instructionsEl.dataset.shown = shown;
    this.instructionsEl.hidden = !files.length;
    this.instructionsEl.title = files.length ? `Instruction files in effect:\n${files.map((f) => f.path).join("\n")}` : "";
    this.instructionsEl.replaceChildren(...(files.length ? [h("span.chat-instructions-label", null, "Instructions: "), shown] : []));
  }

  async rename() {
    const renamed = await renameChat(this.app, { ...this.chat, title: this.model.chat.title });
    if (renamed) this.model.apply({ kind: "chat_updated", payload: { title: renamed.title } }) && this.render();
  }

  // -- commands --------------------------------------------------------------------------------

  onComposerKey(event) {
    if (this.mentions.onKey(event)) return; // the @path list takes its keys while open
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.composer.requestSubmit();
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      if (BUSY.has(this.model.chat.status)) this.interrupt();
      else this.composer.requestSubmit();
    } else if (event.key === "Escape" && this.view.keyTarget()) {
      // Out of the message box, onto the waiting approval: its keys (y, n, a) work from there.
      event.preventDefault();
      this.view.keyTarget().el.focus();
      this.view.markKeys();
    }
  }

  /** Scrolls to the card of a waiting approval or question and focuses it; false if not shown. */
  showGate(toolCallId) {
    const card = this.view && this.view.gateCards.get(toolCallId);
    if (!card || !card.el.isConnected) return false;
    card.el.scrollIntoView({ block: "center" });
    card.el.focus({ preventScroll: true });
    this.view.markKeys();
    return true;
  }

  /** y / n / a answer an approval (TranscriptView.answerKey). */
  onKey(event) {
    this.view.answerKey(event);
  }

  /** Files dragged over the composer (`over`: still over it): they may be dropped (not opened by
   * the browser), and a hint says so. Text dragged into the box is left to the browser. */
  onDrag(event, over) {
    const files = event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    if (!files) return;
    event.preventDefault();
    if (over) event.dataTransfer.dropEffect = "copy";
    this.dropHint.hidden = !over;
    this.composer.classList.toggle("dropping", over);
  }

  /** Paste or drop: images go with the next message (vision models see them); text is left alone.
   * Dropped files that are not images are refused, saying which kinds are taken. */
  takeImages(event, transfer) {
    const all = [...((transfer && transfer.files) || [])];
    const files = all.filter((f) => IMAGE_TYPES.has(f.type));
    if (all.length > files.length && event.type === "drop") {
      event.preventDefault();
      this.composerError.textContent = `Not attached: ${all.filter((f) => !files.includes(f)).map((f) => f.name).join(", ")} (only PNG, JPEG, GIF and WebP images)`;
    }
    if (!files.length) return;
    event.preventDefault();
    for (const file of files) {
      const reader = new FileReader();
      reader.onload = () => {
        this.images.push({ mediaType: file.type, data: String(reader.result).split(",", 2)[1], name: file.name || "image" });
        this.showImages();
      };
      reader.readAsDataURL(file);
    }
  }

  showImages() {
    this.imagesEl.hidden = !this.images.length;
    this.imagesEl.replaceChildren(
      ...this.images.map((image, i) =>
        h("span.composer-image", null, h("img", { alt: image.name, src: `data:${image.mediaType};base64,${image.data}` }), h("button.link", { type: "button", "aria-label": `Remove ${image.name}`, onclick: () => (this.images.splice(i, 1), this.showImages()) }, "×")),
      ),
    );
  }

  autosize() {
    this.textarea.style.height = "auto";
    this.textarea.style.height = `${Math.min(this.textarea.scrollHeight, 320)}px`;
  }

  async onSubmit(event) {
    event.preventDefault();
    const text = this.textarea.value;
    if (!text.trim() && !this.images.length) return; // an image alone is a message
    const chosen = this.modelField.value;
    if (modelProblem(chosen)) {
      this.composerError.textContent = modelProblem(chosen);
      this.modelField.input.focus();
      return;
    }
    const model = chosen !== this.model.chat.model ? chosen : "";
    const images = this.images.map(({ mediaType, data }) => ({ mediaType, data }));
    this.textarea.value = "";
    this.autosize();
    this.composerError.textContent = "";
    try {
      const sent = await this.app.api.sendMessage(this.chatId, text, model, images);
      this.images = [];
      this.showImages();
      // A reference that could not be attached is said at once (the message shows it too).
      const missed = (sent.attachments || []).filter((a) => a.kind === "error");
      if (missed.length) this.composerError.textContent = `Not attached: ${missed.map((a) => `@${a.path} (${a.error})`).join("; ")}`;
      if (this.closed) return;
      this.model.apply({ kind: "message_queued", payload: { message_id: sent.messageId, text, image_data: images }, createdUnix: Date.now() / 1000 });
      if (model) {
        this.app.forgetModels(); // it is a recently used one now
        this.modelTouched = false;
        this.model.apply({ kind: "chat_updated", payload: { model } });
      }
      this.render();
      this.view.scrollToBottom();
    } catch (err) {
      if (!this.textarea.value) this.textarea.value = text;
      this.autosize();
      showRefusal(this.composerError, `Not sent: ${err.message}`);
    }
  }

  async interrupt() {
    const text = this.textarea.value;
    if (!text.trim()) {
      this.composerError.textContent = "Type the message that replaces the running turn, then interrupt.";
      this.textarea.focus();
      return;
    }
    this.textarea.value = "";
    this.autosize();
    this.composerError.textContent = "";
    this.interruptButton.disabled = true;
    try {
      const sent = await this.app.api.interruptChat(this.chatId, text);
      if (this.closed) return;
      this.model.apply({ kind: "message_queued", payload: { message_id: sent.messageId, text }, createdUnix: Date.now() / 1000 });
      this.render();
      this.view.scrollToBottom();
    } catch (err) {
      if (!this.textarea.value) this.textarea.value = text;
      this.autosize();
      this.composerError.textContent = `Not sent: ${err.message}`;
    } finally {
      this.interruptButton.disabled = false;
    }
  }

  async pause() {
    this.pausing = true;
    this.renderChat();
    try {
      const answer = await this.app.api.pauseChat(this.chatId);
      if (!answer.paused) this.pausing = false; // nothing was running
    } catch (err) {
      this.pausing = false;
      this.app.notify(`Could not pause: ${err.message}`, "error");
    }
    if (!this.closed) this.renderChat();
  }

  /** The switch shows the chosen mode at once; the chat's own mode comes back on the stream (in
   * order with switches made elsewhere), so the answer of SetMode never overrides a newer one. */
  async setMode(mode) {
    const request = { mode, answered: false };
    this.modeRequest = request;
    this.modeWanted = mode;
    this.showMode();
    this.composerError.textContent = "";
    try {
      await this.app.api.setMode(this.chatId, mode);
      request.answered = true;
      if (this.modeRequest === request && this.model.chat.mode === mode) this.modeWanted = ""; // no change to wait for
    } catch (err) {
      if (this.modeRequest === request) this.modeWanted = "";
      this.composerError.textContent = `Could not switch the mode: ${err.message}`;
    }
    if (!this.closed) this.showMode();
  }

  /** A mode from the stream: the switch shows it, unless it is older than a switch still on its way. */
  modeHeard(mode) {
    const request = this.modeRequest;
    if (request && this.modeWanted && (mode === request.mode || request.answered)) this.modeWanted = "";
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

  /** The paused notice's Resume (the one Resume there is). */
  async resume() {
    const button = this.list.querySelector(".notice-paused button.resume");
    if (button) button.disabled = true;
    try {
      await this.app.api.resumeChat(this.chatId);
    } catch (err) {
      this.app.notify(`Could not resume: ${err.message}`, "error");
      if (button) button.disabled = false;
    }
  }
}
