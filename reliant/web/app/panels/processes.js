// The Processes tab: the project's background processes (started by the model with
// `shell run_in_background`), as Postgres records them: command, state, pid, exit code and the TCP
// ports they listen on — links when the daemon runs on this machine. Output streams live on
// demand (StreamProcessOutput, from the first byte kept); a running process can be killed.

import { ansiToFragment } from "../ansi.js";
import { append, clear, h } from "../dom.js";
import { ago, duration, fullTime } from "../format.js";
import { size } from "./bytes.js";
import { OffsetStream } from "./stream.js";

const POLL_MS = 3000;
const MAX_SHOWN_CHARS = 400_000; // older output is dropped from the page (the daemon keeps 1 MiB)
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Whether links to 127.0.0.1 reach the daemon's machine: the page and the daemon are on this host. */
export function portsAreLocal(status, daemonId, pageHost = location.hostname) {
  if (!LOOPBACK.has(pageHost) || !status) return false;
  const daemon = (status.daemons || []).find((d) => d.id === daemonId);
  const api = (status.roles || []).find((r) => r.role === "api");
  return Boolean(daemon && api && daemon.hostname && daemon.hostname === api.host);
}

export class ProcessesTab {
  constructor(panel, section) {
    this.panel = panel;
    this.app = panel.app;
    this.api = panel.api;
    this.items = new Map(); // id -> {li, process, output, stream, decoder}
    this.projectId = "";
    this.chatId = "";
    this.timer = null;
    this.visible = false;
    this.token = 0;
    this.onlyChat = h("input", { type: "checkbox", onchange: () => this.refresh() });
    this.onlyChatLabel = h("label.wp-check", { hidden: true }, this.onlyChat, " Only this chat's");
    this.summary = h("span.proc-summary", { role: "status", "aria-live": "polite" });
    this.list = h("ul.proc-list", { "aria-label": "Background processes" });
    section.append(
      h("div.wp-bar", null, this.summary, h("span.wp-bar-actions", null, this.onlyChatLabel, h("button.small", { type: "button", onclick: () => this.refresh() }, "Refresh"))),
      this.list,
    );
  }

  setContext(context, changed) {
    this.chatId = context.chatId;
    this.onlyChatLabel.hidden = !context.chatId;
    if (!context.chatId) this.onlyChat.checked = false;
    if (changed.project || this.projectId !== context.projectId) {
      this.projectId = context.projectId;
      for (const item of this.items.values()) this.stopOutput(item);
      this.items.clear();
      this.list.replaceChildren();
    }
    if (this.visible) this.refresh();
  }

  show() {
    this.visible = true;
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, POLL_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this.timer);
    this.timer = null;
  }

  destroy() {
    this.hide();
    for (const item of this.items.values()) this.stopOutput(item);
  }

  async refresh() {
    if (!this.projectId) return;
    const token = ++this.token;
    let processes;
    try {
      const [found] = await Promise.all([
        this.api.listProcesses(this.projectId, this.onlyChat.checked ? this.chatId : ""),
        this.app.status.last ? null : this.app.status.refresh(),
      ]);
      processes = found;
    } catch (err) {
      if (token === this.token) this.summary.textContent = `Could not list the processes: ${err.message}`;
      return;
    }
    if (token !== this.token) return;
    processes.sort((a, b) => Number(b.startedUnix || 0) - Number(a.startedUnix || 0));
    const running = processes.filter((p) => p.state === "running").length;
    this.summary.textContent = processes.length ? `${running} running · ${processes.length} in all` : "";
    const seen = new Set();
    const order = [];
    for (const process of processes) {
      seen.add(process.id);
      let item = this.items.get(process.id);
      if (!item) {
        item = { li: h("li.proc", { dataset: { processId: process.id } }), process: null, output: null, stream: null };
        this.items.set(process.id, item);
      }
      this.render(item, process);
      order.push(item.li);
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        this.stopOutput(item);
        this.items.delete(id);
      }
    }
    if (!order.length) {
      this.list.replaceChildren(h("li.wp-empty", null, "No background processes. The agent starts them with the shell tool's run_in_background; they show here with their output and ports."));
      return;
    }
    // Keep the DOM nodes (open outputs stay open); only reorder when the order changed.
    const current = [...this.list.children];
    if (current.length !== order.length || current.some((el, i) => el !== order[i])) this.list.replaceChildren(...order);
  }

  render(item, process) {
    item.process = process;
    const key = JSON.stringify([process.state, process.pid, process.ports, process.exitCode, process.hasExitCode, process.outputBytes, process.finishedUnix]);
    if (item.key === key) return;
    item.key = key;
    const li = item.li;
    li.dataset.state = process.state;
    const started = Number(process.startedUnix || 0);
    const finished = Number(process.finishedUnix || 0);
    const meta = [`pid ${process.pid || "?"}`];
    if (started) meta.push(process.state === "running" ? `started ${ago(started)}` : `ran ${duration(Math.max(0, (finished || started) - started) * 1000)}`);
    if (process.hasExitCode) meta.push(`exit code ${process.exitCode || 0}`);
    if (Number(process.outputBytes || 0)) meta.push(`${size(process.outputBytes)} output`);
    const ports = (process.ports || []).map(Number);
    const local = portsAreLocal(this.app.status.last, process.daemonId);
    const portEls = ports.map((port) =>
      local
        ? h("a.proc-port", { href: `http://127.0.0.1:${port}/`, target: "_blank", rel: "noopener noreferrer", title: `Open http://127.0.0.1:${port}/ in a new tab` }, `127.0.0.1:${port}`)
        : h("code.proc-port", { title: "on the daemon's machine" }, `port ${port}`),
    );
    const outputId = `proc-out-${process.id}`;
    if (!item.toggle) {
      item.toggle = h("button.small.proc-toggle", { type: "button", "aria-expanded": "false", "aria-controls": outputId, onclick: () => this.toggleOutput(item) }, "Output");
      item.kill = h("button.small.danger.proc-kill", { type: "button", onclick: () => this.kill(item) }, "Kill");
      item.output = h("pre.terminal.proc-output", { id: outputId, hidden: true, tabindex: "0", role: "log", "aria-label": `Output of ${process.command}` });
    }
    item.kill.hidden = process.state !== "running";
    append(clear(li), [
      h(
        "div.proc-head",
        null,
        h(`span.pill.proc-state.proc-state-${process.state}`, null, process.state),
        h("code.proc-cmd", { title: process.command }, process.command),
      ),
      h("div.proc-meta", { title: started ? `started ${fullTime(started)}` : "" }, meta.join(" · ")),
      portEls.length ? h("div.proc-ports", null, "Listening on ", ...portEls.flatMap((el, i) => (i ? [", ", el] : [el]))) : null,
      h("div.proc-actions", null, item.toggle, item.kill),
      item.output,
    ]);
  }

  toggleOutput(item) {
    const open = item.output.hidden;
    item.output.hidden = !open;
    item.toggle.setAttribute("aria-expanded", String(open));
    if (open && !item.stream) this.startOutput(item);
  }

  startOutput(item) {
    item.output.replaceChildren();
    item.shown = 0;
    item.decoder = new TextDecoder();
    item.stream = new OffsetStream(
      {
        open: (offset, signal) => this.api.streamProcessOutput(item.process.id, offset, { signal }),
        isEnd: (message) => Boolean(message.process && message.process.state && message.process.state !== "running"),
        onData: (bytes) => this.appendOutput(item, item.decoder.decode(bytes, { stream: true })),
        onMessage: (message) => {
          if (message.process && message.process.id) this.render(item, { ...item.process, ...message.process });
        },
        onEnd: () => {
          const rest = item.decoder.decode();
          if (rest) this.appendOutput(item, rest);
          if (!item.shown) item.output.append(h("span.proc-none", null, "(no output)"));
          this.refresh();
        },
        onState: (state, detail) => {
          if (state === "failed") this.appendOutput(item, `\n[output not available: ${detail.error.message}]\n`);
        },
      },
      0,
    );
  }

  appendOutput(item, text) {
    if (!text) return;
    const pre = item.output;
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    pre.append(ansiToFragment(text));
    item.shown += text.length;
    if (item.shown > MAX_SHOWN_CHARS) {
      const all = pre.textContent;
      const kept = all.slice(all.length - MAX_SHOWN_CHARS / 2);
      pre.replaceChildren(h("span.proc-none", null, "… earlier output not shown\n"), kept);
      item.shown = kept.length;
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  stopOutput(item) {
    if (item.stream) item.stream.close();
    item.stream = null;
  }

  async kill(item) {
    const process = item.process;
    const ok = await this.app.confirm({ title: "Kill this process?", text: `${process.command} (pid ${process.pid}) and its children are stopped.`, ok: "Kill" });
    if (!ok) return;
    item.kill.disabled = true;
    try {
      const killed = await this.api.killProcess(process.id);
      this.render(item, { ...process, ...killed });
    } catch (err) {
      this.app.notify(`Could not kill the process: ${err.message}`, "error");
    } finally {
      item.kill.disabled = false;
      this.refresh();
    }
  }
}
