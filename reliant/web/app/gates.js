// Approvals and questions ("gates": the chat waits for the user), without the DOM: the modes, the
// shape of a gate from an update or a List* answer, what a settled gate says, the prefix offered for
// always-allowing a shell command, and the summary of everything that waits across chats.

export const MODES = [
  { mode: "auto", label: "Auto", help: "Runs every tool without asking." },
  { mode: "manual", label: "Manual", help: "Asks you before each tool call that changes something: edits, writes, commands." },
  { mode: "plan", label: "Plan", help: "Read-only tools only: the agent looks around and proposes a plan." },
];

export const MODE_HELP = Object.fromEntries(MODES.map((m) => [m.mode, m.help]));

// Commands whose second word says what they do (git status vs git push): the prefix keeps both.
const SUBCOMMANDS = new Set([
  "apt", "apt-get", "brew", "bun", "cargo", "deno", "docker", "dotnet", "gh", "git", "go", "gradle", "helm",
  "kubectl", "make", "mvn", "npm", "npx", "pip", "pip3", "pnpm", "poetry", "systemctl", "uv", "yarn",
]);
const PYTHONS = /^python[0-9.]*$/;
const SHELL_SYNTAX = /[;&|<>$`()\\"'*?{}[\]]/;

/** What "always allow commands starting with" offers for `command`: its first word, or the first
 * two for tools with subcommands (git status), or `python -m module`. Cut where shell syntax starts;
 * a slice of the command as typed, so it really is a prefix of it. */
export function commandPrefix(command) {
  const text = String(command || "").replace(/^\s+/, "");
  const words = [];
  const re = /\S+/g;
  let match;
  while ((match = re.exec(text)) && words.length < 3) {
    if (SHELL_SYNTAX.test(match[0])) break;
    words.push({ word: match[0], end: match.index + match[0].length });
  }
  if (!words.length) return "";
  let take = 1;
  const [first, second, third] = words.map((w) => w.word);
  if (SUBCOMMANDS.has(first) && second && !second.startsWith("-")) take = 2;
  else if (PYTHONS.test(first) && second === "-m" && third) take = 3;
  return text.slice(0, words[Math.min(take, words.length) - 1].end);
}

function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function clip(text, max = 80) {
  const line = String(text).replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** One line about a tool call's input: its command, path or pattern. */
export function inputSummary(input) {
  const value = input || {};
  for (const key of ["command", "path", "pattern", "url", "query", "name"]) {
    if (typeof value[key] === "string" && value[key]) return clip(value[key]);
  }
  const json = JSON.stringify(value);
  return json === "{}" ? "" : clip(json);
}

/** The sub-agent a gate comes from ({id, name, task}), or null for the chat's own agent: from an
 * update's snake_case `agent` or an Approval/Question's AgentTag. */
export function gateAgent(g) {
  const a = g && g.agent;
  const id = a ? a.agent_id || a.agentId || "" : "";
  return id ? { id, name: String(a.name || ""), task: String(a.task || "") } : null;
}

/** "kid: " before what a sub-agent's gate asks ("" for the chat's own agent). */
function agentPrefix(g) {
  const agent = gateAgent(g);
  return agent ? `${agent.name || agent.id.slice(0, 8)}: ` : "";
}

function normQuestions(list) {
  return (list || []).map((q) => ({ question: String(q.question || ""), choices: (q.choices || []).map(String) }));
}

/** A gate from an approval_requested payload (snake_case) or an Approval of ListPendingApprovals.
 * `approval` is "node" for a workflow's approval node: a question with choices, answered by Choose. */
export function approvalGate(a, createdAt = 0) {
  return {
    kind: "approval",
    approval: a.kind === "node" ? "node" : "tool",
    question: String(a.question || ""),
    choices: (a.choices || []).map(String),
    node: String(a.node || ""),
    agent: gateAgent(a),
    choice: "",
    id: a.approval_id || a.id || "",
    toolCallId: a.call_key || a.tool_call_id || a.toolCallId || "",
    toolName: a.tool_name || a.toolName || "",
    input: a.input || {},
    questions: [],
    turn: num(a.turn),
    createdAt: num(a.createdUnix) || createdAt,
    status: "pending",
    scope: "",
    message: "",
    answers: [],
  };
}

/** A gate from a question_asked payload or a Question of ListPendingQuestions. */
export function questionGate(q, createdAt = 0) {
  return {
    kind: "question",
    id: q.question_id || q.id || "",
    toolCallId: q.call_key || q.tool_call_id || q.toolCallId || "",
    toolName: "ask_user",
    input: {},
    agent: gateAgent(q),
    questions: normQuestions(q.questions),
    turn: num(q.turn),
    createdAt: num(q.createdUnix) || createdAt,
    status: "pending",
    scope: "",
    message: "",
    answers: [],
  };
}

const SCOPE_TEXT = {
  chat: "always in this chat",
  project: "always in this project",
};

/**
 * What a gate that is no longer pending says: {label, detail}. `tool` (the call's state) decides a
 * gate that was settled elsewhere without the UI seeing how ("settled").
 */
export function outcome(gate, tool = null) {
  let status = gate.status;
  if (status === "settled") {
    const toolStatus = tool ? tool.status : "";
    if (gate.kind === "question") status = toolStatus === "ok" ? "answered" : toolStatus === "pending" || !toolStatus ? "settled" : "cancelled";
    else if (toolStatus === "denied") status = "denied";
    else if (["running", "ok", "error", "interrupted"].includes(toolStatus)) status = "approved";
  }
  switch (status) {
    case "approved": {
      let scope = SCOPE_TEXT[gate.scope] || "";
      if (gate.scope === "prefix") scope = gate.prefix ? `always for commands starting with “${gate.prefix}”` : "always for commands with this prefix";
      return { status, label: "Approved", detail: scope };
    }
    case "denied":
      return { status, label: "Denied", detail: gate.message ? `the agent was told: “${gate.message}”` : "" };
    case "expired":
      return { status, label: "Expired", detail: "no answer in time, so it was denied" };
    case "cancelled":
      return { status, label: gate.kind === "question" ? "Not answered" : "Cancelled", detail: "the turn ended before an answer" };
    case "answered":
      if (gate.approval === "node") return { status, label: `Chose “${gate.choice}”`, detail: gate.message ? `with the note “${gate.message}”` : "" };
      return { status, label: "Answered", detail: "" };
    default:
      return { status, label: "Answered elsewhere", detail: "" };
  }
}

/**
 * Everything that waits, across chats, from ListPendingApprovals and ListPendingQuestions:
 * {total, entries (oldest first), chats: Map chatId -> count}.
 */
export function waitingSummary(approvals, questions) {
  const entries = [];
  for (const a of approvals || []) {
    const summary = inputSummary(a.input);
    entries.push({
      kind: "approval",
      id: a.id,
      chatId: a.chatId,
      toolCallId: a.toolCallId || "",
      chatTitle: a.chatTitle || "New chat",
      text: agentPrefix(a) + (a.kind === "node" ? `Choose: ${clip(a.question || "")}` : `Approve ${a.toolName}${summary ? `: ${summary}` : ""}`),
      createdAt: num(a.createdUnix),
    });
  }
  for (const q of questions || []) {
    const first = (q.questions || [])[0];
    const more = (q.questions || []).length > 1 ? ` (+${q.questions.length - 1})` : "";
    entries.push({
      kind: "question",
      id: q.id,
      chatId: q.chatId,
      toolCallId: q.toolCallId || "",
      chatTitle: q.chatTitle || "New chat",
      text: `${agentPrefix(q)}Question: ${clip(first ? first.question : "")}${more}`,
      createdAt: num(q.createdUnix),
    });
  }
  entries.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const chats = new Map();
  for (const e of entries) chats.set(e.chatId, (chats.get(e.chatId) || 0) + 1);
  return { total: entries.length, entries, chats };
}
