// Modal questions of the workspace panel: a line of text (a new file's name, a rename) and a set of
// checkboxes (how to remove a worktree). Confirmations use the app's own dialog (app.confirm).

import { h } from "../dom.js";

let dialog = null;

function theDialog() {
  if (!dialog) {
    dialog = h("dialog.wp-dialog", { "aria-labelledby": "wp-dialog-title" });
    document.body.append(dialog);
  }
  return dialog;
}

function run(build) {
  const d = theDialog();
  return new Promise((resolve) => {
    const { form, focus } = build((value) => {
      resolve(value); // before close(): its event resolves null, which then changes nothing
      d.close();
    });
    d.replaceChildren(form);
    d.addEventListener(
      "close",
      () => {
        resolve(null); // Escape, or Cancel: a second resolve is ignored
      },
      { once: true },
    );
    d.returnValue = "";
    d.showModal();
    (focus || form.querySelector("input, button")).focus();
  });
}

/** Asks for one line of text; resolves it (trimmed), or null when cancelled. */
export function askText({ title, label, value = "", ok = "OK", hint = "", select = null }) {
  return run((done) => {
    const input = h("input", { type: "text", value, autocomplete: "off", spellcheck: "false", required: true });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: (e) => {
          e.preventDefault();
          const text = input.value.trim();
          if (text) done(text);
        },
      },
      h("h2", { id: "wp-dialog-title" }, title),
      h("label", null, label, input),
      hint ? h("p.hint", null, hint) : null,
      h(
        "div.confirm-actions",
        null,
        h("button.secondary", { type: "button", onclick: () => done(null) }, "Cancel"),
        h("button.primary", { type: "submit" }, ok),
      ),
    );
    requestAnimationFrame(() => {
      if (select) input.setSelectionRange(select[0], select[1]);
      else input.select();
    });
    return { form, focus: input };
  });
}

/** Asks a yes/no question with options (checkboxes); resolves {key: bool} or null when cancelled. */
export function askOptions({ title, text, options = [], ok = "OK", danger = false }) {
  return run((done) => {
    const boxes = options.map((o) => ({ key: o.key, input: h("input", { type: "checkbox", checked: Boolean(o.checked) }), label: o.label }));
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: (e) => {
          e.preventDefault();
          done(Object.fromEntries(boxes.map((b) => [b.key, b.input.checked])));
        },
      },
      h("h2", { id: "wp-dialog-title" }, title),
      text ? h("p", null, text) : null,
      ...boxes.map((b) => h("label.wp-check", null, b.input, ` ${b.label}`)),
      h(
        "div.confirm-actions",
        null,
        h("button.secondary", { type: "button", onclick: () => done(null) }, "Cancel"),
        h(danger ? "button.danger" : "button.primary", { type: "submit" }, ok),
      ),
    );
    return { form, focus: form.querySelector("button.secondary") };
  });
}
