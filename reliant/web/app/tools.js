// Tool call cards: name, a one-line summary of the input, status, duration, and the output on
// demand. Shell output reads as a terminal, edits as a diff. Renderers are looked up by tool name,
// so other tools (MCP servers, terminals, approvals) can add their own with registerToolView.

import { h } from "./dom.js";
import { duration } from "./format.js";
import { ansiToFragment } from "./ansi.js";
import { setCode } from "./markdown.js";

const MAX_SHOWN_CHARS = 200_000;

const STATUS_LABEL = {
  pending: "pending",
  running: "running",
  ok: "ok",
  error: "error",
  interrupted: "interrupted",
  denied: "denied",
};

const views = new Map();

/** view = {summary?(input) -> string, body?(tool) -> Node, open?(tool) -> boolean} */
export function registerToolView(name, view) {
  views.set(name, view);
}

function clip(text, max = 120) {
  const line = String(text).replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function toolSummary(name, input) {
  const view = views.get(name);
  if (view && view.summary) return clip(view.summary(input || {}));
  const value = input || {};
  for (const key of ["command", "path", "pattern", "url", "query", "name"]) {
    if (typeof value[key] === "string" && value[key]) return clip(value[key]);
  }
  const json = JSON.stringify(value);
  return json === "{}" ? "" : clip(json);
}

function shown(text) {
  if (text.length <= MAX_SHOWN_CHARS) return text;
  return `${text.slice(0, MAX_SHOWN_CHARS)}\n… ${text.length - MAX_SHOWN_CHARS} more characters`;
}

/** What the tool printed: the live tool_finished output, else the result the model was given. */
function outputOf(tool) {
  if (tool.output !== null && tool.output !== undefined) return tool.output;
  return tool.resultText || "";
}

function errorText(tool) {
  return tool.error || (tool.status !== "ok" && tool.resultIsError ? tool.resultText || "" : "");
}

function errorBox(tool) {
  const text = errorText(tool);
  return text ? h("div.tool-error", { role: "note" }, text) : null;
}

function plainBody(tool) {
  const err = errorText(tool);
  const out = outputOf(tool);
  const note = !err && !out ? h("div.tool-foot", null, tool.status === "running" ? "running…" : "no output") : null;
  return h("div.tool-output", null, errorBox(tool), out && out !== err ? h("pre.output", null, shown(out)) : null, note);
}

export function diffView(diff) {
  const pre = h("pre.diff", { "aria-label": "diff" });
  for (const line of diff.replace(/\n$/, "").split("\n")) {
    let cls = "ctx";
    if (line.startsWith("+++") || line.startsWith("---")) cls = "file";
    else if (line.startsWith("@@")) cls = "hunk";
    else if (line.startsWith("+")) cls = "add";
    else if (line.startsWith("-")) cls = "del";
    pre.append(h(`span.diff-${cls}`, null, line || " "));
  }
  return pre;
}

export function proposedDiff(input) {
  const minus = String(input.old_string || "").replace(/\n$/, "").split("\n").map((l) => `-${l}`);
  const plus = String(input.new_string || "").replace(/\n$/, "").split("\n").map((l) => `+${l}`);
  return [`--- a/${input.path || ""}`, `+++ b/${input.path || ""}`, ...minus, ...plus].join("\n");
}

registerToolView("shell", {
  summary: (input) => input.command || "",
  body(tool) {
    const term = h("pre.terminal", { "aria-label": "terminal output" });
    term.append(h("span.prompt", null, "$ "), h("span.command", null, `${(tool.input && tool.input.command) || ""}\n`));
    const out = outputOf(tool);
    if (out) term.append(ansiToFragment(shown(out)));
    const data = tool.data || {};
    const foot = [];
    if (data.exit_code !== undefined && data.exit_code !== null) foot.push(`exit code ${data.exit_code}`);
    if (data.timed_out) foot.push("timed out");
    if (data.omitted_bytes) foot.push(`${data.omitted_bytes} bytes omitted`);
    return h("div.tool-output", null, errorBox(tool), term, foot.length ? h("div.tool-foot", null, foot.join(" · ")) : null);
  },
});

registerToolView("edit", {
  summary: (input) => input.path || "",
  open: (tool) => tool.status !== "pending", // while it waits for approval, its card shows the diff
  body(tool) {
    const diff = (tool.data && tool.data.diff) || "";
    const input = tool.input || {};
    const view = diff ? diffView(diff) : "old_string" in input ? diffView(proposedDiff(input)) : null;
    return h("div.tool-output", null, errorBox(tool), view, !view ? h("pre.output", null, shown(outputOf(tool))) : null);
  },
});

registerToolView("write", {
  summary: (input) => input.path || "",
  body(tool) {
    const input = tool.input || {};
    const lang = String(input.path || "").split(".").pop();
    const code = h("code.hljs");
    setCode(code, shown(String(input.content || "")), lang);
    return h("div.tool-output", null, errorBox(tool), outputOf(tool) ? h("div.tool-foot", null, outputOf(tool)) : null, h("pre.code", null, code));
  },
});

registerToolView("view", {
  summary: (input) => input.path || "",
  body: plainBody,
});

function statusOf(tool) {
  return STATUS_LABEL[tool.status] ? tool.status : "pending";
}

/** A card for one tool call; fill it with fillToolCard. */
export function toolCard(toolCallId) {
  const card = h("details.tool", { dataset: { toolCallId } });
  card.addEventListener("click", (event) => {
    if (event.target.closest("summary")) card._touched = true;
  });
  card.addEventListener("keydown", (event) => {
    if (event.target.tagName === "SUMMARY" && (event.key === "Enter" || event.key === " ")) card._touched = true;
  });
  card.addEventListener("toggle", () => {
    if (card.open && card._tool && !card._bodyFor) renderBody(card);
  });
  return card;
}

function renderBody(card) {
  const tool = card._tool;
  const view = views.get(tool.name);
  const body = view && view.body ? view.body(tool) : plainBody(tool);
  const old = card.querySelector(":scope > .tool-body");
  const wrap = h("div.tool-body", null, body);
  if (old) old.replaceWith(wrap);
  else card.append(wrap);
  card._bodyFor = tool;
}

export function fillToolCard(card, tool, input) {
  const status = statusOf(tool);
  const name = tool.name || "tool";
  const summaryText = toolSummary(name, Object.keys(tool.input || {}).length ? tool.input : input);
  card._tool = { ...tool, input: Object.keys(tool.input || {}).length ? tool.input : input || {} };
  card.className = `tool tool-${status}`;
  card.dataset.status = status;
  card.dataset.tool = name;
  const time = tool.durationMs
    ? h("span.tool-duration", null, duration(tool.durationMs))
    : status === "running" && tool.startedAt
      ? h("span.tool-duration", { dataset: { since: String(tool.startedAt) } }, duration(Math.max(0, Date.now() - tool.startedAt)))
      : null;
  const summary = h(
    "summary",
    { "aria-label": `${name} ${summaryText}, ${STATUS_LABEL[status]}` },
    h(`span.tool-status.status-${status}`, { "aria-hidden": "true" }),
    h("span.tool-name", null, name),
    summaryText ? h("code.tool-summary", null, summaryText) : null,
    h(`span.tool-state.state-${status}`, null, STATUS_LABEL[status]),
    time,
  );
  const old = card.querySelector(":scope > summary");
  if (old) old.replaceWith(summary);
  else card.prepend(summary);
  const view = views.get(name);
  if (!card._touched && view && view.open && view.open(tool) && (status !== "pending" || Object.keys(card._tool.input).length)) {
    card.open = true;
  }
  card._bodyFor = null;
  if (card.open) renderBody(card);
  else card.querySelector(":scope > .tool-body")?.remove();
}
