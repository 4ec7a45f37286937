// The status bar: the open chat's stream, roles, services, daemons online, the Temporal UI link.

import { h } from "../dom.js";

const POLL_MS = 10_000;
const ROLE_ORDER = ["api", "worker", "gateway"];

const FEED_LABEL = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  parked: "paused while hidden",
  unauthorized: "signed out",
  gone: "chat gone",
  closed: "",
};

export class StatusBar {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.feed = h("span.sb-feed", { role: "status", "aria-live": "polite" });
    this.system = h("span.sb-system");
    this.links = h("span.sb-links");
    this.summary = h("span.sb-summary"); // narrow screens show this one line instead of every item
    el.append(this.feed, this.system, this.summary, this.links);
    this.timer = null;
    this.last = null;
  }

  start() {
    // Not before the page's own first calls: the status can wait a moment, a chat should not.
    setTimeout(() => this.refresh(), 400);
    this.timer = setInterval(() => this.refresh(), POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
  }

  /** The open chat's stream; `retry` (while reconnecting) offers to try again at once. */
  setFeed(state, detail = {}, retry = null) {
    let text = FEED_LABEL[state] ?? state;
    if (state === "reconnecting" && detail.delayMs) text = `reconnecting in ${Math.max(1, Math.round(detail.delayMs / 1000))} s…`;
    this.feed.replaceChildren(text ? `● ${text}` : "");
    if (retry && state === "reconnecting" && detail.delayMs) {
      this.feed.append(" ", h("button.linkish", { type: "button", onclick: retry }, "retry now"));
    }
    this.feed.dataset.state = state;
  }

  async refresh() {
    if (document.hidden && this.last) return;
    let status;
    try {
      status = await this.app.api.getStatus();
    } catch (err) {
      this.system.replaceChildren(h("span.sb-item.bad", { title: err.message }, "● api unreachable"));
      return;
    }
    this.last = status;
    this.render(status);
  }

  render(status) {
    const items = [];
    const roles = new Map();
    for (const role of status.roles || []) {
      const prev = roles.get(role.role);
      roles.set(role.role, Boolean(prev) || Boolean(role.online));
    }
    const names = [...new Set([...ROLE_ORDER, ...roles.keys()])].filter((n) => roles.has(n) || ROLE_ORDER.includes(n));
    for (const name of names) {
      const ok = roles.get(name) === true;
      items.push(h(`span.sb-item.${ok ? "ok" : "bad"}`, { title: `${name} role ${ok ? "online" : "offline"}` }, `● ${name}`));
    }
    for (const svc of status.services || []) {
      const title = svc.ok ? `${svc.name} ${svc.address} (${Number(svc.latencyMs || 0).toFixed(1)} ms)` : `${svc.name}: ${svc.error}`;
      items.push(h(`span.sb-item.${svc.ok ? "ok" : "bad"}`, { title }, `● ${svc.name}`));
    }
    const daemons = status.daemons || [];
    const online = daemons.filter((d) => d.online);
    const daemonTitle = daemons.map((d) => `${d.name || d.id}: ${d.online ? "online" : "offline"} (${(d.workspaces || []).join(", ")})`).join("\n");
    items.push(h(`span.sb-item.${online.length ? "ok" : "bad"}`, { title: daemonTitle || "no daemon has connected" }, `● ${online.length} daemon${online.length === 1 ? "" : "s"} online`));
    this.system.replaceChildren(...items);
    const bad = items.filter((item) => item.classList.contains("bad")).map((item) => item.textContent.replace(/^● /, ""));
    this.summary.className = `sb-summary sb-item ${bad.length ? "bad" : "ok"}`;
    this.summary.textContent = bad.length ? `● ${bad.join(", ")} down` : "● all up";
    this.summary.title = items.map((item) => item.textContent.replace(/^● /, "")).join(", ");
    const links = [];
    if (status.temporalUiUrl) {
      // Sealed payloads: the Temporal UI shows workflows and their events, never what they carry.
      links.push(
        h(
          "a.sb-temporal",
          {
            href: status.temporalUiUrl,
            target: "_blank",
            rel: "noopener noreferrer",
            title: "Workflows and their events. Their payloads are encrypted with reliant's codec key: the Temporal UI cannot show them (the transcripts are here).",
          },
          "Temporal UI ",
          h("span.sb-sealed", null, "(payloads encrypted)"),
        ),
      );
    }
    if (status.version) links.push(h("span.sb-version", null, `reliant ${status.version}`));
    this.links.replaceChildren(...links);
  }

  /** Daemons online, from the last status (for the add-project form). */
  daemons() {
    return ((this.last && this.last.daemons) || []).filter((d) => d.online);
  }
}
