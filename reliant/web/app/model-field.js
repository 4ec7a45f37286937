// A model field: type any `provider:model`, or pick one of the suggestions — recently used models,
// then what each configured provider lists (SettingsService.ListModelChoices). An ARIA combobox:
// arrows move through the suggestions, Enter or a click takes one, Escape closes the list; the
// typed text filters them (every word must appear). `onChange(model)` when a new value is taken.

import { h } from "./dom.js";

const SOURCE_GROUP = { recent: "Recently used", default: "" };
const PROVIDER_LABEL = { anthropic: "Anthropic", openai: "OpenAI", scripted: "Offline" };
const SPEC = /^(scripted|anthropic|openai):\S/;
let fieldCount = 0;

/** The suggestions that match `typed` (every word in the model or its label), in order. */
export function matchChoices(choices, typed) {
  const words = String(typed || "").toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return choices;
  return choices.filter((c) => {
    const text = `${c.model} ${c.label || ""}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Why `value` is not a model a chat can take ("" when it is). */
export function modelProblem(value) {
  const v = String(value || "").trim();
  if (!v) return "Choose a model.";
  if (!SPEC.test(v)) return "A model is provider:model, e.g. anthropic:claude-sonnet-4-6, openai:gpt-5.4 or scripted:demo.";
  return "";
}

/** Whether the api refused a model because its provider has no key: Settings is then the way on. */
export function refusedForKey(message) {
  return /cannot be called: \w+: no API key configured/.test(String(message || ""));
}

/** Show `text` (a refusal) in `el`, with a link to Settings when it is about a missing key. */
export function showRefusal(el, text) {
  const settings = refusedForKey(text) ? [" ", h("a.to-settings", { href: "/settings", "data-link": "" }, "Set the key in Settings")] : [];
  el.replaceChildren(text, ...settings);
}

function groupOf(choice) {
  if (choice.source === "recent") return SOURCE_GROUP.recent;
  const provider = choice.model.split(":", 1)[0];
  return PROVIDER_LABEL[provider] || provider;
}

export class ModelField {
  /**
   * @param {{app: object, value?: string, label?: string, onChange?: Function, name?: string}} options
   *   app: the App (its getModelChoices() is shared by every field).
   */
  constructor({ app, value = "", label = "Model", onChange = null, name = "model" }) {
    this.app = app;
    this.onChange = onChange;
    this.committed = value;
    this.choices = [];
    this.shown = [];
    this.active = -1;
    this.notes = [];
    const id = `model-field-${++fieldCount}`;
    this.input = h("input.model-input", {
      type: "text",
      name,
      value,
      role: "combobox",
      "aria-label": label,
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": `${id}-list`,
      autocomplete: "off",
      spellcheck: "false",
      autocapitalize: "off",
      placeholder: "provider:model",
      title: "Type any provider:model, or pick one",
      oninput: () => this.filter(true),
      onfocus: () => this.ensureChoices(),
      onkeydown: (e) => this.onKey(e),
      onblur: () => setTimeout(() => this.blurred(), 120),
    });
    this.list = h("ul.model-list", { id: `${id}-list`, role: "listbox", "aria-label": `${label} suggestions`, hidden: true });
    this.list.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the input
    this.toggle = h("button.model-toggle", { type: "button", tabindex: "-1", "aria-label": "Show the models", title: "Show the models", onclick: () => this.toggleList() }, "▾");
    this.el = h("span.model-field", null, this.input, this.toggle, this.list);
  }

  get value() {
    return this.input.value.trim();
  }

  set value(model) {
    this.input.value = model || "";
    this.committed = this.input.value;
  }

  async ensureChoices() {
    if (this.loading) return this.loading;
    this.pending = true;
    this.loading = this.app
      .getModelChoices()
      .then((answer) => {
        this.pending = false;
        this.choices = answer.choices || [];
        this.notes = (answer.providers || []).filter((p) => p.configured && p.error).map((p) => `${PROVIDER_LABEL[p.provider] || p.provider}: ${p.error}`);
        if (!this.list.hidden) this.filter(false);
      })
      .catch(() => {
        this.pending = false;
        this.loading = null; // asked again next time; typing any model still works
        if (!this.list.hidden) this.filter(false);
      });
    return this.loading;
  }

  toggleList() {
    if (this.list.hidden) {
      this.input.focus();
      this.ensureChoices().then(() => this.open(""));
    } else this.close();
  }

  /** Shows the suggestions matching what is typed (all of them when `typed` is ""). */
  open(typed) {
    this.shown = matchChoices(this.choices, typed);
    this.active = -1;
    this.render();
  }

  filter(typing) {
    if (typing) this.ensureChoices();
    const typed = this.input.value.trim();
    // Right after focusing, the current value is not a filter: every suggestion is offered.
    this.open(typed === this.committed ? "" : typed);
  }

  render() {
    const items = [];
    let group = null;
    this.shown.forEach((choice, i) => {
      const g = groupOf(choice);
      if (g !== group) {
        group = g;
        if (g) items.push(h("li.model-group", { role: "presentation" }, g));
      }
      items.push(
        h(
          "li.model-option",
          {
            role: "option",
            id: `${this.list.id}-${i}`,
            "aria-selected": String(i === this.active),
            dataset: { model: choice.model, source: choice.source },
            onclick: () => this.take(choice.model),
          },
          h("span.model-id", null, choice.model),
          choice.label && choice.label !== choice.model.split(":")[1] ? h("span.model-label", null, choice.label) : null,
        ),
      );
    });
    // A list with nothing to choose still says why, as an option that cannot be chosen (a listbox
    // holds options, so a screen reader reads it as part of the list).
    const empty = { role: "option", "aria-disabled": "true", "aria-selected": "false" };
    if (!this.shown.length && this.pending) {
      items.push(h("li.model-empty", empty, "Asking the providers for their models…"));
    } else if (!this.shown.length) {
      const typed = this.value;
      items.push(h("li.model-empty", empty, typed && !modelProblem(typed) ? `Use ${typed} (Enter)` : modelProblem(typed) || "No suggestions"));
    }
    for (const note of this.notes) items.push(h("li.model-note", { role: "presentation" }, note));
    this.list.replaceChildren(...items);
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  move(step) {
    if (this.list.hidden) this.filter(false);
    if (!this.shown.length) return;
    this.active = (this.active + step + this.shown.length) % this.shown.length;
    this.render();
    const el = this.list.querySelector(`#${CSS.escape(`${this.list.id}-${this.active}`)}`);
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  onKey(event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.move(1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.move(-1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (!this.list.hidden && this.active >= 0) this.take(this.shown[this.active].model);
      else this.take(this.value);
    } else if (event.key === "Escape" && !this.list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    }
  }

  blurred() {
    if (document.activeElement === this.input) return;
    this.close();
    if (this.value !== this.committed) this.take(this.value, { focus: false });
  }

  /** Takes `model` as the field's value (when it is one); tells onChange if it changed. */
  take(model, { focus = true } = {}) {
    const value = String(model || "").trim();
    this.input.value = value;
    this.close();
    if (modelProblem(value)) {
      this.input.setCustomValidity(modelProblem(value));
      this.input.reportValidity();
      return;
    }
    this.input.setCustomValidity("");
    if (focus) this.input.focus();
    if (value === this.committed) return;
    this.committed = value;
    if (this.onChange) this.onChange(value);
  }
}
