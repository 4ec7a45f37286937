// One chat as the UI shows it, built from a ListMessages snapshot and then StreamUpdates updates.
// No DOM here: a renderer asks which rows changed (take()) and in what order they go (rows()).
//
// Applying updates is idempotent, so a stream that resumes from an earlier seq, or replays an
// answer that the snapshot already holds, never shows anything twice:
//   - stored messages are keyed by id;
//   - a streaming answer is keyed by its turn: a later message_started for the same turn replaces
//     the partial one, message_aborted drops it, and an answer whose turn is already stored (the
//     snapshot raced its completion) is not shown again;
//   - the answer in progress comes with seq 0 and is replayed from its start after a reconnect: a
//     delta is placed by (message_id, index, offset), so a replayed one adds nothing;
//   - tool calls are keyed by tool_call_id;
//   - approvals and questions ("gates") are keyed by the tool_call_id they gate: a pending gate comes
//     from the stream or from ListPending* after a snapshot (mergePending), and once settled stays so.
//
// A model made with `agentId` is one sub-agent's transcript instead (its ListMessages snapshot, then
// the chat's stream): only messages whose step is the agent's (`<agent id>/...`), the answer it
// streams, the calls on its threads and the gates it raised. Its calls are keyed by their call key
// (`<tool_call_id>@<thread>`), as its gates are, since short ids repeat across threads.

import { approvalGate, gateAgent, questionGate } from "./gates.js";

/** A gate's key: its call's key when the call is on another thread (short ids repeat across
 * threads), which is what ListPendingApprovals/Questions give as toolCallId. */
function gateKey(p) {
  return p.call_key || p.tool_call_id || "";
}

export const TOOL_STATUS = {
  pending: "pending",
  executing: "running",
  completed: "ok",
  failed: "error",
  interrupted: "interrupted",
  denied: "denied",
};

/** How a notice row looks, by its tone: a failure (`error` update: red, "Error:", announced at
 * once) or something worth knowing that is no failure (`notice`: the thread was summarised to fit
 * the model's window; neutral, announced politely). */
export const NOTICE_LOOKS = {
  error: { className: "notice-error", label: "Error: ", role: "alert" },
  info: { className: "notice-info", label: "", role: "status" },
};

const AFTER_ALL = 1e12;

function num(value) {
  if (value === undefined || value === null || value === "") return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function pick(obj, ...names) {
  if (!obj) return undefined;
  for (const name of names) if (obj[name] !== undefined && obj[name] !== null) return obj[name];
  return undefined;
}

/** A usage record from either shape: update payloads (snake_case) or protobuf JSON (camelCase). */
export function normUsage(usage, cost) {
  const u = usage || {};
  return {
    input: num(pick(u, "input_tokens", "inputTokens")),
    output: num(pick(u, "output_tokens", "outputTokens")),
    cacheRead: num(pick(u, "cache_read_tokens", "cacheReadTokens")),
    cacheWrite: num(pick(u, "cache_write_tokens", "cacheWriteTokens")),
    cost: num(cost !== undefined ? cost : pick(u, "cost_usd", "costUsd")),
  };
}

export function normBlock(b) {
  return {
    type: b.type || "text",
    text: b.text || "",
    toolCallId: pick(b, "tool_call_id", "toolCallId") || "",
    toolName: pick(b, "tool_name", "toolName") || "",
    toolInput: pick(b, "tool_input", "toolInput") || {},
    isError: Boolean(pick(b, "is_error", "isError")),
    toolState: pick(b, "tool_state", "toolState") || "",
    durationMs: num(pick(b, "duration_ms", "durationMs")),
    toolData: pick(b, "tool_data", "toolData") || null,
    toolOutcome: pick(b, "tool_outcome", "toolOutcome") || "", // how a finished call ended (outcomes.js)
    mediaType: pick(b, "media_type", "mediaType") || "",
    path: b.path || "", // an `@path` attachment of a user message
  };
}

export function normMessage(m) {
  const ordinal = num(m.ordinal);
  return {
    id: m.id,
    role: m.role || "user",
    ordinal,
    turn: num(m.turn),
    model: m.model || "",
    blocks: (m.blocks || []).map(normBlock),
    usage: normUsage(m.usage, pick(m, "cost_usd")),
    createdAt: num(pick(m, "created_at", "createdUnix")),
    queued: Boolean(m.queued) || !ordinal,
    threadId: String(pick(m, "thread_id", "threadId") || ""),
    step: String(m.step || ""),
    cut: String(m.cut || ""), // why an answer stops short of what the model meant to write ("": whole)
  };
}

function signature(m) {
  return JSON.stringify([m.ordinal, m.queued, m.blocks.map((b) => [b.type, b.text.length, b.toolCallId])]);
}

function codePoints(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** Adds a delta's text to its block; `offset` is where it starts, in code points. What the block
 * already has is not added again (a replay after a reconnect); text after a gap is left out (the
 * stored message brings it). True when the block changed. */
function appendAt(block, offset, text) {
  const have = block.points || 0;
  const n = codePoints(text);
  const at = offset === undefined || offset === null ? have : num(offset);
  if (at > have || at + n <= have) return false;
  block.text += at === have ? text : Array.from(text).slice(have - at).join("");
  block.points = at + n;
  return true;
}

export class ChatModel {
  /** `agentId`: the transcript of that sub-agent of the chat (see above). */
  constructor(chatId, { agentId = "" } = {}) {
    this.chatId = chatId;
    this.agentId = agentId;
    this.threads = new Set(); // an agent's transcript: the threads its messages are on
    this.messages = new Map(); // id -> stored (or queued) message
    this.live = new Map(); // turn -> streaming answer
    this.liveTurnOf = new Map(); // message_started's message_id -> turn
    this.tools = new Map(); // tool_call_id -> tool call state
    this.toolOwner = new Map(); // tool_call_id -> row key of the message that holds the call
    this.agentIds = new Set(); // the chat's sub-agents: their threads' messages are not shown here
    this.agentThreads = new Set(); // the threads their messages are on: the context taken there is theirs
    this.notices = new Map(); // key -> {key, text, tone, anchor, seq} (tone: a key of NOTICE_LOOKS)
    this.gates = new Map(); // tool_call_id -> approval or question (see gates.js)
    this.staleMark = 0;
    this.chat = { status: "idle", reason: "", title: "", model: "", mode: "" };
    this.retry = null; // {seconds, attempt, reason, until}
    this.instructions = []; // the instruction files in effect: [{shown, path}] (a chat's, not an agent's)
    this.lastSeq = 0;
    this.changed = new Set();
    this.orderDirty = true;
    this.chatDirty = true;
    this.gatesDirty = false;
  }

  // -- reading -------------------------------------------------------------------------------

  /** What changed since the last call: row keys to re-render, whether rows moved, chat header. */
  take() {
    const out = { changed: this.changed, order: this.orderDirty, chat: this.chatDirty, gates: this.gatesDirty };
    this.changed = new Set();
    this.orderDirty = false;
    this.chatDirty = false;
    this.gatesDirty = false;
    return out;
  }

  storedTurns() {
    const turns = new Set();
    for (const m of this.messages.values()) if (m.role === "assistant" && m.turn) turns.add(m.turn);
    return turns;
  }

  maxOrdinal() {
    let max = 0;
    for (const m of this.messages.values()) if (m.ordinal > max) max = m.ordinal;
    return max;
  }

  /** The rows of the transcript in display order: {key, kind, item}. Tool results are not rows:
   * they belong to the card of their call. */
  rows() {
    const rows = [];
    const stored = this.storedTurns();
    for (const m of this.messages.values()) {
      if (m.role === "tool") continue;
      const sort = m.queued ? [AFTER_ALL, 2, m.createdAt] : [m.ordinal, 0, 0];
      rows.push({ key: `m:${m.id}`, kind: m.queued ? "queued" : "message", item: m, sort });
    }
    for (const live of this.live.values()) {
      if (stored.has(live.turn)) continue;
      rows.push({ key: `l:${live.turn}`, kind: "live", item: live, sort: [AFTER_ALL, 0, live.turn] });
    }
    for (const n of this.notices.values()) {
      rows.push({ key: n.key, kind: "notice", item: n, sort: [n.anchor, 1, n.seq] });
    }
    if (this.retry) rows.push({ key: "retry", kind: "retry", item: this.retry, sort: [AFTER_ALL, 1, 0] });
    for (const gate of this.gates.values()) {
      // A gate shows in the card of its call; one whose call is not shown gets a row of its own.
      if (gate.status === "pending" && !this.toolOwner.has(gate.toolCallId)) {
        rows.push({ key: `g:${gate.toolCallId}`, kind: "gate", item: gate, sort: [AFTER_ALL, 1, 2 + gate.createdAt / 1e10] });
      }
    }
    if (this.chat.status === "paused" || this.chat.status === "failed") {
      rows.push({ key: "paused", kind: "paused", item: this.chat, sort: [AFTER_ALL, 1, 1] });
    }
    rows.sort((a, b) => a.sort[0] - b.sort[0] || a.sort[1] - b.sort[1] || a.sort[2] - b.sort[2]);
    return rows;
  }

  queuedCount() {
    let n = 0;
    for (const m of this.messages.values()) if (m.queued) n += 1;
    return n;
  }

  /** Approvals and questions that wait for the user, oldest first. */
  pendingGates() {
    return [...this.gates.values()]
      .filter((g) => g.status === "pending")
      .sort((a, b) => a.createdAt - b.createdAt || (a.toolCallId < b.toolCallId ? -1 : a.toolCallId > b.toolCallId ? 1 : 0));
  }

  streaming() {
    const stored = this.storedTurns();
    for (const live of this.live.values()) if (!stored.has(live.turn)) return true;
    return false;
  }

  totals() {
    const t = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0 };
    for (const m of this.messages.values()) {
      if (m.role !== "assistant") continue;
      t.input += m.usage.input;
      t.output += m.usage.output;
      t.cacheRead += m.usage.cacheRead;
      t.cacheWrite += m.usage.cacheWrite;
      t.cost += m.usage.cost;
    }
    return t;
  }

  // -- writing -------------------------------------------------------------------------------

  setChat(chat) {
    this.chat = {
      status: chat.status || "idle",
      reason: chat.statusReason || chat.status_reason || "",
      title: chat.title || "",
      model: chat.model || "",
      mode: chat.mode || "auto",
    };
    this.chatDirty = true;
    this.orderDirty = true;
  }

  /** A ListMessages answer: the stored transcript, replacing whatever was shown; streaming answers
   * are dropped (the stream replays them from resume_seq). Unchanged messages keep their rows. */
  load(snapshot) {
    const incoming = new Map();
    for (const raw of snapshot.messages || []) incoming.set(raw.id, this._scoped(normMessage(raw)));
    for (const id of [...this.messages.keys()]) {
      if (!incoming.has(id)) {
        this.messages.delete(id);
        this.orderDirty = true;
      }
    }
    for (const [id, m] of incoming) {
      const old = this.messages.get(id);
      if (old && signature(old) === signature(m)) continue;
      this.messages.set(id, m);
      this.changed.add(`m:${id}`);
      this.orderDirty = true;
    }
    if (this.live.size) this.orderDirty = true;
    this.live.clear();
    this.liveTurnOf.clear();
    this.retry = null;
    for (const m of incoming.values()) this._indexTools(m);
    this.lastSeq = num(pick(snapshot, "resumeSeq", "resume_seq"));
    this._setInstructions(snapshot.instructions);
    this.chatDirty = true;
  }

  /** The instruction files in effect, from a snapshot or a `context` update (an empty list is
   * left out of protobuf JSON: none). An agent's transcript shows none: they are its chat's. */
  _setInstructions(files) {
    if (this.agentId) return;
    const next = (files || []).map((f) => ({ shown: String(f.shown || f.path || ""), path: String(f.path || f.shown || "") }));
    if (JSON.stringify(next) === JSON.stringify(this.instructions)) return;
    this.instructions = next;
    this.chatDirty = true;
  }

  _indexTools(m) {
    for (const b of m.blocks) {
      if (!b.toolCallId) continue;
      if (b.type === "tool_call") {
        this.toolOwner.set(b.toolCallId, `m:${m.id}`);
        const patch = { name: b.toolName, input: b.toolInput };
        if (b.toolState) patch.status = TOOL_STATUS[b.toolState] || b.toolState;
        if (b.durationMs) patch.durationMs = b.durationMs;
        if (b.toolData) patch.data = b.toolData;
        if (b.toolOutcome) patch.outcome = b.toolOutcome;
        this._tool(b.toolCallId, patch);
      } else if (b.type === "tool_result") {
        this._tool(b.toolCallId, { name: b.toolName, resultText: b.text, resultIsError: b.isError });
      }
    }
  }

  _tool(id, patch) {
    const tool = this.tools.get(id) || {
      id,
      name: "",
      input: {},
      status: "pending",
      output: null,
      error: "",
      data: null,
      durationMs: 0,
      startedAt: 0,
      resultText: null,
      resultIsError: false,
    };
    let changed = !this.tools.has(id);
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined || tool[k] === v) continue;
      tool[k] = v;
      changed = true;
    }
    this.tools.set(id, tool);
    if (changed) {
      const owner = this.toolOwner.get(id);
      if (owner) this.changed.add(owner);
    }
    return tool;
  }

  /** An agent's transcript: its message's calls known by their call key, its thread remembered. */
  _scoped(m) {
    if (!this.agentId || !m.threadId) return m;
    this.threads.add(m.threadId);
    for (const b of m.blocks) if (b.toolCallId && !b.toolCallId.includes("@")) b.toolCallId = `${b.toolCallId}@${m.threadId}`;
    return m;
  }

  /** The key of a tool call started in a streamed answer on `thread`. */
  _callId(id, thread) {
    return this.agentId && id && thread ? `${id}@${thread}` : id;
  }

  /** A tool update's key in this transcript, or "" when the call is not one of it. */
  _toolKey(p) {
    if (!this.agentId) return p.call_key ? "" : p.tool_call_id || "";
    if (!p.call_key) return "";
    const thread = p.thread_id || String(p.call_key).split("@")[1] || "";
    return this.threads.has(thread) ? p.call_key : "";
  }

  /** Whether a message (by its step) is not of this transcript: a sub-agent's in a chat's, any
   * other in an agent's. */
  foreign(step) {
    if (this.agentId) return !String(step || "").startsWith(`${this.agentId}/`);
    return this.ofAgent(step);
  }

  _store(raw) {
    let m = this._scoped(normMessage(raw));
    const old = this.messages.get(m.id);
    if (old && signature(old) === signature(m)) m = old; // a replay: keep the row as it is
    this.messages.set(m.id, m);
    if (!old || old.queued !== m.queued || old.ordinal !== m.ordinal) this.orderDirty = true;
    if (m !== old) this.changed.add(`m:${m.id}`);
    if (m.role === "assistant" && m.turn && this.live.has(m.turn)) {
      this._dropLive(m.turn);
    }
    this._indexTools(m);
    this.chatDirty = true; // totals
  }

  /** Creates or patches the gate of a tool call; returns it. */
  _gate(toolCallId, make, patch = {}) {
    let gate = this.gates.get(toolCallId);
    if (!gate) {
      if (!make) return null;
      gate = make();
      this.gates.set(toolCallId, gate);
      this.orderDirty = this.orderDirty || !this.toolOwner.has(toolCallId);
    }
    const before = gate.status;
    Object.assign(gate, patch);
    if (before === "pending" && gate.status !== "pending" && !this.toolOwner.has(toolCallId)) this.orderDirty = true;
    const owner = this.toolOwner.get(toolCallId);
    if (owner) this.changed.add(owner);
    else this.changed.add(`g:${toolCallId}`);
    this.gatesDirty = true;
    return gate;
  }

  /** Before asking ListPending*: marks the pending gates, to settle those the answer leaves out.
   * Returns the mark to hand to mergePending. */
  markStale() {
    this.staleMark += 1;
    for (const gate of this.gates.values()) if (gate.status === "pending") gate.stale = this.staleMark;
    return this.staleMark;
  }

  /**
   * The pending approvals and questions of this chat, as listed after `markStale()` returned `mark`.
   * Adds the gates not known yet (a gate already settled stays settled); a gate marked then, not
   * listed and not heard of since was settled where this UI did not see it. True when it changed.
   */
  mergePending(mark, approvals, questions) {
    let changed = false;
    const listed = new Set();
    const add = (item, make) => {
      const id = item.toolCallId;
      if (!id || (item.chatId && item.chatId !== this.chatId)) return;
      if (this.agentId && (gateAgent(item) || {}).id !== this.agentId) return; // another agent's
      listed.add(id);
      const gate = this.gates.get(id);
      if (gate) {
        if (gate.stale) gate.stale = 0;
        return;
      }
      this._gate(id, () => make(item));
      changed = true;
    };
    for (const a of approvals || []) add(a, approvalGate);
    for (const q of questions || []) add(q, questionGate);
    for (const gate of this.gates.values()) {
      if (gate.status === "pending" && gate.stale === mark && !listed.has(gate.toolCallId)) {
        this._gate(gate.toolCallId, null, { status: "settled", stale: 0 });
        changed = true;
      }
    }
    return changed;
  }

  _dropLive(turn) {
    const live = this.live.get(turn);
    if (!live) return;
    this.live.delete(turn);
    this.liveTurnOf.delete(live.messageId);
    this.orderDirty = true;
  }

  /** Applies one update; returns false when it was already applied (seq at or below the last). */
  /** Whether a message's step is a sub-agent's (`<agent id>/...`): its thread is not this transcript. */
  ofAgent(step) {
    const slash = step ? String(step).indexOf("/") : -1;
    return slash > 0 && this.agentIds.has(String(step).slice(0, slash));
  }

  /** A thread whose messages are not this transcript's (another agent's). */
  _othersThread(thread) {
    if (thread) this.agentThreads.add(String(thread));
  }

  /** The chat's sub-agents (ListAgents): their messages stay out of this transcript. */
  addAgents(ids) {
    for (const id of ids) this.agentIds.add(String(id));
  }

  apply(update) {
    const seq = num(update.seq);
    if (seq) {
      if (seq <= this.lastSeq) return false;
      this.lastSeq = seq;
    }
    const p = update.payload || {};
    const at = num(pick(update, "createdUnix", "created_unix")) * 1000;
    switch (update.kind) {
      case "message_queued": {
        if (!this.agentId && !this.messages.has(p.message_id)) {
          // Its text (none: an image alone), and the images this UI sent with it (the stream only counts them).
          const blocks = p.text && p.text.trim() ? [{ type: "text", text: p.text }] : [];
          for (const image of p.image_data || []) blocks.push({ type: "image", media_type: image.mediaType, text: image.data });
          this._store({ id: p.message_id, role: "user", ordinal: 0, queued: true, created_at: at / 1000, blocks });
        }
        break;
      }
      case "agent_started":
        this.agentIds.add(String(p.agent_id || ""));
        break;
      case "message_created":
      case "message_completed":
        if (p.message && p.message.id && !this.foreign(p.message.step)) this._store(p.message);
        else if (p.message) this._othersThread(p.message.thread_id);
        break;
      case "message_started": {
        if (this.foreign(p.step)) {
          this._othersThread(p.thread_id); // a sub-agent's answer streams on its own thread
          break;
        }
        if (this.agentId && p.thread_id) this.threads.add(String(p.thread_id));
        const turn = num(p.turn);
        this._dropLive(turn);
        this.retry = null;
        this.orderDirty = true;
        if (this.storedTurns().has(turn)) break; // already complete in the snapshot
        this.live.set(turn, {
          key: `l:${turn}`,
          messageId: p.message_id,
          turn,
          attempt: num(p.attempt),
          model: p.model || "",
          blocks: [],
          startedAt: at,
          threadId: String(p.thread_id || ""),
        });
        this.liveTurnOf.set(p.message_id, turn);
        this.changed.add(`l:${turn}`);
        break;
      }
      case "block_started": {
        const live = this._liveOf(p.message_id);
        if (!live) break;
        const index = num(p.index);
        const callId = this._callId(p.tool_call_id || "", live.threadId);
        live.blocks[index] = {
          type: p.type || "text",
          text: "",
          toolCallId: callId,
          toolName: p.tool_name || "",
          toolInput: {},
        };
        if (callId) {
          this.toolOwner.set(callId, live.key);
          this._tool(callId, { name: p.tool_name || "" });
        }
        this.changed.add(live.key);
        break;
      }
      case "block_delta": {
        const live = this._liveOf(p.message_id);
        if (!live) break;
        const index = num(p.index);
        const block = live.blocks[index] || (live.blocks[index] = { type: p.type || "text", text: "", toolCallId: "", toolName: "", toolInput: {} });
        if (appendAt(block, p.offset, p.text || "")) this.changed.add(live.key);
        break;
      }
      case "message_aborted":
        this._dropLive(num(p.turn));
        break;
      case "tool_started": {
        if (this.gates.get(gateKey(p))?.status === "pending") this._gate(gateKey(p), null, { status: "settled" });
        const key = this._toolKey(p); // "": a call on another thread (another agent's), not a card here
        if (!key) break;
        this._tool(key, { name: p.tool_name || undefined, input: p.input || undefined, status: "running", startedAt: at });
        break;
      }
      case "tool_finished": {
        if (this.gates.get(gateKey(p))?.status === "pending") this._gate(gateKey(p), null, { status: "settled" });
        const key = this._toolKey(p);
        if (!key) break;
        this._tool(key, {
          name: p.tool_name || undefined,
          status: p.status || "ok",
          output: p.output || "",
          error: p.error || "",
          data: p.data || null,
          durationMs: num(p.duration_ms),
          outcome: p.outcome || undefined, // ok | exit_nonzero | refused | timeout | … (outcomes.js)
        });
        break;
      }
      case "chat_status": {
        const status = p.status || "idle";
        if (status !== this.chat.status || (p.reason || "") !== this.chat.reason) {
          this.chat = { ...this.chat, status, reason: p.reason || "" };
          this.chatDirty = true;
          this.orderDirty = true;
          this.changed.add("paused");
        }
        if (status !== "running" && this.retry) {
          this.retry = null;
          this.orderDirty = true;
        }
        break;
      }
      case "retry_wait": {
        if (this.agentId) break; // the chat's, shown in the chat
        const seconds = num(p.seconds);
        this.retry = { seconds, attempt: num(p.attempt), reason: p.reason || "", until: (at || Date.now()) + seconds * 1000 };
        this.orderDirty = true;
        this.changed.add("retry");
        break;
      }
      case "error":
      case "notice": {
        if (this.agentId) break;
        const key = `n:${seq || this.notices.size + 1}`;
        const tone = update.kind === "error" ? "error" : "info";
        this.notices.set(key, { key, text: p.message || update.kind, tone, anchor: this.maxOrdinal(), seq });
        this.orderDirty = true;
        this.changed.add(key);
        break;
      }
      case "context":
        // Agents side by side each take their own (in their worktrees): the chat shows its own.
        if (this.agentThreads.has(String(p.thread_id || ""))) break;
        this._setInstructions(p.instructions);
        break;
      case "chat_updated": {
        if (p.title !== undefined) this.chat = { ...this.chat, title: p.title };
        if (p.model !== undefined) this.chat = { ...this.chat, model: p.model };
        if (p.mode !== undefined) this.chat = { ...this.chat, mode: p.mode };
        this.chatDirty = true;
        break;
      }
      case "approval_requested":
      case "question_asked": {
        const make = update.kind === "approval_requested" ? approvalGate : questionGate;
        if (this.agentId && (gateAgent(p) || {}).id !== this.agentId) break; // another agent's
        const gate = this._gate(gateKey(p), () => make(p, at / 1000));
        if (gate.status === "pending") gate.stale = 0; // heard of: not settled elsewhere unseen
        break;
      }
      case "approval_resolved":
      case "question_answered": {
        const make = () => (update.kind === "approval_resolved" ? approvalGate(p, at / 1000) : questionGate(p, at / 1000));
        const patch = { status: p.status || "settled", stale: 0 };
        if (update.kind === "approval_resolved") Object.assign(patch, { scope: p.scope || "", message: p.message || "", choice: p.choice || "" });
        else patch.answers = (p.answers || []).map(String);
        this._gate(gateKey(p), this.agentId ? null : make, patch); // an agent's: only gates it raised
        break;
      }
      default:
        return true; // a kind this UI does not know yet: ignore it, the stream goes on
    }
    return true;
  }

  _liveOf(messageId) {
    const turn = this.liveTurnOf.get(messageId);
    return turn === undefined ? null : this.live.get(turn) || null;
  }
}
