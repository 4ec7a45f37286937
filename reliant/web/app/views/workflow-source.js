// A workflow's definition, viewable: its inputs, its nodes as a tree and its source text,
// highlighted, in a dialog. Opened from the run panel (the definition the run pinned) and from the
// dialog that starts a chat on a workflow (the definition as the project would run it now).

import { h } from "../dom.js";
import { setCode } from "../markdown.js";

const KIND_ICONS = {
  call_llm: "✦",
  execute_tools: "⚙",
  agent: "◎",
  run: "$",
  approval: "?",
  loop: "↻",
  parallel: "⇉",
  workflow: "▣",
  worktree: "⎇",
  compact: "≡",
  save_message: "✎",
};

export function kindIcon(kind) {
  return h("span.wf-kind-icon", { "aria-hidden": "true", title: kind }, KIND_ICONS[kind] || "•");
}

/** The nodes of a definition as a nested list (no states): id, kind, what it does, where it goes. */
export function nodeTree(nodes) {
  return h(
    "ol.wf-tree",
    null,
    (nodes || []).map((node) =>
      h(
        "li.wf-tree-node",
        { dataset: { path: node.path, kind: node.kind } },
        h(
          "div.wf-tree-line",
          null,
          kindIcon(node.kind),
          h("code.wf-node-id", null, node.branch ? `${node.branch} · ${node.id}` : node.id),
          h("span.wf-node-kind", null, node.kind),
          node.entry ? h("span.wf-badge", { title: "its graph starts here" }, "entry") : null,
          node.preset ? h("span.wf-badge", null, `preset ${node.preset}`) : null,
        ),
        node.detail ? h("div.wf-node-detail", null, node.detail) : null,
        (node.next || []).length ? h("div.wf-node-next", null, "→ ", node.next.join(" | ")) : null,
        (node.children || []).length ? nodeTree(node.children) : null,
      ),
    ),
  );
}

function defaultText(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function inputsTable(inputs) {
  if (!(inputs || []).length) return h("p.hint", null, "No inputs.");
  return h(
    "table.wf-inputs",
    null,
    h("thead", null, h("tr", null, h("th", null, "Input"), h("th", null, "Type"), h("th", null, "Default"), h("th", null, "About"))),
    h(
      "tbody",
      null,
      inputs.map((i) =>
        h(
          "tr",
          null,
          h("td", null, h("code", null, i.name)),
          h("td", null, i.type === "enum" ? `enum: ${(i.values || []).join(" | ")}` : i.type),
          h("td", null, i.required ? h("em", null, "required") : h("code", null, defaultText(i.default))),
          h("td", null, i.description || ""),
        ),
      ),
    ),
  );
}

/**
 * Shows a definition: {name, source, origin?, description?, inputs?, nodes, text, problems?, note?}
 * (a Workflow of GetWorkflow, or a run's pinned definition). Resolves when the dialog closes.
 */
export function showDefinition(def) {
  const code = h("code.hljs.language-yaml");
  setCode(code, def.text || "", "yaml");
  const close = h("button.secondary", { type: "button", onclick: () => dialog.close() }, "Close");
  const problems = (def.problems || []).map((p) => h("li", null, `${p.line}:${p.column}: ${p.message}`));
  const dialog = h(
    "dialog.workflow-source",
    { "aria-labelledby": "workflow-source-title" },
    h(
      "header.wf-source-head",
      null,
      h("h2", { id: "workflow-source-title" }, "Workflow ", h("code", null, def.name)),
      h("span.wf-source-where", null, def.origin === "builtin" || (def.source || "").startsWith("builtin/") ? `built in (${def.source})` : def.source || ""),
      close,
    ),
    def.description ? h("p.wf-description", null, def.description) : null,
    def.note ? h("p.wf-note", { role: "note" }, def.note) : null,
    problems.length ? h("div.wf-problems", { role: "alert" }, h("strong", null, "It cannot run:"), h("ul", null, problems)) : null,
    def.inputs ? h("section.wf-section", null, h("h3", null, "Inputs"), inputsTable(def.inputs)) : null,
    h("section.wf-section", null, h("h3", null, "Nodes"), nodeTree(def.nodes)),
    h("section.wf-section", null, h("h3", null, "Source"), h("pre.code.wf-source-text", { tabindex: "0", "aria-label": "Source" }, code)),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        dialog.remove();
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    close.focus();
  });
}
