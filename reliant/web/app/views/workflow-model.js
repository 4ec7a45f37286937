// Workflows without the DOM: a workflow's typed inputs as form fields (and the values typed into
// them, checked by type), and a chat's runs as a tree of nodes with their live states, built from
// ListRuns and kept up to date by the chat's run_started / node_state / run_finished updates.

export const STATUS_LABELS = {
  waiting: "waiting",
  running: "running",
  done: "done",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
};

/** A form field for each declared input: {name, type, label, description, required, values, value}. */
export function inputFields(inputs) {
  return (inputs || []).map((i) => {
    const has = i.default !== undefined && i.default !== null;
    let value = has ? i.default : i.type === "boolean" ? false : "";
    if (i.type === "enum" && !has && (i.values || []).length) value = "";
    return {
      name: i.name,
      type: i.type || "string",
      description: i.description || "",
      required: Boolean(i.required),
      values: (i.values || []).map(String),
      value,
      hasDefault: has,
      default: has ? i.default : undefined,
    };
  });
}

/**
 * The typed value of a field as the user gave it: {value} to send, {skip: true} to leave it to its
 * default, or {error} saying what is wrong (named like the api names it: inputs.<name>).
 */
export function readField(field, raw) {
  const text = typeof raw === "string" ? raw.trim() : raw;
  if (field.type === "boolean") return { value: Boolean(raw) };
  if (text === "" || text === undefined || text === null) {
    return field.required ? { error: "required" } : { skip: true };
  }
  switch (field.type) {
    case "integer": {
      if (!/^-?\d+$/.test(text)) return { error: "must be a whole number" };
      const n = Number(text);
      return Number.isSafeInteger(n) ? { value: n } : { error: "is too large" };
    }
    case "number": {
      const n = Number(text);
      return text !== "" && Number.isFinite(n) ? { value: n } : { error: "must be a number" };
    }
    case "enum":
      return field.values.includes(text) ? { value: text } : { error: `must be one of ${field.values.join(", ")}` };
    case "model":
      return /^[a-z][a-z0-9_-]*:\S.*$/.test(text) ? { value: text } : { error: "must be provider:model (e.g. anthropic:claude-sonnet-4-5)" };
    default:
      return { value: String(raw) };
  }
}

/** Every field's value that is not its default (a chat keeps the inputs it was given; the
 * definition's defaults fill the rest at each run), or the errors by field name. */
export function readForm(fields, raws) {
  const inputs = {};
  const errors = {};
  for (const field of fields) {
    const got = readField(field, raws[field.name]);
    if (got.error) errors[field.name] = got.error;
    else if (!got.skip && !(field.hasDefault && got.value === field.default)) inputs[field.name] = got.value;
  }
  return { inputs, errors };
}

/** An api error about one input (`inputs.max_rounds: must be …`): {field, message}, else null. */
export function inputError(message) {
  const m = /^inputs\.([A-Za-z_][A-Za-z0-9_-]*): ([^;]*)/.exec(String(message || ""));
  return m ? { field: m[1], message: m[2].replace(/ \(workflow [^)]*\)$/, "") } : null;
}

const ITERATION = /\[\d+\]/g;

export function pathOf(instance) {
  return String(instance || "").replace(ITERATION, "");
}

function normRun(r) {
  return {
    id: r.id,
    workflow: r.workflow || "",
    source: r.source || "",
    status: r.status || "running",
    parentId: r.parentId || r.parent_run_id || "",
    node: r.node || "",
    outputs: r.outputs || {},
    error: r.error || "",
    nodes: r.nodes || null, // null: not known yet (a run_started seen before ListRuns told its nodes)
    text: r.text || "", // the source of the definition the run pinned
    states: new Map(),
    createdAt: Number(r.createdUnix || 0),
  };
}

function normState(s) {
  return {
    path: s.path || "",
    instance: s.instance || s.path || "",
    kind: s.kind || "",
    status: s.status || "waiting",
    iteration: Number(s.iteration || 0),
    error: s.error || "",
    version: Number(s.version || 0),
    outputs: s.outputs || null,
  };
}

export class RunsModel {
  constructor() {
    this.runs = new Map(); // id -> run, in the order first heard of
  }

  /** Runs as ListRuns gives them (their nodes and latest states); later updates still apply. */
  load(runs) {
    for (const r of runs || []) {
      const known = this.runs.get(r.id);
      const run = normRun(r);
      if (known) {
        known.nodes = run.nodes || known.nodes;
        known.text = run.text || known.text;
        if (!known.workflow) Object.assign(known, { workflow: run.workflow, source: run.source, parentId: run.parentId, node: run.node });
        if (known.status === "running") Object.assign(known, { status: run.status, outputs: run.outputs, error: run.error });
      } else {
        this.runs.set(r.id, run);
      }
      const target = this.runs.get(r.id);
      for (const s of r.states || []) this._state(target, normState(s));
    }
  }

  /** Applies one chat update; returns "fetch" when a run's nodes must be read (ListRuns), true when
   * something changed, false otherwise. */
  apply(update) {
    const p = update.payload || {};
    switch (update.kind) {
      case "run_started": {
        if (!this.runs.has(p.run_id)) {
          this.runs.set(p.run_id, normRun({ id: p.run_id, workflow: p.workflow, source: p.source, parent_run_id: p.parent_run_id, node: p.node }));
          return "fetch";
        }
        return false;
      }
      case "node_state": {
        let run = this.runs.get(p.run_id);
        if (!run) {
          run = normRun({ id: p.run_id });
          this.runs.set(p.run_id, run);
        }
        const changed = this._state(run, normState(p));
        return run.nodes === null ? "fetch" : changed;
      }
      case "run_finished": {
        const run = this.runs.get(p.run_id);
        if (!run) return "fetch";
        Object.assign(run, { status: p.status || "done", outputs: p.outputs || {}, error: p.error || "" });
        return true;
      }
      default:
        return false;
    }
  }

  _state(run, state) {
    const known = run.states.get(state.path);
    if (known && known.version > state.version) return false;
    run.states.set(state.path, state);
    return true;
  }

  /** The newest run the chat started itself (not a child). */
  current() {
    let found = null;
    for (const run of this.runs.values()) if (!run.parentId) found = run;
    return found;
  }

  childrenOf(run) {
    return [...this.runs.values()].filter((r) => r.parentId === run.id);
  }

  /** The run's nodes with their states: [{node, state, children, runs}] in definition order. */
  tree(run) {
    const children = this.childrenOf(run);
    const build = (nodes) =>
      (nodes || []).map((node) => {
        const state = run.states.get(node.path) || { path: node.path, instance: node.path, kind: node.kind, status: "waiting", iteration: 0, error: "", version: 0, outputs: null };
        return {
          node,
          state,
          children: build(node.children),
          runs: node.kind === "workflow" ? children.filter((c) => pathOf(c.node) === node.path) : [],
        };
      });
    return build(run.nodes);
  }

  /** {done, total} over the run's leaf nodes that are not waiting or skipped by the end. */
  progress(run) {
    let done = 0;
    let total = 0;
    const walk = (items) => {
      for (const item of items) {
        if (item.children.length) {
          walk(item.children);
          continue;
        }
        total += 1;
        if (["done", "failed", "skipped", "cancelled"].includes(item.state.status)) done += 1;
      }
    };
    walk(this.tree(run));
    return { done, total };
  }
}

/** What a node's state says in a few words: "running", "round 2", "done: exit 1", "failed: why". */
export function stateText(item) {
  const { node, state } = item;
  if (node.kind === "loop" && state.status === "running") return `round ${state.iteration + 1}`;
  if (node.kind === "loop" && state.status === "done") return `done after ${state.iteration} round${state.iteration === 1 ? "" : "s"}`;
  const inLoop = state.instance !== state.path && /\[(\d+)\]/.exec(state.instance);
  const round = inLoop && state.status !== "waiting" ? ` (round ${Number(inLoop[1]) + 1})` : "";
  const outputs = state.outputs || {};
  let detail = "";
  if (state.status === "done" && node.kind === "run" && outputs.exit_code !== undefined) detail = `: exit ${outputs.exit_code}`;
  if (state.status === "done" && node.kind === "approval" && outputs.choice) detail = `: ${outputs.choice}`;
  if (state.status === "failed" && state.error) detail = `: ${state.error}`;
  return `${STATUS_LABELS[state.status] || state.status}${detail}${round}`;
}
