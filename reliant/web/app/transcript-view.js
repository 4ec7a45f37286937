// Renders a ChatModel into a list element, touching only the rows that changed: a token delta
// re-renders the block it extends, never the whole transcript. Everything the agent did between two
// of the user's messages is one row (turns.js): the model's name once at its top, its tokens once
// at its bottom, consecutive tool calls gathered in a collapsible group. Rows far off screen skip
// layout and paint (content-visibility in the stylesheet), so a transcript of thousands of
// messages stays smooth.

import { h } from "./dom.js";
import { ago, duration, fullTime, usageLine } from "./format.js";
import { codeBlocks, renderMarkdown } from "./markdown.js";
import { groupSummary } from "./outcomes.js";
import { fillToolCard, outcomeBadge, toolCard, toolSignature } from "./tools.js";
import { NOTICE_LOOKS } from "./transcript.js";
import { displayRows, turnItems, turnModels, turnUsage } from "./turns.js";
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

/** What a paused chat's reason asks of the user: a key in Settings. */
const NEEDS_KEY = /\b(api key|missing_key|authentication|unauthori[sz]ed|401)\b/i;

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
    this.memberOf = new Map(); // key of a message row -> key of the turn row that shows it
    this.lastTurn = ""; // key of the last turn row (its groups follow the chat's status)
    this.toolsOpen = new Map(); // tool_call_id -> open, as the user left it (rows get rebuilt)
    this.groupsOpen = new Map(); // group key -> open, as the user left it
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
      } else if (this.autoTop < 0 || this.scroller.scrollTop < this.autoTop - 4) this.stick = false;
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
      this.reorder(displayRows(this.model.rows()), changes.changed, changes.chat);
    } else {
      const done = new Set();
      for (const key of changes.changed) {
        const owner = this.memberOf.get(key) || key;
        if (done.has(owner)) continue;
        done.add(owner);
        const el = this.els.get(owner);
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

  /** y / n / a answer an approval: the focused card, else the oldest waiting one; never while
   * typing. True if the key was taken. */
  answerKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing || event.repeat) return false;
    if (event.key !== "y" && event.key !== "n" && event.key !== "a") return false;
    const target = event.target;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable], dialog")) return false;
    if (document.querySelector("dialog[open]")) return false;
    const card = this.keyTarget();
    if (!card) return false;
    event.preventDefault();
    // Never answer what the user cannot see: a card scrolled out of view is shown first.
    if (!card.el.contains(document.activeElement) && !this.inView(card.el)) {
      card.el.scrollIntoView({ block: "nearest" });
      card.el.focus({ preventScroll: true });
      return true;
    }
    card.shortcut(event.key);
    return true;
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

  // -- rows ------------------------------------------------------------------------------------

  reorder(rows, changed, chatChanged = false) {
    const wanted = new Set(rows.map((r) => r.key));
    for (const [key, el] of this.els) {
      if (!wanted.has(key)) {
        el.remove();
        this.els.delete(key);
      }
    }
    this.memberOf.clear();
    let lastTurn = "";
    for (const row of rows) {
      if (row.kind !== "turn") continue;
      lastTurn = row.key;
      for (const member of row.members) this.memberOf.set(member.key, row.key);
    }
    const previousLast = this.lastTurn;
    this.lastTurn = lastTurn;
    const fresh = this.list.firstChild === null;
    const target = fresh ? document.createDocumentFragment() : this.list;
    let prev = null;
    for (const row of rows) {
      let el = this.els.get(row.key);
      if (row.kind === "turn") {
        if (!el || el._kind !== "turn") {
          const made = this.create(row);
          if (el) el.replaceWith(made);
          el = made;
          this.els.set(row.key, el);
        } else if (this.turnChanged(el, row, changed) || (row.key === lastTurn && (chatChanged || row.key !== previousLast))) {
          el._members = row.members;
          this.update(el);
        }
      } else if (!el || el._item !== row.item || el._kind !== row.kind) {
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
    // The turn that was last may have groups held open while it ran.
    if (previousLast && previousLast !== lastTurn && this.els.get(previousLast)) this.update(this.els.get(previousLast));
  }

  /** Whether a turn row's steps differ from what it shows (added, replaced or changed). */
  turnChanged(el, row, changed) {
    const before = el._members || [];
    if (before.length !== row.members.length) return true;
    for (let i = 0; i < before.length; i++) {
      if (before[i].item !== row.members[i].item || changed.has(row.members[i].key)) return true;
    }
    return false;
  }

  create(row) {
    let el;
    switch (row.kind) {
      case "turn":
        el = this.turnRow();
        el._members = row.members;
        break;
      case "message":
      case "queued":
        el = this.userRow(row.item);
        break;
      case "notice": {
        const look = NOTICE_LOOKS[row.item.tone] || NOTICE_LOOKS.error;
        el = h(`div.row.notice.${look.className}`, { role: look.role }, look.label ? h("strong", null, look.label) : null, row.item.text);
        break;
      }
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
      case "turn":
        this.fillTurn(el);
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
      text ? h("div.user-text", null, text) : null, // none: an image alone
      attached.length ? h("ul.attachments", { "aria-label": "Attachments" }, ...attached) : null,
    );
    return el;
  }

  // -- turns -----------------------------------------------------------------------------------

  turnRow() {
    const el = h("article.row.msg.msg-assistant.turn", { "aria-label": "The agent's turn" });
    el._model = h("span.model");
    el.append(h("header.msg-head", null, h("span.who", null, "Assistant"), el._model));
    el._body = h("div.msg-body");
    el._foot = h("footer.msg-foot", { title: "tokens and cost of this turn, all its steps together" });
    el.append(el._body, el._foot);
    el._slots = new Map(); // item key -> {type, el, ...}
    return el;
  }

  /** Whether the chat is working on this turn now (its groups stay open at its tail). */
  turnActive(el) {
    const status = this.model.chat.status;
    return el.dataset.key === this.lastTurn && (status === "running" || status === "waiting");
  }

  fillTurn(el) {
    const members = el._members;
    const live = members.some((m) => m.kind === "live");
    el.classList.toggle("streaming", live);
    const models = turnModels(members);
    const modelText = models.join(", then ");
    if (el._model.textContent !== modelText) el._model.textContent = modelText;
    const items = turnItems(members);
    const active = this.turnActive(el);
    const wanted = new Set();
    let prev = null;
    const place = (container, slotEl, after) => {
      const expected = after ? after.nextSibling : container.firstChild;
      if (expected !== slotEl) container.insertBefore(slotEl, expected);
      return slotEl;
    };
    items.forEach((item, index) => {
      wanted.add(item.key);
      const slot = this.itemSlot(el, item);
      if (item.type === "group") {
        let inner = null;
        const calls = [];
        for (const call of item.calls) {
          wanted.add(call.key);
          const callSlot = this.itemSlot(el, call);
          inner = place(slot.body, callSlot.el, inner);
          calls.push(this.model.tools.get(call.toolCallId) || { name: call.block.toolName, status: "pending" });
        }
        this.fillGroup(slot, item, calls, active && index === items.length - 1);
      }
      prev = place(el._body, slot.el, prev);
    });
    for (const [key, slot] of el._slots) {
      if (!wanted.has(key)) {
        slot.el.remove();
        el._slots.delete(key);
      }
    }
    const u = turnUsage(members);
    const parts = [];
    if (u.steps > 1) parts.push(`${u.steps} steps`);
    if (u.input || u.output || u.cost) parts.push(usageLine(u));
    const foot = live && !u.input && !u.output ? "" : parts.join(" · ");
    if (el._foot.textContent !== foot) el._foot.textContent = foot;
  }

  /** The element of one item of a turn, made on first sight and brought up to date. */
  itemSlot(el, item) {
    let slot = el._slots.get(item.key);
    if (item.type === "group") {
      if (!slot) {
        slot = this.groupEl(item.key);
        el._slots.set(item.key, slot);
      }
      return slot;
    }
    if (item.type === "cut") {
      if (!slot) {
        slot = { type: "cut", el: h("p.answer-cut", { role: "note" }, h("strong", null, "Answer cut: "), item.text) };
        el._slots.set(item.key, slot);
      }
      return slot;
    }
    if (item.type === "call") {
      if (!slot) {
        slot = this.blockEl(item.block);
        el._slots.set(item.key, slot);
      }
      const tool = this.model.tools.get(item.toolCallId) || { name: item.block.toolName, status: "pending", input: {} };
      const gate = this.model.gates.get(item.toolCallId);
      const signature = `${toolSignature(tool, item.block.toolInput)}|${gate ? gate.status : ""}`;
      if (slot.signature !== signature) {
        slot.signature = signature;
        this.fillBlock(slot, item.block, false);
      }
      return slot;
    }
    if (!slot || slot.type !== item.block.type) {
      const made = this.blockEl(item.block);
      if (slot) slot.el.replaceWith(made.el);
      slot = made;
      el._slots.set(item.key, slot);
    }
    this.fillBlock(slot, item.block, item.last);
    return slot;
  }

  groupEl(key) {
    const summary = h("summary");
    const body = h("div.tool-group-body");
    const el = h("details.tool-group", { dataset: { key } }, summary, body);
    const touch = () => (el._touched = true);
    summary.addEventListener("click", touch);
    summary.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") touch();
    });
    el.addEventListener("toggle", () => {
      if (el._touched) this.groupsOpen.set(key, el.open);
    });
    return { type: "group", el, summary, body, drawn: "" };
  }

  /** A group's one-line summary, and whether it is open: as the user left it, else while one of its
   * calls waits for an answer or runs, or while it is the tail of the turn the chat works on. */
  fillGroup(slot, item, tools, tail) {
    const sum = groupSummary(tools);
    const drawn = `${sum.text}|${sum.problems.map((p) => `${p.outcome}:${p.count}`).join(",")}`;
    if (slot.drawn !== drawn) {
      slot.drawn = drawn;
      const problems = sum.problems.map((p) => outcomeBadge(p.outcome, null, `${p.count} ${p.word}`));
      const worst = sum.problems.length ? sum.problems[0].outcome : sum.running ? "running" : "ok";
      slot.el.dataset.outcome = worst;
      slot.summary.replaceChildren(
        h("span.tool-group-text", null, sum.text),
        ...(problems.length ? problems : [outcomeBadge(sum.running ? "running" : "ok", null, sum.running ? "running" : "all ok")]),
      );
      slot.summary.setAttribute("aria-label", `${sum.text}${sum.problems.map((p) => `, ${p.count} ${p.word}`).join("")}`);
    }
    const chosen = this.groupsOpen.get(item.key);
    const waiting = item.calls.some((c) => this.model.gates.get(c.toolCallId)?.status === "pending");
    const open = waiting || (chosen !== undefined ? chosen : sum.running > 0 || tail);
    if (slot.el.open !== open) slot.el.open = open;
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
      const gate = this.model.gates.get(block.toolCallId);
      const waitingFor = gate && gate.status === "pending" ? gate.kind : "";
      fillToolCard(slot.card, { ...tool, name: tool.name || block.toolName, waitingFor }, block.toolInput);
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
    if (!streaming) for (const pre of codeBlocks(fragment)) addCopyButton(pre);
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

  /** Why the chat stopped, with what to do: the one Resume button, and Settings when a key is missing. */
  fillPaused(el) {
    const chat = this.model.chat;
    const label = chat.status === "failed" ? "Failed" : "Paused";
    const reason = chat.reason || "the chat cannot continue";
    const settings = NEEDS_KEY.test(reason) ? h("a.button.secondary.small.to-settings", { href: "/settings", "data-link": "" }, "Set the key in Settings") : null;
    el.replaceChildren(
      h("strong", null, `${label}: `),
      h("span.paused-reason", null, reason),
      h(
        "span.paused-actions",
        null,
        settings,
        this.actions.onResume && chat.status === "paused" ? h("button.small.primary.resume", { type: "button", onclick: () => this.actions.onResume() }, "Resume") : null,
      ),
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
