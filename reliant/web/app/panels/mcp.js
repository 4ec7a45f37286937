// The MCP tab: the project's MCP servers (from <data-dir>/mcp.json, <project>/.reliant/mcp.json
// and .reliant/mcp.local.json) with their status, last error, next automatic retry and the tools
// they give the model; restart one, or disable and enable it; add one (written to the project's
// .reliant/mcp.json by the daemon), with an example of the file. The project's own servers run only
// once the project is trusted: until then they are listed as untrusted, with what they would run,
// and the trust step stands above them.

import { h } from "../dom.js";
import { ago } from "../format.js";
import { projectCalls, reviewTrust } from "../views/project-trust.js";

const POLL_MS = 5000;
const FAST_POLL_MS = 1000; // while a server is starting
const STATUS_TEXT = {
  starting: "starting",
  healthy: "healthy",
  unhealthy: "unhealthy",
  disconnected: "disconnected",
  disabled: "disabled",
  untrusted: "not trusted",
};

export class McpTab {
  constructor(panel, section) {
    this.panel = panel;
    this.app = panel.app;
    this.api = panel.api;
    this.where = null;
    this.visible = false;
    this.timer = null;
    this.token = 0;
    this.busy = new Set(); // server names with a restart/enable/disable in flight
    this.summary = h("span.mcp-summary", { role: "status", "aria-live": "polite" });
    this.trust = h("div.mcp-trust");
    this.errors = h("div.mcp-errors");
    this.list = h("ul.mcp-list", { "aria-label": "MCP servers" });
    this.files = h("p.mcp-files.hint");
    this.adder = this.addForm();
    section.append(
      h("div.wp-bar", null, this.summary, h("span.wp-bar-actions", null, h("button.small", { type: "button", onclick: () => this.refresh() }, "Refresh"))),
      this.trust,
      this.errors,
      this.list,
      this.files,
      this.adder,
      h("details.mcp-example", null, h("summary", null, "Example .reliant/mcp.json"), h("pre.mcp-example-json", null, EXAMPLE)),
    );
  }

  /** Add a server: a command (stdio) or a URL (http), written to the project's own file. */
  addForm() {
    const name = h("input", { type: "text", name: "name", required: true, placeholder: "files", autocomplete: "off", spellcheck: "false" });
    const command = h("input", { type: "text", name: "command", placeholder: "npx -y @modelcontextprotocol/server-filesystem .", autocomplete: "off", spellcheck: "false" });
    const env = h("textarea", { name: "env", rows: "2", placeholder: "API_TOKEN=${API_TOKEN}", spellcheck: "false" });
    const url = h("input", { type: "url", name: "url", placeholder: "https://example.com/mcp", autocomplete: "off" });
    const kind = h("select", { name: "kind" }, h("option", { value: "stdio" }, "a command (stdio)"), h("option", { value: "http" }, "a URL (http)"));
    const file = h("select", { name: "file" }, h("option", { value: "" }, ".reliant/mcp.json (goes with the repository)"), h("option", { value: "local" }, ".reliant/mcp.local.json (this machine only)"));
    const commandFields = h("div.mcp-add-stdio", null, h("label.field", null, "Command line", command), h("label.field", null, "Environment (NAME=value per line; ${VAR} is read when it starts)", env));
    const urlFields = h("div.mcp-add-http", { hidden: true }, h("label.field", null, "URL", url));
    kind.addEventListener("change", () => {
      commandFields.hidden = kind.value !== "stdio";
      urlFields.hidden = kind.value !== "http";
    });
    const error = h("p.form-error", { role: "alert" });
    const submit = h("button.primary", { type: "submit" }, "Add server");
    const form = h(
      "form.mcp-add-form",
      {
        "aria-label": "Add an MCP server",
        onsubmit: async (event) => {
          event.preventDefault();
          error.textContent = "";
          const server = { name: name.value.trim() };
          if (kind.value === "http") server.url = url.value.trim();
          else {
            const words = splitCommand(command.value);
            if (!words.length) {
              error.textContent = "Give the command that starts the server.";
              command.focus();
              return;
            }
            server.command = words[0];
            server.args = words.slice(1);
            server.env = parseEnv(env.value);
          }
          submit.disabled = true;
          try {
            const added = await this.api.addMcpServer(this.where.projectId, server, file.value === "local");
            form.reset();
            commandFields.hidden = false;
            urlFields.hidden = true;
            this.app.notify(`Added ${server.name} to ${added.file.split("/").slice(-2).join("/")}: it runs once you trust the project`);
            this.adder.open = false;
            await this.refresh();
            const trust = this.trust.querySelector("button");
            if (trust) trust.focus();
          } catch (err) {
            error.textContent = err.message;
          } finally {
            submit.disabled = false;
          }
        },
      },
      h("div.mcp-add-row", null, h("label.field", null, "Name", name), h("label.field", null, "Runs", kind)),
      commandFields,
      urlFields,
      h("label.field", null, "Write it to", file),
      h("p.hint", null, "What a project's own files ask to run starts only once you trust the project; this change too."),
      h("div.form-actions", null, submit),
      error,
    );
    return h("details.mcp-add", null, h("summary", null, "Add an MCP server"), form);
  }

  setContext() {
    const where = { ...this.panel.where };
    if (this.where && where.projectId === this.where.projectId && where.worktreeId === this.where.worktreeId) return;
    this.where = where;
    this.list.replaceChildren(h("li.wp-loading", null, "Loading…"));
    if (this.visible) this.refresh();
  }

  show() {
    this.visible = true;
    this.refresh();
  }

  hide() {
    this.visible = false;
    clearTimeout(this.timer);
  }

  destroy() {
    this.hide();
  }

  schedule(ms) {
    clearTimeout(this.timer);
    if (this.visible) this.timer = setTimeout(() => (document.hidden ? this.schedule(POLL_MS) : this.refresh()), ms);
  }

  async refresh() {
    if (!this.where) return;
    const token = ++this.token;
    let listed;
    try {
      listed = await this.api.listMcpServers(this.where);
    } catch (err) {
      if (token !== this.token) return;
      this.summary.textContent = "";
      this.list.replaceChildren(h("li.error", { role: "alert" }, `Could not list the MCP servers: ${err.message}`));
      this.schedule(POLL_MS * 2);
      return;
    }
    if (token !== this.token) return;
    const running = listed.servers || [];
    const servers = [...running, ...(listed.untrusted || [])];
    const healthy = running.filter((s) => s.status === "healthy").length;
    this.summary.textContent = running.length ? `${healthy} of ${running.length} healthy` : "";
    this.renderTrust(listed);
    this.errors.replaceChildren(...(listed.errors || []).map((e) => h("p.error", { role: "alert" }, e)));
    const files = listed.files || [];
    this.files.replaceChildren(files.length ? `Configured in ${files.join(", ")}.` : "");
    if (!servers.length) {
      this.list.replaceChildren(
        h("li.wp-empty", null, "No MCP servers are configured for this project. Add them to ", h("code", null, ".reliant/mcp.json"), " in the project (or ", h("code", null, "mcp.json"), " in reliant's data dir)."),
      );
    } else {
      this.renderList(servers);
    }
    this.schedule(servers.some((s) => s.status === "starting") ? FAST_POLL_MS : POLL_MS);
  }

  renderTrust(listed) {
    this.adder.hidden = Boolean(this.where.worktreeId); // servers are added to the project itself
    if (!listed.trustNote) {
      this.trust.replaceChildren();
      return;
    }
    const held = listed.trust === "untrusted" || listed.trust === "changed";
    // Trust belongs to the project; a worktree whose files differ is shown, not trusted from here.
    const review = this.where.worktreeId
      ? null
      : h(`button.${held ? "primary" : "small"}`, { type: "button", onclick: () => this.review() }, held ? "Review and trust" : "Review");
    if (!held) {
      this.trust.replaceChildren(h("p.mcp-trust-note", { role: "status" }, h("span", null, listed.trustNote), " ", review));
      return;
    }
    const title = listed.trust === "changed" ? "Changed since you trusted it: not running" : "Not running until you trust this project";
    this.trust.replaceChildren(
      h(
        "div.mcp-trust-step",
        { role: "status" },
        h("strong.mcp-trust-title", null, title),
        h("p.mcp-trust-note", null, listed.trustNote),
        h("p.hint", null, "The project's own MCP servers are programs on this machine: you see exactly what would run before it does."),
        review,
      ),
    );
  }

  async review() {
    try {
      await reviewTrust(this.app, projectCalls(this.app.api.client), this.where.projectId);
    } catch (err) {
      this.app.notify(`Could not review the project's trust: ${err.message}`, "error");
    }
    await this.refresh();
  }

  renderList(servers) {
    // Focus stays on the button the user was on (or pressed: it was disabled while working).
    const focused = document.activeElement && this.list.contains(document.activeElement) ? document.activeElement : null;
    const refocus = this.refocus || (focused ? { name: focused.closest("li.mcp")?.dataset.name, action: focused.dataset.action } : null);
    if (this.refocus && !this.busy.has(this.refocus.name)) this.refocus = null;
    this.list.replaceChildren(...servers.map((server) => this.card(server)));
    if (refocus && refocus.name) {
      const again = this.list.querySelector(`li.mcp[data-name="${CSS.escape(refocus.name)}"] [data-action="${refocus.action}"]`);
      if (again) again.focus();
    }
  }

  card(server) {
    const status = STATUS_TEXT[server.status] ? server.status : "starting";
    const busy = this.busy.has(server.name);
    const details = [];
    if (server.serverInfo) details.push(server.serverInfo);
    if (server.pid) details.push(`pid ${server.pid}`);
    if (server.restarts) details.push(`${server.restarts} restart${server.restarts === 1 ? "" : "s"}`);
    if (server.connectedUnix && status === "healthy") details.push(`up since ${ago(Number(server.connectedUnix))}`);
    const retry = Number(server.nextRetryUnix || 0);
    const tools = server.tools || [];
    const disabled = status === "disabled";
    const held = status === "untrusted";
    return h(
      "li.mcp",
      { dataset: { name: server.name, status } },
      h(
        "div.mcp-head",
        null,
        h("h3.mcp-name", null, server.name),
        h(`span.pill.mcp-status.mcp-status-${status}`, null, STATUS_TEXT[status]),
        held ? null : this.actions(server, busy, disabled),
      ),
      held
        ? h("pre.mcp-target-full", { "aria-label": `What ${server.name} would run` }, server.target)
        : h("div.mcp-target", null, h("span.mcp-transport", null, server.transport || "stdio"), " ", h("code", { title: server.target }, server.target)),
      details.length ? h("div.mcp-meta", null, details.join(" · ")) : null,
      server.error && status !== "healthy" ? h("pre.mcp-error", { role: "note" }, server.error) : null,
      retry && status === "unhealthy" ? h("div.mcp-meta", null, `Next automatic restart ${retryIn(retry)}`) : null,
      tools.length
        ? h(
            "details.mcp-tools",
            null,
            h("summary", null, `${tools.length} tool${tools.length === 1 ? "" : "s"}`),
            h("ul", null, ...tools.map((t) => h("li", null, h("code", null, t)))),
          )
        : null,
      server.source ? h("div.mcp-source", null, "from ", h("code", null, server.source)) : null,
    );
  }

  actions(server, busy, disabled) {
    return h(
      "span.mcp-actions",
      null,
      h("button.small", { type: "button", disabled: busy || disabled, dataset: { action: "restart" }, onclick: () => this.act(server, "restart") }, busy ? "Working…" : "Restart"),
      h(
        "button.small",
        { type: "button", disabled: busy, dataset: { action: "toggle" }, "aria-label": `${disabled ? "Enable" : "Disable"} ${server.name}`, onclick: () => this.act(server, disabled ? "enable" : "disable") },
        disabled ? "Enable" : "Disable",
      ),
    );
  }

  async act(server, action) {
    this.busy.add(server.name);
    this.refocus = { name: server.name, action: action === "restart" ? "restart" : "toggle" };
    this.refreshCards();
    try {
      if (action === "restart") await this.api.restartMcpServer(this.where, server.name);
      else await this.api.setMcpServerEnabled(this.where, server.name, action === "enable");
    } catch (err) {
      this.app.notify(`Could not ${action} ${server.name}: ${err.message}`, "error");
    } finally {
      this.busy.delete(server.name);
      await this.refresh();
    }
  }

  refreshCards() {
    for (const button of this.list.querySelectorAll("li.mcp button")) {
      if (this.busy.has(button.closest("li.mcp").dataset.name)) button.disabled = true;
    }
  }
}

const EXAMPLE = `{
  "mcpServers": {
    "files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]
    },
    "issues": {
      "command": "uvx",
      "args": ["my-issues-server"],
      "env": { "ISSUES_TOKEN": "\${ISSUES_TOKEN}" }
    },
    "docs": { "type": "http", "url": "https://example.com/mcp" }
  }
}`;

/** A command line as words, the way a shell reads quotes and backslashes (nothing else). */
export function splitCommand(text) {
  const words = [];
  let word = "";
  let quote = "";
  let has = false;
  const line = String(text || "");
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || word) words.push(word);
      word = "";
      has = false;
    } else word += c;
  }
  if (has || word) words.push(word);
  return words;
}

/** NAME=value lines as an object (blank lines and # comments skipped). */
export function parseEnv(text) {
  const env = {};
  for (const raw of String(text || "").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at > 0) env[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return env;
}

function retryIn(unix) {
  const seconds = Math.round(unix - Date.now() / 1000);
  return seconds <= 0 ? "any moment now" : `in ${seconds} s`;
}
