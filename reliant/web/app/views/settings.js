// Settings: provider keys (write-only: shown masked once set) and the default model (a model field:
// any provider:model, with suggestions).

import { h } from "../dom.js";
import { ModelField } from "../model-field.js";

const PROVIDERS = [
  { name: "anthropic", label: "Anthropic", key: "anthropicApiKey", url: "anthropicBaseUrl" },
  { name: "openai", label: "OpenAI", key: "openaiApiKey", url: "openaiBaseUrl" },
];

const SOURCE = { api: "set here", environment: "from the environment", "": "" };

export class SettingsView {
  constructor(app) {
    this.app = app;
    this.inputs = {};
  }

  async mount(main) {
    this.app.setCrumbs([{ label: "Settings" }]);
    this.app.sidebar.hide();
    this.form = h("form.settings", { "aria-label": "Settings", onsubmit: (e) => this.save(e) });
    this.message = h("p.form-status", { role: "status", "aria-live": "polite" });
    main.replaceChildren(h("section.page.settings-page", null, h("h1", null, "Settings"), this.form, this.message));
    const settings = await this.app.api.getSettings();
    if (!this.app.current(this)) return;
    this.render(settings);
  }

  unmount() {}

  render(settings) {
    this.settings = settings;
    const byName = Object.fromEntries((settings.providers || []).map((p) => [p.name, p]));
    const groups = PROVIDERS.map((spec) => {
      const p = byName[spec.name] || {};
      const key = h("input", {
        type: "password",
        name: spec.key,
        autocomplete: "off",
        spellcheck: "false",
        placeholder: p.apiKeyMasked ? `${p.apiKeyMasked} (leave empty to keep)` : "not set",
        "aria-describedby": `${spec.name}-key-state`,
      });
      const url = h("input", { type: "url", name: spec.url, value: p.baseUrl || "", placeholder: "default", autocomplete: "off" });
      this.inputs[spec.key] = key;
      this.inputs[spec.url] = url;
      const state = p.configured ? `configured${SOURCE[p.source || ""] ? `, ${SOURCE[p.source || ""]}` : ""}` : "not configured";
      const clear = p.apiKeyMasked
        ? h("button.secondary.small", { type: "button", "aria-label": `Remove the ${spec.label} API key`, onclick: () => this.clearKey(spec) }, "Remove key")
        : null;
      return h(
        "fieldset.provider",
        { dataset: { provider: spec.name } },
        h("legend", null, spec.label),
        h("p.provider-state", { id: `${spec.name}-key-state` }, h("span", { class: `pill ${p.configured ? "pill-idle" : "pill-muted"}` }, state), p.apiKeyMasked ? h("code.masked", { "aria-label": "current key, masked" }, p.apiKeyMasked) : null, clear),
        h("label.field", null, "API key", key),
        h("label.field", null, "Base URL (optional)", url),
      );
    });
    this.defaultModel = new ModelField({ app: this.app, value: settings.defaultModel || "", label: "Default model for new chats", name: "defaultModel" });
    this.form.replaceChildren(
      ...groups,
      h(
        "fieldset",
        null,
        h("legend", null, "Models"),
        h("div.field", null, h("span", null, "Default model for new chats"), this.defaultModel.el),
        h("p.hint", null, "Any provider:model: the field suggests what each configured provider lists, and the models used lately."),
      ),
      h("p.hint", null, "Keys are stored by the reliant server and never sent back to the browser; only a masked form is shown."),
      h("div.form-actions", null, h("button.primary", { type: "submit" }, "Save")),
    );
  }

  changes() {
    const out = {};
    for (const spec of PROVIDERS) {
      const key = this.inputs[spec.key].value.trim();
      if (key) out[spec.key] = key;
      const url = this.inputs[spec.url].value.trim();
      const was = ((this.settings.providers || []).find((p) => p.name === spec.name) || {}).baseUrl || "";
      if (url !== was) out[spec.url] = url;
    }
    const model = this.defaultModel.value;
    if (model && model !== this.settings.defaultModel) out.defaultModel = model;
    return out;
  }

  async save(event) {
    event.preventDefault();
    const changes = this.changes();
    if (!Object.keys(changes).length) {
      this.message.textContent = "Nothing to save.";
      return;
    }
    await this.update(changes, "Saved.");
  }

  async clearKey(spec) {
    const ok = await this.app.confirm({ title: `Remove the ${spec.label} key?`, text: `Chats that use ${spec.label} models will pause until a key is set again.`, ok: "Remove key" });
    if (ok) await this.update({ [spec.key]: "" }, `Removed the ${spec.label} key.`);
  }

  async update(changes, done) {
    this.message.textContent = "Saving…";
    try {
      const settings = await this.app.api.updateSettings(changes);
      this.app.forgetModels();
      this.render(settings);
      this.message.textContent = done;
    } catch (err) {
      this.message.textContent = `Not saved: ${err.message}`;
    }
  }
}
