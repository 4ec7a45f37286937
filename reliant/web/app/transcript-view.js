// Renders a ChatModel into a list element, touching only the rows that changed: a token delta
// re-renders the block it extends, never the whole transcript. Rows far off screen skip layout and
// paint (content-visibility in the stylesheet), so a transcript of thousands of messages stays
// smooth.

import { h } from "./dom.js";
import { ago, duration, fullTime, usageLine } from "./format.js";
import { renderMarkdown } from "./markdown.js";
import { fillToolCard, toolCard } from "./tools.js";
import { GateCard } from "./gate-cards.js";

const STICK_PX = 80;

function addCopyButton(pre) {
  const button = h("button.copy.small", { type: "button", "aria-label": "Copy code", title: "Copy" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(pre.querySelector("code")?.textContent || "");
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
  pre.prepend(button);
}

export class TranscriptView {
  /**
   * @param {import("./transcript.js").ChatModel} model
   * @param {HTMLElement} scroller  the scrolling container
   * @param {HTMLElement} list      the element that holds the rows
   * @param {{onResume?: Function, gate?: {approve: Function, deny: Function, answer: Function}}} actions
   */
  constructor(model, scroller, list, actions = {}) {
    this.model = model;
    this.scroller = scroller;
    this.list = list;
    this.actions = actions;
    this.els = new Map(); // row key -> element
    this.toolsOpen = new Map(); // tool_call_id -> open, as the user left it (rows get rebuilt)
    this.gateCards = new Map(); // tool_call_id -> GateCard: moved between rows, never rebuilt
    this.keysOn = null; // the card that keys (y, n, a) act on now
    // Follow the bottom while the user is there; scrolling up detaches, coming back re-attaches.
    // Content growing under us (streaming, rows laid out late) never detaches.
    this.stick = true;
    this.autoTop = -1;
    this.onScroll = () => {
      const distance = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      if (distance < STICK_PX) {
        this.stick = true;
        this.jump.hidden = true;
      }
      else if (this.autoTop < 0 || this.scroller.scrollTop < this.autoTop - 4) this.stick = false;
    };
    scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.resizes = new ResizeObserver(() => {
      if (this.stick) this.scrollToBottom();
      else this.jump.hidden = false;
    });
    // Shown when content arrives below while the user reads further up.
    this.jump = h("button.jump", { type: "button", hidden: true, onclick: () => this.scrollToBottom() }, "↓ Latest");
    scroller.append(this.jump);
    this.resizes.observe(list);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  destroy() {
    clearInterval(this.ticker);
    this.resizes.disconnect();
    this.scroller.removeEventListener("scroll", this.onScroll);
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.autoTop = this.scroller.scrollTop;
    this.stick = true;
    this.jump.hidden = true;
  }

  /** Brings the DOM up to date with the model; returns what changed (from model.take()). */
  render() {
    const changes = this.model.take();
    const stick = this.stick;
    if (changes.order) {
      this.reorder(this.model.rows(), changes.changed);
    } else {
      for (const key of changes.changed) {
        const el = this.els.get(key);
        if (el) this.update(el);
      }
    }
    if (stick && (changes.order || changes.changed.size)) this.scrollToBottom();
    if (changes.gates) this.markKeys();
    return changes;
  }

  // -- approvals and questions -----------------------------------------------------------------

  gateCard(gate) {
    let card = this.gateCards.get(gate.toolCallId);
    if (!card) {
      const actions = this.actions.gate || {};
      card = new GateCard(gate, { ...actions, settled: () => this.focusNextGate() });
      card.el.addEventListener("focusin", () => this.markKeys());
      card.el.addEventListener("focusout", () => setTimeout(() => this.markKeys()));
      this.gateCards.set(gate.toolCallId, card);
    }
    card.update(gate, this.model.tools.get(gate.toolCallId) || null);
    return card;
  }

  /** Shows the gate of a tool call (if it has one) at the end of `container`. */
  attachGate(container, toolCallId) {
    const gate = this.model.gates.get(toolCallId);
    if (!gate) return;
    const card = this.gateCard(gate);
    if (card.el.parentNode !== container) container.append(card.el);
  }

  /** The approval card keys act on: the one with the focus, else the oldest pending one shown. */
  keyTarget() {
    const focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".gate-approval") : null;
    if (focused) {
      const card = this.gateCards.get(focused.dataset.toolCallId);
      if (card && card.pending) return card;
    }
    for (const gate of this.model.pendingGates()) {
      if (gate.kind !== "approval" || gate.approval === "node") continue; // a node's choices have no keys
      const card = this.gateCards.get(gate.toolCallId);
      if (card && card.el.isConnected) return card;
    }
    return null;
  }

  /** Whether most of `el`'s top is inside the transcript's visible area. */
  inView(el) {
    const box = el.getBoundingClientRect();
    const view = this.scroller.getBoundingClientRect();
    return box.bottom > view.top + 24 && box.top < view.bottom - 24;
  }

  markKeys() {
    const target = this.keyTarget();
    if (target === this.keysOn) return;
    if (this.keysOn) delete this.keysOn.el.dataset.keys;
    this.keysOn = target;
    if (target) target.el.dataset.keys = "on";
  }

  /** After answering the focused card: the next waiting card takes the focus. */
  focusNextGate() {
    const next = this.model.pendingGates().map((g) => this.gateCards.get(g.toolCallId)).find((c) => c && c.el.isConnected);
    if (next) next.el.focus({ preventScroll: false });
    this.markKeys();
  }

  reorder(rows, changed) {
    const wanted = new Set(rows.map((r) => r.key));
    for (const [key, el] of this.els) {
      if (!wanted.has(key)) {
        el.remove();
        this.els.delete(key);
      }
    }
    const fresh = this.list.firstChild === null;
    const target = fresh ? document.createDocumentFragment() : this.list;
    let prev = null;
    for (const row of rows) {
      let el = this.els.get(row.key);
      if (!el || el._item !== row.item || el._kind !== row.kind) {
        const made = this.create(row);
        if (el) el.replaceWith(made);
        el = made;
        this.els.set(row.key, el);
      } else if (changed.has(row.key)) {
        this.update(el);
      }
      const expected = prev ? prev.nextSibling : target.firstChild;
      if (expected !== el) target.insertBefore(el, expected);
      prev = el;
    }
    if (fresh) this.list.append(target);
  }

  create(row) {
    let el;
    switch (row.kind) {
      case "message":
      case "queued":
        el = row.item.role === "user" ? this.userRow(row.item) : this.assistantRow(row.item, false);
        break;
      case "live":
        el = this.assistantRow(row.item, true);
        break;
      case "notice":
        el = h("div.row.notice.notice-error", { role: "alert" }, h("strong", null, "Error: "), row.item.text);
        break;
      case "retry":
        el = h("div.row.notice.notice-retry", { role: "status" });
        break;
      case "paused":
        el = h("div.row.notice.notice-paused", { role: "status" });
        break;
      case "gate":
        el = h("div.row.gate-row");
        break;
      default:
        el = h("div.row");
    }
    el._item = row.item;
    el._kind = row.kind;
    el.dataset.key = row.key;
    this.update(el);
    return el;
  }

  update(el) {
    switch (el._kind) {
      case "message":
      case "queued":
        if (el._item.role !== "user") this.fillAssistant(el, el._item, false);
        break;
      case "live":
        this.fillAssistant(el, el._item, true);
        break;
      case "retry":
        this.fillRetry(el);
        break;
      case "paused":
        this.fillPaused(el);
        break;
      case "gate":
        this.attachGate(el, el._item.toolCallId);
        break;
      default:
    }
  }

  userRow(m) {
    const text = m.blocks.filter((b) => b.type === "text" && !b.path).map((b) => b.text).join("\n");
    // Files attached with @path (a red chip: not attached, with the reason) and pasted images.
    const attached = m.blocks.filter((b) => b.path || b.type === "image").map((b) =>
      b.path
        ? h(`li.attachment${b.isError ? ".attachment-error" : ""}`, { title: b.isError ? `Not attached: ${b.text}` : "Attached" }, `@${b.path}`)
        : h("li.attachment", null, h("img.msg-image", { alt: "attached image", src: `data:${b.mediaType};base64,${b.text}` })),
    );
    const el = h(
      `article.row.msg.msg-user${m.queued ? ".queued" : ""}`,
      { "aria-label": m.queued ? "Your message, queued" : "Your message" },
      h("header.msg-head", null, h("span.who", null, "You"), m.queued ? h("span.badge.badge-queued", { title: "Waits until the running turn ends" }, "queued") : null, h("time", { datetime: new Date(m.createdAt * 1000).toISOString(), title: fullTime(m.createdAt) }, ago(m.createdAt))),
      h("div.user-text", null, text),
      attached.length ? h("ul.attachments", { "aria-label": "Attachments" }, ...attached) : null,
    );
    return el;
  }

  assistantRow(m, live) {
    const el = h(`article.row.msg.msg-assistant${live ? ".streaming" : ""}`, { "aria-label": "Assistant message" });
    el.append(h("header.msg-head", null, h("span.who", null, "Assistant"), m.model ? h("span.model", null, m.model) : null));
    el._body = h("div.msg-body");
    el.append(el._body);
    el._blocks = [];
    if (!live) {
      el._foot = h("footer.msg-foot", { title: "tokens and cost of this message" });
      el.append(el._foot);
    }
    return el;
  }

  fillAssistant(el, m, live) {
    const blocks = m.blocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i];
      if (!block) continue;
      let slot = el._blocks[i];
      if (!slot || slot.type !== block.type) {
        const made = this.blockEl(block);
        if (slot) slot.el.replaceWith(made.el);
        else el._body.append(made.el);
        slot = el._blocks[i] = made;
      }
      this.fillBlock(slot, block, live && i === blocks.length - 1);
    }
    if (el._foot && !live) {
      const u = m.usage;
      el._foot.textContent = u.input || u.output || u.cost ? usageLine(u) : "";
    }
  }

  blockEl(block) {
    if (block.type === "thinking") {
      const body = h("div.thinking-text");
      const el = h("details.thinking", null, h("summary", null, "Thinking"), body);
      return { type: block.type, el, body, len: -1 };
    }
    if (block.type === "tool_call") {
      const card = toolCard(block.toolCallId);
      const remembered = this.toolsOpen.get(block.toolCallId);
      if (remembered !== undefined) {
        card.open = remembered;
        card._touched = true;
      }
      card.addEventListener("toggle", () => {
        if (card._touched) this.toolsOpen.set(block.toolCallId, card.open);
      });
      // The call's approval or question, if it has one, shows under its card.
      const el = h("div.tool-call", null, card);
      return { type: block.type, el, card, len: -1 };
    }
    if (block.type === "image") {
      const el = h("img.msg-image", { alt: "image", src: `data:${block.mediaType || "image/png"};base64,${block.text}` });
      return { type: block.type, el, len: block.text.length };
    }
    return { type: block.type, el: h("div.md"), len: -1 };
  }

  fillBlock(slot, block, streaming) {
    if (block.type === "tool_call") {
      const tool = this.model.tools.get(block.toolCallId) || { name: block.toolName, status: "pending", input: {} };
      fillToolCard(slot.card, { ...tool, name: tool.name || block.toolName }, block.toolInput);
      this.attachGate(slot.el, block.toolCallId);
      return;
    }
    if (block.type === "image") return;
    const text = block.text || "";
    if (slot.len === text.length && slot.streaming === streaming) return;
    slot.len = text.length;
    slot.streaming = streaming;
    if (block.type === "thinking") {
      slot.body.textContent = text;
      slot.el.classList.toggle("active", streaming);
      slot.el.querySelector("summary").textContent = streaming ? "Thinking…" : "Thinking";
      return;
    }
    const fragment = renderMarkdown(text);
    if (!streaming) for (const pre of fragment.querySelectorAll("pre.code")) addCopyButton(pre);
    slot.el.replaceChildren(fragment);
    slot.el.classList.toggle("cursor", streaming);
  }

  fillRetry(el) {
    const r = this.model.retry;
    if (!r) return;
    const left = Math.max(0, Math.ceil((r.until - Date.now()) / 1000));
    const reason = r.reason ? ` (${r.reason})` : "";
    el.textContent = left > 0 ? `Rate-limited by provider${reason}, retrying in ${left} s` : `Rate-limited by provider${reason}, retrying now…`;
    if (r.attempt > 1) el.textContent += ` · attempt ${r.attempt}`;
  }

  fillPaused(el) {
    const chat = this.model.chat;
    const label = chat.status === "failed" ? "Failed" : "Paused";
    el.replaceChildren(
      h("strong", null, `${label}: `),
      chat.reason || "the chat cannot continue",
      this.actions.onResume && chat.status === "paused" ? h("button.small", { type: "button", onclick: () => this.actions.onResume() }, "Resume") : null,
    );
  }

  tick() {
    for (const el of this.list.querySelectorAll("[data-since]")) {
      el.textContent = duration(Math.max(0, Date.now() - Number(el.dataset.since)));
    }
    const retry = this.els.get("retry");
    if (retry) this.fillRetry(retry);
  }
}
