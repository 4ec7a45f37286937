// Settings: provider keys (write-only: shown masked once set), the default model (a model field:
// any provider:model, with suggestions), spending budgets (per chat, per project per day) and the
// per-model price overrides the budgets are counted with.

import { h } from "../dom.js";
import { ModelField } from "../model-field.js";

const PROVIDERS = [
  { name: "anthropic", label: "Anthropic", key: "anthropicApiKey", url: "anthropicBaseUrl" },
  { name: "openai", label: "OpenAI", key: "openaiApiKey", url: "openaiBaseUrl" },
];

const SOURCE = { api: "set here", environment: "from the environment", "": "" };
const BUDGETS = [
  { key: "budgetChatUsd", label: "Budget per chat (USD)", hint: "Covers every agent of a chat's tree. 0 or blank: none, over reliant.toml's too." },
  { key: "budgetProjectDayUsd", label: "Budget per project per day (USD)", hint: "Covers a project's chats of the day (UTC). 0 or blank: none, over reliant.toml's too." },
];
const PRICE_FIELDS = [
  ["input", "Input"],
  ["output", "Output"],
];

/** A dollar amount as typed: a number ≥ 0, or null (with the problem) when it is not one. */
export function dollars(text) {
  const t = String(text).trim();
  if (t === "") return { value: 0 };
  if (!/^[0-9]*\.?[0-9]+$|^[0-9]+\.$/.test(t)) return { problem: "must be a number of dollars, 0 or more" };
  return { value: Number(t) };
}

/** A price row as typed ({model, input, output} text): {price} with numbers, or {problem, field}.
 * A price left blank is a problem, not $0: the model would be counted free. */
export function priceOf(row) {
  const price = { model: row.model };
  for (const field of ["input", "output"]) {
    if (!String(row[field]).trim()) return { problem: `${row.model}: the ${field} price is missing (0 if the model is free)`, field };
    const read = dollars(row[field]);
    if (read.problem) return { problem: `${row.model}: ${read.problem}`, field };
    price[field] = read.value;
  }
  return { price };
}

/** Whether two price lists say the same (order aside). */
function samePrices(a, b) {
  const norm = (list) => JSON.stringify((list || []).map((p) => [p.model, Number(p.input || 0), Number(p.output || 0)]).sort());
  return norm(a) === norm(b);
}

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
    this.budgetInputs = {};
    const budgets = BUDGETS.map((spec) => {
      const input = h("input", { type: "text", inputmode: "decimal", name: spec.key, value: String(Number(settings[spec.key] || 0)), autocomplete: "off", "aria-describedby": `${spec.key}-hint` });
      this.budgetInputs[spec.key] = input;
      return h("label.field", null, spec.label, input, h("span.hint", { id: `${spec.key}-hint` }, spec.hint));
    });
    this.priceRows = h("tbody");
    for (const price of settings.modelPrices || []) this.addPrice(price);
    const prices = h(
      "div.prices",
      null,
      h("table.price-table", { "aria-label": "Price overrides" }, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Input $/Mtok"), h("th", { scope: "col" }, "Output $/Mtok"), h("th", null))), this.priceRows),
      h("button.secondary.small.add-price", { type: "button", onclick: () => this.addPrice(null, true) }, "Add a price"),
    );
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
      h(
        "fieldset.spending",
        null,
        h("legend", null, "Spending"),
        ...budgets,
        h("p.hint", null, settings.budgetSource === "config" ? "Budgets in force come from reliant.toml until set here." : "Before each model call reliant checks what was spent plus the call's estimate; a call that would cross a budget is not made, and the chat pauses until you raise the budget and resume."),
        h("h2.subhead", null, "Prices"),
        h("p.hint", null, "USD per million tokens; replaces the built-in price of that model (a model behind a custom OpenAI base URL costs nothing unless priced here)."),
        prices,
      ),
      h("p.hint", null, "Keys are stored by the reliant server and never sent back to the browser; only a masked form is shown."),
      h("div.form-actions", null, h("button.primary", { type: "submit" }, "Save")),
    );
  }

  addPrice(price, focus = false) {
    const model = h("input", { type: "text", name: "priceModel", value: (price && price.model) || "", placeholder: "provider:model", "aria-label": "Model", autocomplete: "off", spellcheck: "false" });
    const cells = PRICE_FIELDS.map(([key, label]) => h("input", { type: "text", inputmode: "decimal", name: `price-${key}`, value: price ? String(Number(price[key] || 0)) : "", "aria-label": `${label} USD per million tokens`, autocomplete: "off" }));
    const row = h("tr.price-row", null, h("td", null, model), ...cells.map((c) => h("td", null, c)));
    row.append(h("td", null, h("button.link.remove-price", { type: "button", "aria-label": "Remove this price", onclick: () => row.remove() }, "Remove")));
    row.read = () => ({ model: model.value.trim(), input: cells[0].value, output: cells[1].value });
    this.priceRows.append(row);
    if (focus) model.focus();
  }

  /** The budgets and prices as typed: {changes} or {problem} naming the field. */
  spending() {
    const out = {};
    for (const spec of BUDGETS) {
      const read = dollars(this.budgetInputs[spec.key].value);
      if (read.problem) return { problem: `${spec.label}: ${read.problem}`, input: this.budgetInputs[spec.key] };
      if (read.value !== Number(this.settings[spec.key] || 0)) out[spec.key] = read.value;
    }
    const prices = [];
    for (const row of this.priceRows.children) {
      const p = row.read();
      if (!p.model && !p.input.trim() && !p.output.trim()) continue;
      if (!p.model) return { problem: "Prices: a price needs its model (provider:model)", input: row.querySelector("input") };
      const read = priceOf(p);
      if (read.problem) return { problem: `Prices: ${read.problem}`, input: row.querySelector(`input[name=price-${read.field}]`) };
      const was = (this.settings.modelPrices || []).find((old) => old.model === p.model) || {};
      const cache = Object.fromEntries(["cacheRead", "cacheWrite"].filter((k) => was[k] !== undefined).map((k) => [k, was[k]]));
      prices.push({ ...read.price, ...cache }); // cache prices set elsewhere stay
    }
    if (!samePrices(prices, this.settings.modelPrices)) out.modelPrices = { prices };
    return { changes: out };
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
    const spending = this.spending();
    if (spending.problem) {
      this.message.textContent = `Not saved: ${spending.problem}`;
      if (spending.input) spending.input.focus();
      return;
    }
    const changes = { ...this.changes(), ...spending.changes };
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
