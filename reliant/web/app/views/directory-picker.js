// Choosing a project's directory among the daemon's (DirectoryService.ListDirectories): a modal
// that walks the daemon's directories, one level at a time. The daemon decides what may be listed
// and what could be a project (system directories and reliant's data dir never are).

import { h } from "../dom.js";
import { icon } from "../icons.js";

/** Resolves the chosen directory's path, or null when the dialog is closed without one. */
export function pickDirectory(app, { daemonId = "", start = "" } = {}) {
  const pathEl = h("code.dir-path");
  const up = h("button.small.dir-up", { type: "button", "aria-label": "Up one directory", title: "Up" }, icon("up", 14), " Up");
  const hidden = h("input", { type: "checkbox" });
  const list = h("ul.dir-list", { "aria-label": "Directories" });
  const note = h("p.dir-note", { role: "status" });
  const choose = h("button.primary", { type: "submit", value: "ok" }, "Choose this directory");
  const dialog = h(
    "dialog.dir-picker",
    { "aria-label": "Choose a directory" },
    h(
      "form",
      { method: "dialog" },
      h("h2", null, "Choose a directory"),
      h("div.dir-where", null, up, pathEl),
      list,
      h("label.dir-hidden", null, hidden, " Show hidden directories"),
      note,
      h("div.confirm-actions", null, h("button.secondary", { type: "submit", value: "cancel", formnovalidate: true }, "Cancel"), choose),
    ),
  );
  document.body.append(dialog);
  let current = null;
  let token = 0;

  async function show(path) {
    const mine = ++token;
    list.setAttribute("aria-busy", "true");
    choose.disabled = true; // what is chosen is what is shown: not while the next listing loads
    let listed;
    try {
      listed = await app.api.listDirectories(path, { daemonId, showHidden: hidden.checked });
    } catch (err) {
      if (mine !== token) return;
      list.removeAttribute("aria-busy");
      note.textContent = err.message;
      note.classList.add("error");
      choose.disabled = !(current && current.usable);
      return;
    }
    if (mine !== token) return;
    list.removeAttribute("aria-busy");
    current = listed;
    pathEl.textContent = listed.path;
    up.disabled = !listed.parent;
    note.classList.toggle("error", !listed.usable);
    note.textContent = listed.usable ? (listed.truncated ? "Only the first 500 directories are shown." : "") : `Not a possible project: ${listed.reason}`;
    choose.disabled = !listed.usable;
    const entries = listed.entries || [];
    list.replaceChildren(
      ...entries.map((e) =>
        h(
          "li",
          null,
          h(
            "button.dir-entry",
            { type: "button", title: e.usable ? e.path : `${e.path}: ${e.reason}`, dataset: { path: e.path }, onclick: () => show(e.path), class: e.usable ? "" : "dir-unusable" },
            icon("folder", 16),
            h("span.dir-name", null, e.name),
            e.git ? h("span.pill.dir-git", { title: "a git repository" }, "git") : null,
          ),
        ),
      ),
    );
    if (!entries.length) list.append(h("li.hint", null, "No directories here."));
    const first = list.querySelector("button");
    if (first && dialog.contains(document.activeElement) === false) first.focus();
  }

  up.addEventListener("click", () => current && current.parent && show(current.parent));
  hidden.addEventListener("change", () => current && show(current.path));
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const chosen = dialog.returnValue === "ok" && current && current.usable ? current.path : null;
        dialog.remove();
        resolve(chosen);
      },
      { once: true },
    );
    dialog.showModal();
    show(start);
  });
}
