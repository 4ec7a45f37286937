// Tool call cards: name, a one-line summary of the input, how it ended (outcomes.js: a word, an icon
// and a colour of its own), duration, and the output on demand. Shell output reads as a terminal,
// edits as a diff, viewed files highlighted like the editor shows them. Renderers are looked up by
// tool name, so other tools (MCP servers, terminals, approvals) can add their own with
// registerToolView.

import { h } from "./dom.js";
import { duration, revealed } from "./format.js";
import { ansiToFragment } from "./ansi.js";
import { icon } from "./icons.js";
import { setCode } from "./markdown.js";
import { OUTCOMES, outcomeWord, toolOutcome, withoutExitNote } from "./outcomes.js";
import { languageOf } from "./languages.js";

const MAX_SHOWN_CHARS = 200_000;
const STATUSES = new Set(["pending", "running", "ok", "error", "interrupted", "denied"]);

const views = new Map();
const WAITING_WORD = { approval: "needs approval", question: "needs an answer" };

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
  const text = tool.output !== null && tool.output !== undefined ? tool.output : tool.resultText || "";
  return withoutExitNote(text, tool);
}

function errorText(tool) {
  return tool.error || (tool.status !== "ok" && tool.resultIsError ? tool.resultText || "" : "");
}

/** How a call ended, as a pill: its icon and word in the outcome's colour. */
export function outcomeBadge(outcome, tool = null, text = "") {
  return h(`span.tool-state.outcome-${outcome}`, { dataset: { outcome } }, icon(OUTCOMES[outcome].icon, 13), text || outcomeWord(outcome, tool));
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

/** A unified diff, a line per row; invisible characters named (format.js: revealed), as in review
 * the order the text is laid out in must be the order it has. */
export function diffView(diff) {
  const pre = h("pre.diff", { "aria-label": "diff" });
  for (const line of revealed(diff).replace(/\n$/, "").split("\n")) {
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
    const outcome = toolOutcome(tool);
    if (data.exit_code !== undefined && data.exit_code !== null) {
      foot.push(h(`span.exit-code.outcome-${data.exit_code === 0 ? "ok" : "exit_nonzero"}`, null, `exit code ${data.exit_code}`));
    }
    if (outcome === "timeout") foot.push(h("span.outcome-timeout", null, "timed out"));
    if (data.omitted_bytes) foot.push(`${data.omitted_bytes} bytes omitted`);
    const parts = foot.flatMap((part, i) => (i ? [" · ", part] : [part]));
    return h("div.tool-output", null, errorBox(tool), term, parts.length ? h("div.tool-foot", null, ...parts) : null);
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

const NUMBERED = /^\s*(\d+)\t(.*)$/;

/** A viewed file as the editor shows it: line numbers in a gutter, the code highlighted by its
 * file name (the tool's `cat -n` numbering taken apart); notes after the lines stay below. */
export function numberedCode(text, path) {
  const numbers = [];
  const code = [];
  const notes = [];
  for (const line of String(text).split("\n")) {
    const match = NUMBERED.exec(line);
    if (match && !notes.length) {
      numbers.push(match[1]);
      code.push(match[2]);
    } else if (line.trim()) notes.push(line);
  }
  if (!numbers.length) return null;
  const el = h("code.hljs");
  setCode(el, code.join("\n"), languageOf(path || ""));
  return h(
    "div.viewed",
    null,
    h("div.viewed-lines", null, h("pre.viewed-gutter", { "aria-hidden": "true" }, numbers.join("\n")), h("pre.viewed-code", null, el)),
    notes.length ? h("div.tool-foot", null, notes.join(" ")) : null,
  );
}

registerToolView("view", {
  summary: (input) => input.path || "",
  body(tool) {
    const err = errorText(tool);
    const out = outputOf(tool);
    const viewed = !err && out ? numberedCode(shown(out), (tool.data && tool.data.path) || (tool.input && tool.input.path)) : null;
    return viewed ? h("div.tool-output", null, viewed) : plainBody(tool);
  },
});

function statusOf(tool) {
  return STATUSES.has(tool.status) ? tool.status : "pending";
}

/** What a card shows of its call, as a string: the card is filled again only when it changes. */
export function toolSignature(tool, input) {
  const out = tool.output === null || tool.output === undefined ? -1 : tool.output.length;
  return [
    tool.name,
    tool.status,
    tool.outcome || "",
    tool.durationMs,
    tool.startedAt,
    out,
    tool.error,
    (tool.resultText || "").length,
    tool.resultIsError,
    tool.waitingFor || "",
    Object.keys(tool.input || {}).length,
    Object.keys(input || {}).length,
    tool.data ? JSON.stringify(tool.data).length : 0,
  ].join("|");
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
  const outcome = toolOutcome(card._tool);
  card.className = "tool";
  card.dataset.status = status;
  card.dataset.outcome = outcome;
  card.dataset.tool = name;
  const time = tool.durationMs
    ? h("span.tool-duration", null, duration(tool.durationMs))
    : status === "running" && tool.startedAt
      ? h("span.tool-duration", { dataset: { since: String(tool.startedAt) } }, duration(Math.max(0, Date.now() - tool.startedAt)))
      : null;
  // A call that waits for the user says for what (its approval or question card is right below).
  const waiting = (outcome === "pending" || outcome === "running") && tool.waitingFor ? WAITING_WORD[tool.waitingFor] || "" : "";
  const word = waiting || outcomeWord(outcome, card._tool);
  const summary = h(
    "summary",
    { "aria-label": `${name} ${summaryText}, ${word}` },
    h("span.tool-name", null, name),
    summaryText ? h("code.tool-summary", null, summaryText) : null,
    outcomeBadge(outcome, card._tool, word),
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
