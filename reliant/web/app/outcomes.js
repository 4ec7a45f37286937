// How a tool call ended, as one word the UI (and the CLI) agree on: ok | exit_nonzero | refused |
// timeout | interrupted | denied | cancelled | error, or pending | running while it has not. The
// tool_finished payload carries it as `outcome`; updates stored before it did are read from their
// status, data.exit_code and error. Each outcome has its own word, icon and colour (app.css
// `.outcome-<name>`), so a failed command never reads as "ok". No DOM here.

export const OUTCOMES = {
  pending: { word: "pending", icon: "circle", finished: false, problem: false },
  running: { word: "running", icon: "dots", finished: false, problem: false },
  ok: { word: "ok", icon: "check", finished: true, problem: false },
  exit_nonzero: { word: "exit", icon: "x", finished: true, problem: true },
  refused: { word: "refused", icon: "lock", finished: true, problem: true },
  timeout: { word: "timed out", icon: "clock", finished: true, problem: true },
  interrupted: { word: "interrupted", icon: "bolt", finished: true, problem: true },
  denied: { word: "denied", icon: "ban", finished: true, problem: true },
  cancelled: { word: "cancelled", icon: "stop", finished: true, problem: true },
  error: { word: "error", icon: "alert", finished: true, problem: true },
};

// The ends of a turn the user chose (a stop, an interrupt, max_turns): the call never ran to its end.
const CANCELLED = /\b(cancel(l)?ed|stopped|interrupted by the user)\b/i;
const REFUSED = /^refused\b|\brefused:/i;
const TIMED_OUT = /\btimed out\b/i;

function exitCode(tool) {
  const code = tool.data && tool.data.exit_code;
  return typeof code === "number" ? code : null;
}

/** The outcome of a tool call (its state in the transcript model, or a tool_finished payload). */
export function toolOutcome(tool) {
  const given = tool.outcome;
  if (given && OUTCOMES[given]) return given;
  let status = tool.status || "pending";
  const hasResult = tool.resultText !== null && tool.resultText !== undefined;
  if (status === "pending" || status === "running" || status === "executing") {
    // The model was given a result, so the call ended (an update from before calls settled by a
    // stop were announced): what the result says.
    if (!hasResult) return status === "executing" ? "running" : status;
    status = /^interrupted: /.test(tool.resultText) ? "interrupted" : tool.resultIsError ? "error" : "ok";
  }
  const error = String(tool.error || (tool.resultIsError ? tool.resultText || "" : ""));
  if (status === "denied") return "denied";
  if (status === "interrupted") return CANCELLED.test(error) ? "cancelled" : "interrupted";
  if ((tool.data && tool.data.timed_out) || (status === "error" && TIMED_OUT.test(error))) return "timeout";
  if (status === "error" || status === "failed") return REFUSED.test(error.trim()) ? "refused" : "error";
  const code = exitCode(tool);
  if (code !== null && code !== 0) return "exit_nonzero";
  return "ok";
}

/** The word shown for `outcome` ("exit 1" for a non-zero exit). */
export function outcomeWord(outcome, tool = null) {
  if (outcome === "exit_nonzero") {
    const code = tool ? exitCode(tool) : null;
    return code === null ? "non-zero exit" : `exit ${code}`;
  }
  return (OUTCOMES[outcome] || OUTCOMES.error).word;
}

/** Output as shown, without the "[exit code N]" note the daemon and the transcript append: the
 * card says the exit code once, in its footer. */
export function withoutExitNote(text, tool) {
  if (exitCode(tool) === null) return text;
  return String(text).replace(/\n?\[exit code -?\d+\]\s*$/, "");
}

/**
 * One line for consecutive tool calls: "ran 6 tools: 3 view, 2 shell, 1 edit" (names by count, then
 * first seen), with how many of them did not end well, by outcome: {text, running, problems:
 * [{outcome, count, word}]}.
 */
export function groupSummary(tools) {
  const names = new Map();
  const problems = new Map();
  let running = 0;
  for (const tool of tools) {
    const name = tool.name || "tool";
    names.set(name, (names.get(name) || 0) + 1);
    const outcome = toolOutcome(tool);
    if (!OUTCOMES[outcome].finished) running += 1;
    else if (OUTCOMES[outcome].problem) problems.set(outcome, (problems.get(outcome) || 0) + 1);
  }
  const order = [...names.keys()];
  const parts = [...names.entries()]
    .sort((a, b) => b[1] - a[1] || order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([name, n]) => `${n} ${name}`);
  const n = tools.length;
  const verb = running ? "running" : "ran";
  const text = `${verb} ${n} tool${n === 1 ? "" : "s"}: ${parts.join(", ")}`;
  return {
    text,
    running,
    problems: [...problems.entries()].map(([outcome, count]) => ({ outcome, count, word: outcomeWord(outcome) })),
  };
}
