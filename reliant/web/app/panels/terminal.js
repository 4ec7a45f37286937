// The Terminal tab: the user's shell on a real PTY on the daemon's machine, in the project (or in
// the open chat's worktree), shown with xterm.js. Keystrokes go out with SendTerminalInput, the
// panel's size with ResizeTerminal, and the output comes from AttachTerminal, by byte offset.
//
// The session a page shows is remembered per project in sessionStorage: after a reload the page
// attaches to the same session again and replays its recent scrollback (offset -1); a dropped
// connection resumes from the last byte shown. A session that ends says so, with its exit code.
// Shift+Escape leaves the terminal for the rest of the page (Tab belongs to the shell).

import { h } from "../dom.js";
import { concatBytes, latin1, pieces, utf8 } from "./bytes.js";
import { linkStylesheet } from "./dock.js";
import { icon } from "./icons.js";
import { installStyleShim } from "./styles.js";
import { OffsetStream } from "./stream.js";

const STORE = "reliant.terminal.";
const THEME = {
  background: "#0d1117",
  foreground: "#e6edf3",
  cursor: "#e6edf3",
  selectionBackground: "#264f78",
  black: "#484f58",
  red: "#ff7b72",
  green: "#3fb950",
  yellow: "#d29922",
  blue: "#58a6ff",
  magenta: "#bc8cff",
  cyan: "#39c5cf",
  white: "#b1bac4",
  brightBlack: "#6e7681",
  brightRed: "#ffa198",
  brightGreen: "#56d364",
  brightYellow: "#e3b341",
  brightBlue: "#79c0ff",
  brightMagenta: "#d2a8ff",
  brightCyan: "#56d4dd",
  brightWhite: "#ffffff",
};

let xterm = null;

/** xterm.js, its fit addon and stylesheet, loaded once, on first need. */
function loadXterm() {
  if (!xterm) {
    installStyleShim();
    const css = new URL("../../vendor/xterm/xterm.css", import.meta.url).href;
    xterm = Promise.all([import("../../vendor/xterm/xterm.mjs"), import("../../vendor/xterm/addon-fit.mjs"), linkStylesheet(css)])
      .then(([core, fit]) => ({ Terminal: core.Terminal, FitAddon: fit.FitAddon }))
      .catch((err) => {
        xterm = null;
        throw err;
      });
  }
  return xterm;
}

function remembered(projectId) {
  try {
    return sessionStorage.getItem(STORE + projectId) || "";
  } catch {
    return "";
  }
}

function remember(projectId, terminalId) {
  try {
    if (terminalId) sessionStorage.setItem(STORE + projectId, terminalId);
    else sessionStorage.removeItem(STORE + projectId);
  } catch {
    // storage blocked: a reload opens a new session
  }
}

function endLine(message) {
  const code = Number(message.exitCode || 0);
  const reason = message.reason || "";
  if (reason === "closed on request") return "closed";
  return `exit code ${code}${reason && reason !== "exited" ? ` · ${reason}` : ""}`;
}

/** One PTY session shown in one xterm. */
class Session {
  constructor(tab, info, lib) {
    this.tab = tab;
    this.api = tab.api;
    this.info = info; // the Terminal record; null until opened
    this.ended = null;
    this.queue = [];
    this.sending = false;
    this.resizeTimer = null;
    this.sentSize = "";
    this.el = h("div.term-screen", { hidden: true, dataset: { state: "opening" } });
    const mono = getComputedStyle(document.documentElement).getPropertyValue("--mono").trim();
    this.term = new lib.Terminal({
      fontFamily: mono || "monospace",
      fontSize: 13,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: THEME,
      allowProposedApi: false,
    });
    this.fit = new lib.FitAddon();
    this.term.loadAddon(this.fit);
    this.term.onData((text) => this.send(utf8(text)));
    this.term.onBinary((text) => this.send(latin1(text)));
    this.term.onResize(() => this.scheduleResize());
    this.term.attachCustomKeyEventHandler((event) => {
      if (event.type === "keydown" && event.key === "Escape" && event.shiftKey) {
        this.tab.leave();
        return false;
      }
      return true;
    });
  }

  get id() {
    return this.info ? this.info.id : "";
  }

  mount(host) {
    host.append(this.el);
    this.el.hidden = false;
    this.term.open(this.el);
    this.fitNow();
  }

  fitNow() {
    if (this.el.hidden || !this.el.isConnected || !this.el.clientWidth) return;
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  /** Opens a new PTY of this xterm's size (in the chat's worktree when it has one). */
  async open(projectId, chatId) {
    this.fitNow();
    this.info = await this.api.openTerminal(projectId, { chatId, cols: this.term.cols, rows: this.term.rows });
    this.sentSize = `${this.term.cols}x${this.term.rows}`;
    this.attach();
  }

  attach() {
    this.el.dataset.terminalId = this.id;
    this.el.dataset.state = "attaching";
    this.stream = new OffsetStream(
      {
        open: (offset, signal) => this.api.attachTerminal(this.id, offset, { signal }),
        isEnd: (message) => Boolean(message.closed),
        onData: (bytes) => {
          this.term.write(bytes);
          this.tab.firstOutput();
        },
        onEnd: (message) => this.end(message),
        onState: (state, detail) => this.onState(state, detail),
      },
      null, // the kept scrollback first: this xterm is new
    );
  }

  onState(state, detail) {
    if (state === "live") {
      this.el.dataset.state = "running";
      this.tab.notice(this, "");
      // The PTY may still have another page's size.
      this.sentSize = "";
      this.scheduleResize(0);
    } else if (state === "reconnecting" && detail.delayMs) {
      this.tab.notice(this, `Reconnecting in ${Math.max(1, Math.round(detail.delayMs / 1000))} s…`, { retry: () => this.stream.retryNow() });
    } else if (state === "failed") {
      this.end({ closed: true, reason: detail.error ? detail.error.message : "gone" });
    }
  }

  end(message) {
    if (this.ended) return;
    this.ended = message;
    this.el.dataset.state = "ended";
    this.term.options.disableStdin = true;
    this.term.write(`\r\n\x1b[2m[session ended: ${endLine(message)}]\x1b[0m\r\n`);
    this.tab.sessionEnded(this);
  }

  send(bytes) {
    if (this.ended || !this.info || !bytes.length) return;
    this.queue.push(bytes);
    if (!this.sending) this.pump();
  }

  /** Input goes out in order, one call at a time; what was typed meanwhile goes out together. */
  async pump() {
    this.sending = true;
    try {
      while (this.queue.length && !this.ended) {
        const batch = concatBytes(this.queue.splice(0));
        for (const piece of pieces(batch)) {
          try {
            await this.api.sendTerminalInput(this.id, piece);
          } catch (err) {
            this.queue = [];
            if (err.code === "not_found") this.end({ closed: true, reason: "the session is gone" });
            else this.tab.notice(this, `Input not delivered: ${err.message}`);
            return;
          }
        }
      }
    } finally {
      this.sending = false;
    }
  }

  scheduleResize(delay = 120) {
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      const size = `${this.term.cols}x${this.term.rows}`;
      if (!this.info || this.ended || size === this.sentSize) return;
      this.sentSize = size;
      this.api.resizeTerminal(this.id, this.term.cols, this.term.rows).then(
        () => {
          this.el.dataset.size = size; // what the PTY was told: cols x rows
        },
        () => {
          this.sentSize = "";
        },
      );
    }, delay);
  }

  async close() {
    if (!this.info || this.ended) return;
    try {
      await this.api.closeTerminal(this.id);
    } catch (err) {
      if (err.code !== "not_found") throw err;
      this.end({ closed: true, reason: "the session is gone" });
    }
  }

  dispose() {
    clearTimeout(this.resizeTimer);
    if (this.stream) this.stream.close();
    this.term.dispose();
    this.el.remove();
  }
}

export class TerminalTab {
  constructor(panel, section) {
    this.panel = panel;
    this.app = panel.app;
    this.api = panel.api;
    this.section = section;
    this.sessions = [];
    this.active = null;
    this.projectId = "";
    this.chatId = "";
    this.visible = false;
    this.started = null;
    this.shownAt = 0;
    this.build();
    this.observer = new ResizeObserver(() => {
      if (!this.frame) {
        this.frame = requestAnimationFrame(() => {
          this.frame = 0;
          if (this.active && this.visible) this.active.fitNow();
        });
      }
    });
    this.observer.observe(this.host);
  }

  build() {
    this.list = h("div.term-list", { role: "group", "aria-label": "Terminal sessions" });
    this.newButton = h("button.small.term-new", { type: "button", onclick: () => this.openNew() }, icon("plus", 14), " New");
    this.closeButton = h("button.small.term-close", { type: "button", disabled: true, onclick: () => this.closeActive(), title: "End this session (its shell and what runs in it)" }, "End session");
    this.noticeEl = h("div.term-notice", { role: "status", "aria-live": "polite" });
    this.host = h("div.term-host", { role: "region", "aria-label": "Terminal", "aria-describedby": "term-hint" });
    this.hint = h("p.term-hint.sr-only", { id: "term-hint" }, "Shift+Escape leaves the terminal.");
    this.section.append(h("div.term-bar", null, this.list, h("span.term-actions", null, this.newButton, this.closeButton)), this.noticeEl, this.host, this.hint);
  }

  setContext(context, changed) {
    this.chatId = context.chatId;
    if (!changed.project && this.projectId === context.projectId) return;
    for (const session of this.sessions) session.dispose();
    this.sessions = [];
    this.active = null;
    this.projectId = context.projectId;
    this.started = null;
    this.noticeEl.replaceChildren();
    this.renderList();
    if (this.visible) this.start();
  }

  show({ focus }) {
    this.visible = true;
    if (!this.shownAt) {
      this.shownAt = performance.now();
      performance.mark("reliant:terminal-tab-shown");
    }
    this.start().then(() => {
      if (!this.visible || !this.active) return;
      this.active.fitNow();
      if (focus) this.active.term.focus();
    });
  }

  hide() {
    this.visible = false;
  }

  leave() {
    const tab = document.getElementById("wp-tab-terminal");
    if (tab) tab.focus();
  }

  firstOutput() {
    if (this.shownAt && !this.outputSeen) {
      this.outputSeen = true;
      performance.mark("reliant:terminal-output");
    }
  }

  /** Loads xterm, then shows the remembered session, another running one, or a new one. */
  start() {
    if (!this.started) {
      const projectId = this.projectId;
      this.started = (async () => {
        let lib;
        let terminals;
        try {
          [lib, terminals] = await Promise.all([loadXterm(), this.api.listTerminals(projectId)]);
        } catch (err) {
          this.started = null;
          this.notice(null, `Could not open the terminal: ${err.message || err}`, { retry: () => this.start() });
          return;
        }
        if (projectId !== this.projectId) return;
        this.lib = lib;
        const running = terminals.filter((t) => t.state === "running").sort((a, b) => Number(a.createdUnix || 0) - Number(b.createdUnix || 0));
        for (const info of running) this.sessions.push(new Session(this, info, lib));
        const wanted = remembered(projectId);
        const pick = this.sessions.find((s) => s.id === wanted) || this.sessions[this.sessions.length - 1];
        if (pick) this.activate(pick);
        else await this.openNew();
      })();
    }
    return this.started;
  }

  async openNew() {
    if (!this.lib) {
      await this.start();
      if (this.sessions.length || !this.lib) return;
    }
    const session = new Session(this, null, this.lib);
    this.sessions.push(session);
    this.activate(session, { attach: false });
    this.newButton.disabled = true;
    try {
      await session.open(this.projectId, this.chatId);
      if (this.active === session) this.activate(session);
      else this.renderList();
      if (this.visible && this.active === session) session.term.focus();
    } catch (err) {
      this.sessions = this.sessions.filter((s) => s !== session);
      session.dispose();
      this.active = null;
      const other = this.sessions[this.sessions.length - 1];
      if (other) this.activate(other);
      else this.renderList();
      this.notice(null, `Could not open a terminal: ${err.message}`, { retry: () => this.openNew() });
    } finally {
      this.newButton.disabled = false;
    }
  }

  activate(session, { attach = true } = {}) {
    if (this.active && this.active !== session) this.active.el.hidden = true;
    this.active = session;
    if (!session.el.isConnected) session.mount(this.host);
    session.el.hidden = false;
    if (attach && session.info && !session.stream) session.attach();
    if (session.info) remember(this.projectId, session.id);
    this.section.dataset.session = session.id;
    session.fitNow();
    this.renderList();
    this.notice(session, session.ended ? `Session ended: ${endLine(session.ended)}.` : "", session.ended ? { action: ["New terminal", () => this.openNew()] } : {});
  }

  sessionEnded(session) {
    if (remembered(this.projectId) === session.id) remember(this.projectId, "");
    this.renderList();
    if (session === this.active) this.notice(session, `Session ended: ${endLine(session.ended)}.`, { action: ["New terminal", () => this.openNew()] });
  }

  async closeActive() {
    const session = this.active;
    if (!session || session.ended) return;
    const ok = await this.app.confirm({ title: "End this terminal session?", text: "Its shell and whatever runs in it are stopped.", ok: "End session" });
    if (!ok) return;
    try {
      await session.close();
    } catch (err) {
      this.notice(session, `Could not end the session: ${err.message}`);
    }
  }

  notice(session, text, { retry = null, action = null } = {}) {
    if (session && session !== this.active) return;
    const parts = text ? [text] : [];
    if (retry) parts.push(" ", h("button.linkish", { type: "button", onclick: retry }, "Try again"));
    if (action) parts.push(" ", h("button.small", { type: "button", onclick: action[1] }, action[0]));
    this.noticeEl.replaceChildren(...parts);
    this.noticeEl.dataset.kind = session && session.ended ? "ended" : text ? "info" : "";
  }

  renderList() {
    this.list.replaceChildren(
      ...this.sessions.map((session, i) => {
        const label = `Terminal ${i + 1}`;
        const state = session.ended ? " (ended)" : session.info ? "" : " (opening)";
        const title = session.info ? `${session.info.workspace || ""} · pid ${session.info.pid || "?"}` : "";
        return h(
          "button.small.term-pick",
          { type: "button", "aria-pressed": String(session === this.active), title, dataset: { terminalId: session.id }, onclick: () => this.activate(session) },
          label + state,
        );
      }),
    );
    this.closeButton.disabled = !this.active || Boolean(this.active.ended) || !this.active.info;
  }

  destroy() {
    this.observer.disconnect();
    for (const session of this.sessions) session.dispose();
    this.sessions = [];
  }
}
