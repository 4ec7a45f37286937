// Starting a chat on a workflow: the workflows the project can run (the built-ins and its own, which
// one is used when a project file shadows a built-in, why the project's own are held back), and a
// form built from the chosen one's typed inputs — defaults filled in, descriptions beside them,
// each value checked by its type before anything is sent, and the api's answer about an input shown
// at that input.

import { h } from "../dom.js";
import { inputError, inputFields, readForm } from "./workflow-model.js";
import { showDefinition } from "./workflow-source.js";

function control(field, id, models) {
  const common = { id, name: field.name, "aria-describedby": `${id}-about ${id}-error` };
  if (field.type === "boolean") return h("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
  if (field.type === "enum") {
    const options = field.values.map((v) => h("option", { value: v, selected: v === field.value }, v));
    if (!field.value) options.unshift(h("option", { value: "", selected: true }, "— choose —"));
    return h("select", common, ...options);
  }
  if (field.type === "integer" || field.type === "number") {
    return h("input", { ...common, type: "text", inputmode: field.type === "integer" ? "numeric" : "decimal", value: field.value === "" ? "" : String(field.value), autocomplete: "off" });
  }
  if (field.type === "model") {
    const list = `${id}-models`;
    return h("span.wf-model-field", null, h("input", { ...common, type: "text", list, value: String(field.value || ""), autocomplete: "off", spellcheck: "false", placeholder: "provider:model" }), h("datalist", { id: list }, (models || []).map((m) => h("option", { value: m }))));
  }
  return h("textarea", { ...common, rows: field.name === "task" ? "3" : "1", spellcheck: "true" }, String(field.value || ""));
}

function valueOf(el) {
  if (el.type === "checkbox") return el.checked;
  return el.value;
}

export class WorkflowStart {
  /** `project`: {id, name, path}. */
  constructor(app, project) {
    this.app = app;
    this.project = project;
    this.fields = [];
    this.controls = new Map();
    this.errors = new Map();
  }

  /** Opens the dialog; resolves with the new chat (the caller navigates) or null. */
  async open() {
    this.list = h("div.wf-choices", { role: "radiogroup", "aria-label": "Workflow" }, h("p.loading", null, "Loading the workflows…"));
    this.note = h("p.wf-note", { role: "note", hidden: true });
    this.form = h("div.wf-form");
    this.error = h("p.form-error", { role: "alert" });
    this.submit = h("button.primary.wf-start", { type: "submit", disabled: true }, "Start chat");
    const cancel = h("button.secondary", { type: "button", onclick: () => this.dialog.close() }, "Cancel");
    this.dialog = h(
      "dialog.workflow-start",
      { "aria-labelledby": "workflow-start-title" },
      h(
        "form",
        { method: "dialog", onsubmit: (e) => this.start(e) },
        h("h2", { id: "workflow-start-title" }, "New chat on a workflow"),
        h("p.hint", null, "Every message of the chat runs the workflow, with these inputs."),
        this.note,
        this.list,
        this.form,
        this.error,
        h("div.form-actions", null, cancel, this.submit),
      ),
    );
    document.body.append(this.dialog);
    const closed = new Promise((resolve) => {
      this.dialog.addEventListener("close", () => {
        this.dialog.remove();
        resolve(this.created || null);
      }, { once: true });
    });
    this.dialog.showModal();
    this.load();
    return closed;
  }

  async load() {
    let listed;
    try {
      [listed, this.models] = await Promise.all([this.app.api.listWorkflows(this.project.id), this.app.api.listModels().catch(() => null)]);
    } catch (err) {
      this.list.replaceChildren(h("p.error", { role: "alert" }, `Could not list the workflows: ${err.message}`));
      return;
    }
    this.note.hidden = !listed.note;
    this.note.textContent = listed.note || "";
    const workflows = listed.workflows || [];
    const radios = workflows.map((w) => {
      const usable = w.used && !w.problems;
      const input = h("input", { type: "radio", name: "workflow", value: w.name, disabled: !usable, onchange: () => this.pick(w) });
      const badges = [
        h(`span.wf-badge.wf-origin-${w.origin}`, null, w.origin === "builtin" ? "built in" : "project"),
        w.shadows ? h("span.wf-badge", { title: `${w.source} has the name of a built-in: it is used instead` }, "shadows the built-in") : null,
        !w.used ? h("span.wf-badge.wf-shadowed", { title: "the project's file of this name is used instead" }, "shadowed") : null,
      ];
      const problem = w.problems ? h("span.wf-problem", null, `cannot run: ${w.error}`) : null;
      return h(
        "label.wf-choice",
        { dataset: { workflow: w.name, origin: w.origin, used: String(Boolean(w.used)) } },
        input,
        h("span.wf-choice-text", null, h("span.wf-choice-name", null, h("code", null, w.name), ...badges.filter(Boolean)), w.description ? h("span.wf-choice-about", null, w.description) : null, problem),
      );
    });
    this.list.replaceChildren(...radios);
    const first = this.list.querySelector('input[value="agent"]:not(:disabled)') || this.list.querySelector("input:not(:disabled)");
    if (first) {
      first.checked = true;
      first.dispatchEvent(new Event("change"));
      first.focus();
    }
  }

  pick(workflow) {
    this.chosen = workflow;
    this.fields = inputFields(workflow.inputs);
    this.controls.clear();
    this.errors.clear();
    const rows = this.fields.map((field) => {
      const id = `wf-input-${field.name}`;
      const el = control(field, id, this.models && this.models.models);
      const input = el.matches("span") ? el.querySelector("input") : el;
      this.controls.set(field.name, input);
      const error = h("span.wf-field-error", { id: `${id}-error`, role: "alert" });
      this.errors.set(field.name, error);
      const label = h("label", { for: id }, h("code", null, field.name), field.required ? h("span.wf-required", { title: "required" }, " *") : null, h("span.wf-type", null, ` ${field.type === "enum" ? field.values.join(" | ") : field.type}`));
      return h("div.wf-field", { dataset: { input: field.name } }, label, el, h("span.wf-field-about", { id: `${id}-about` }, field.description), error);
    });
    const view = h("button.link.wf-view-definition", { type: "button", onclick: () => this.view() }, "View the definition");
    this.form.replaceChildren(h("div.wf-form-head", null, h("strong", null, this.fields.length ? "Inputs" : "No inputs"), view), ...rows);
    this.submit.disabled = false;
    this.error.textContent = "";
  }

  async view() {
    try {
      await showDefinition(await this.app.api.getWorkflow(this.chosen.name, this.project.id));
    } catch (err) {
      this.error.textContent = `Could not show the definition: ${err.message}`;
    }
  }

  async start(event) {
    event.preventDefault();
    if (!this.chosen) return;
    const raws = {};
    for (const [name, el] of this.controls) raws[name] = valueOf(el);
    const { inputs, errors } = readForm(this.fields, raws);
    for (const [name, el] of this.errors) el.textContent = errors[name] || "";
    for (const [name, el] of this.controls) el.setAttribute("aria-invalid", errors[name] ? "true" : "false");
    const bad = Object.keys(errors)[0];
    if (bad) {
      this.controls.get(bad).focus();
      return;
    }
    this.submit.disabled = true;
    this.error.textContent = "";
    try {
      const models = this.models || (await this.app.api.listModels().catch(() => null));
      this.created = await this.app.api.createChat(this.project.id, (models && models.defaultModel) || "", "", this.chosen.name, inputs);
      this.dialog.close();
    } catch (err) {
      const about = inputError(err.message);
      if (about && this.errors.has(about.field)) {
        this.errors.get(about.field).textContent = about.message;
        this.controls.get(about.field).setAttribute("aria-invalid", "true");
        this.controls.get(about.field).focus();
      } else {
        this.error.textContent = `Could not start the chat: ${err.message}`;
      }
    } finally {
      this.submit.disabled = false;
    }
  }
}

/** Opens the dialog for `project` and goes to the chat it starts. */
export async function startWorkflowChat(app, project) {
  const chat = await new WorkflowStart(app, project).open();
  if (chat) await app.navigate(`/chats/${chat.id}`);
}
