// auto / manual / plan as radio buttons (arrow keys move between them), with what each means: the
// chat's composer and the project page's first message both use it.

import { h } from "../dom.js";
import { MODES, MODE_HELP } from "../gates.js";

let switchCount = 0;

export class ModeSwitch {
  /** @param {(mode: string) => void} onChange  called when the user picks a mode */
  constructor(onChange, { value = "auto" } = {}) {
    const id = ++switchCount;
    this.hint = h("span.mode-hint", { id: `mode-hint-${id}` });
    this.inputs = new Map();
    const options = MODES.map(({ mode, label, help }) => {
      const input = h("input", { type: "radio", name: `mode-${id}`, value: mode, onchange: () => input.checked && onChange(mode) });
      this.inputs.set(mode, input);
      return h("label.mode-option", { title: help }, input, h("span", null, label));
    });
    this.el = h(
      "div.mode-switch",
      { role: "radiogroup", "aria-label": "Mode", "aria-describedby": this.hint.id },
      h("span.mode-label", { "aria-hidden": "true" }, "Mode"),
      h("span.mode-options", null, ...options),
      this.hint,
    );
    this.show(value);
  }

  get value() {
    for (const [mode, input] of this.inputs) if (input.checked) return mode;
    return "auto";
  }

  show(mode) {
    for (const [m, input] of this.inputs) input.checked = m === mode;
    this.hint.textContent = MODE_HELP[mode] || "";
    this.el.dataset.mode = mode;
  }
}
