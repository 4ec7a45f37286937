// A project's trust step and its removal. A project's own files (.reliant/mcp.json and
// mcp.local.json, .reliant/workflows/, .reliant/presets/) can make reliant run commands: none of it
// runs until the user has seen exactly what (every command line, env name, working directory, URL,
// workflow run step, the project's scripts they run, with invisible characters named) and trusted
// it. The trust is bound to those files and scripts: a change needs a new one. The daemon keeps and
// enforces it.

import { h } from "../dom.js";
import { revealed } from "../format.js";

const PROJECTS = "reliant.v1.ProjectService";

/** The ProjectService calls of this page, over the app's ConnectRPC client. */
export function projectCalls(client) {
  return {
    getTrust: (projectId) => client.unary(PROJECTS, "GetProjectTrust", { projectId }),
    trust: (projectId, fingerprint) => client.unary(PROJECTS, "TrustProject", { projectId, fingerprint }),
    untrust: (projectId) => client.unary(PROJECTS, "UntrustProject", { projectId }),
    remove: (id) => client.unary(PROJECTS, "DeleteProject", { id }),
  };
}

export function needsTrust(trust) {
  return Boolean(trust) && (trust.state === "untrusted" || trust.state === "changed");
}

function field(label, value) {
  return value ? h("div.trust-field", null, h("span.trust-label", null, label), " ", value) : null;
}

function workflowItem(entry) {
  const steps = entry.steps || [];
  let note = "It has no run step: it runs no shell command of its own.";
  if (entry.error) note = null;
  else if (steps.length) note = "Its run steps are shell commands on this machine:";
  return h(
    "li.trust-item",
    { dataset: { kind: "workflow", name: entry.name } },
    h("div.trust-item-head", null, "Workflow ", h("code", null, entry.name)),
    note ? h("div.trust-note", null, note) : null,
    ...steps.map((s) => h("div.trust-step-command", null, h("span.trust-label", null, s.step), h("pre.trust-command", { "aria-label": `Command of step ${s.step} of ${entry.name}` }, revealed(s.command)))),
    entry.error ? h("div.trust-note.error", null, `Not usable: ${entry.error}`) : null,
  );
}

function item(entry) {
  if (entry.kind === "workflow") return workflowItem(entry);
  if (entry.kind === "script") {
    return h("li.trust-item", { dataset: { kind: "script", name: entry.name } }, h("div.trust-item-head", null, "Script ", h("code", null, revealed(entry.name))), h("div.trust-note", null, "The project's own file that a command above runs, trusted as it is now: a change to it needs your trust again."));
  }
  if (entry.kind === "preset") {
    return h("li.trust-item", { dataset: { kind: "preset", name: entry.name } }, h("div.trust-item-head", null, "Preset ", h("code", null, entry.name)), h("div.trust-note", null, "The model and instructions of the agents that use it."));
  }
  const flags = [entry.disabled ? "disabled" : "", entry.error ? "not usable" : ""].filter(Boolean);
  return h(
    "li.trust-item",
    { dataset: { kind: "mcp_server", name: entry.name } },
    h("div.trust-item-head", null, "MCP server ", h("code", null, entry.name), ` (${entry.transport || "stdio"})`, ...flags.map((f) => h("span.pill.pill-muted", null, f))),
    entry.commandLine ? h("pre.trust-command", { "aria-label": `Command of ${entry.name}` }, revealed(entry.commandLine)) : null,
    entry.url && !entry.commandLine ? h("pre.trust-command", { "aria-label": `URL of ${entry.name}` }, revealed(entry.url)) : null,
    field("In", entry.cwd ? h("code", null, revealed(entry.cwd)) : ""),
    field("Environment", revealed((entry.envNames || []).join(", "))),
    field("Headers", revealed((entry.headerNames || []).join(", "))),
    entry.error ? h("div.trust-note.error", null, entry.error) : null,
    field("From", entry.source ? h("code", null, entry.source) : ""),
  );
}

/** What the project's files would run, with Trust and Not now. `onDone(trust|null)` after either. */
export function trustStep(calls, projectId, trust, onDone) {
  const error = h("p.form-error", { role: "alert" });
  const trustButton = h("button.primary", { type: "button" }, "Trust and run these");
  const later = h("button.secondary", { type: "button", onclick: () => onDone(null) }, "Not now");
  trustButton.addEventListener("click", async () => {
    trustButton.disabled = true;
    error.textContent = "";
    try {
      onDone(await calls.trust(projectId, trust.fingerprint));
    } catch (err) {
      error.textContent = `${err.message}`;
      trustButton.disabled = false;
    }
  });
  const changed = trust.state === "changed";
  return h(
    "section.trust-step",
    { "aria-label": "Trust this project", dataset: { state: trust.state } },
    h("h2", null, changed ? "This project changed since you trusted it" : "Trust this project?"),
    h(
      "p",
      null,
      changed ? "Its files now ask reliant to run what is shown below; nothing of it runs until you trust it again." : "Its own files ask reliant to run what is shown below. Nothing of it runs until you trust the project; until then it works without them.",
      " Trusting it lets exactly this run; any later change to these files needs your trust again.",
    ),
    h("ul.trust-items", { "aria-label": "What would run" }, ...(trust.items || []).map(item)),
    (trust.problems || []).length ? h("ul.trust-problems", null, ...trust.problems.map((p) => h("li.error", null, p))) : null,
    h("div.form-actions", null, trustButton, later),
    error,
  );
}

/** The trust step in a modal dialog (the MCP tab's "Review and trust"); resolves the new trust or null. */
export async function reviewTrust(app, calls, projectId) {
  const trust = await calls.getTrust(projectId);
  if (!needsTrust(trust)) return trust;
  const dialog = h("dialog.trust-dialog", { "aria-label": "Trust this project" });
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result = null;
    dialog.append(
      trustStep(calls, projectId, trust, (trusted) => {
        result = trusted;
        dialog.close();
      }),
    );
    dialog.addEventListener(
      "close",
      () => {
        dialog.remove();
        if (result) app.notify("Trusted: its MCP servers start");
        resolve(result);
      },
      { once: true },
    );
    dialog.showModal();
    dialog.querySelector("button.secondary").focus();
  });
}

/** The project page's trust area: the trust step while untrusted, a one-line state otherwise. */
export class TrustPanel {
  constructor(app, project) {
    this.app = app;
    this.project = project;
    this.calls = projectCalls(app.api.client);
    this.el = h("div.trust-area");
  }

  async load() {
    let trust;
    try {
      trust = await this.calls.getTrust(this.project.id);
    } catch (err) {
      this.el.replaceChildren(h("p.trust-line.error", { role: "alert" }, `Could not ask the daemon whether this project is trusted: ${err.message}`));
      return;
    }
    this.render(trust, needsTrust(trust));
  }

  render(trust, open) {
    if (needsTrust(trust) && open) {
      this.el.replaceChildren(
        trustStep(this.calls, this.project.id, trust, (trusted) => {
          if (trusted) this.app.notify(`Trusted ${this.project.name}: its MCP servers start`);
          this.render(trusted || trust, false);
        }),
      );
      this.el.querySelector(".trust-step button.secondary").focus();
      return;
    }
    if (needsTrust(trust)) {
      this.el.replaceChildren(h("p.trust-line.trust-line-held", { role: "status" }, h("span", null, trust.note), " ", h("button.small", { type: "button", onclick: () => this.render(trust, true) }, "Review and trust")));
      return;
    }
    if (trust.state === "trusted") {
      const stop = h("button.small", { type: "button" }, "Stop trusting");
      stop.addEventListener("click", async () => {
        stop.disabled = true;
        try {
          this.render(await this.calls.untrust(this.project.id), false);
        } catch (err) {
          this.app.notify(`Could not stop trusting it: ${err.message}`, "error");
          stop.disabled = false;
        }
      });
      this.el.replaceChildren(h("p.trust-line", { role: "status" }, h("span", null, "Trusted: its own MCP servers and workflows may run."), " ", stop));
      return;
    }
    this.el.replaceChildren();
  }
}

/** Remove a project after confirmation (chats go, files stay); resolves true when removed. */
export async function removeProject(app, project) {
  const ok = await app.confirm({
    title: "Remove project?",
    text: `“${project.name}” and all its chats will be removed from reliant. The directory ${project.path} and its files stay on disk. A project with a chat running a turn cannot be removed: stop the chat first.`,
    ok: "Remove project",
  });
  if (!ok) return false;
  try {
    await projectCalls(app.api.client).remove(project.id);
  } catch (err) {
    app.notify(`Could not remove the project: ${err.message}`, "error");
    return false;
  }
  app.notify(`Removed ${project.name}; its files are untouched`);
  return true;
}
