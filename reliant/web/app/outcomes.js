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

// As reliant/domain/tool_outcome.py reads a call's end (tests/web/test_outcome_agreement.py holds
// the two to the same answers): the reasons a user's stop ends a call with, and the word every
// refusal of the daemon's safety rules starts with.
const CANCEL_REASONS = new Set(["cancelled by the user", "cancelled on request", "cancelled"]);
const REFUSED = /^refused/i;

function exitCode(tool) {
  const code = tool.data && tool.data.exit_code;
  return typeof code === "number" ? code : null;
}

/** The outcome of a tool call (its state in the transcript model, or a tool_finished payload): the
 * server's own word when it gave one (tool_finished's `outcome`, a stored call's `toolOutcome`),
 * else read from its status, data and error the way the server reads them. */
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
  // A stored call's error is the result the model was given ("interrupted: <why>").
  const error = String(tool.error || (tool.resultIsError ? (tool.resultText || "").replace(/^interrupted: /, "") : ""));
  if (status === "ok") {
    const code = exitCode(tool);
    return code !== null && code !== 0 ? "exit_nonzero" : "ok";
  }
  if (status === "denied") return "denied";
  if (status === "interrupted") return CANCEL_REASONS.has(error.trim()) ? "cancelled" : "interrupted";
  if (status === "error" && tool.data && tool.data.timed_out === true) return "timeout";
  if (status === "error" && REFUSED.test(error.trimStart())) return "refused";
  return "error";
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
