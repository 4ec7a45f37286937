// A turn reads as one unit: everything the agent did between two of the user's messages (every model
// step, stored or still streaming) is one row of the transcript, with the model's name once at the
// top and the tokens of all its steps once at the bottom. Inside it, consecutive tool calls (two or
// more, with nothing said between them) are one collapsible group. No DOM here: the renderer
// (transcript-view.js) asks for the rows and a turn's items and reconciles them by key.

const MESSAGE_KINDS = new Set(["message", "live"]);

function isAssistant(row) {
  return MESSAGE_KINDS.has(row.kind) && row.item.role !== "user" && !row.item.queued;
}

/**
 * The transcript's display rows from the model's rows (ChatModel.rows()): runs of consecutive
 * assistant messages become {key, kind: "turn", members: [row...]}; every other row is kept as it
 * is. A turn's key is stable while it grows and when its streaming step is replaced by the stored
 * one: the user message it follows, and how many turn rows came after that message.
 */
export function displayRows(rows) {
  const out = [];
  let anchor = "start";
  let parts = 0;
  let turn = null;
  for (const row of rows) {
    if (isAssistant(row)) {
      if (!turn) {
        turn = { key: `t:${anchor}:${parts}`, kind: "turn", members: [] };
        parts += 1;
        out.push(turn);
      }
      turn.members.push(row);
      continue;
    }
    turn = null;
    if (MESSAGE_KINDS.has(row.kind) && row.item.role === "user") {
      anchor = row.key;
      parts = 0;
    }
    out.push(row);
  }
  return out;
}

function stepOf(member) {
  const item = member.item;
  return item.turn ? `s${item.turn}` : member.key;
}

/**
 * What a turn shows, in order: {key, type: "block", block, member, last} for text, thinking and
 * images; {key, type: "call", toolCallId, block, member} for a tool call; {key, type: "group",
 * calls: [call items]} for two or more calls in a row; {key, type: "cut", text, member} after a step
 * a limit cut short (its text says which). Keys hold across the streaming step being
 * replaced by the stored message (they name the model step and the block's index, or the call id).
The last block of a streaming step is kept even when empty: it shows the cursor.
 */
export function turnItems(members) {
  const flat = [];
  const steps = new Set();
  for (const member of members) {
    const live = member.kind === "live";
    const blocks = member.item.blocks || [];
    let step = stepOf(member);
    if (steps.has(step)) step = member.key; // two steps of one model turn (never expected): apart
    steps.add(step);
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i];
      if (!block) continue;
      if (block.type === "tool_call" && block.toolCallId) {
        flat.push({ key: `c:${block.toolCallId}`, type: "call", toolCallId: block.toolCallId, block, member });
        continue;
      }
      if (block.type === "tool_result") continue;
      const last = live && i === blocks.length - 1;
      if ((block.type === "text" || block.type === "thinking") && !block.text && !last) continue;
      flat.push({ key: `${block.type}:${step}:${i}`, type: "block", block, member, last });
    }
    if (member.item.cut) flat.push({ key: `cut:${step}`, type: "cut", text: member.item.cut, member });
  }
  const items = [];
  let run = [];
  const close = () => {
    if (run.length > 1) items.push({ key: `g:${run[0].toolCallId}`, type: "group", calls: run });
    else items.push(...run);
    run = [];
  };
  for (const item of flat) {
    if (item.type === "call") {
      run.push(item);
      continue;
    }
    close();
    items.push(item);
  }
  close();
  return items;
}

/** The models a turn used, in order of first use. */
export function turnModels(members) {
  const seen = [];
  for (const m of members) if (m.item.model && !seen.includes(m.item.model)) seen.push(m.item.model);
  return seen;
}

/** Tokens and cost of a turn's stored steps, and how many steps it took. */
export function turnUsage(members) {
  const total = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, cost: 0, steps: members.length };
  for (const m of members) {
    const u = m.item.usage;
    if (!u) continue;
    total.input += u.input;
    total.output += u.output;
    total.cacheRead += u.cacheRead;
    total.cacheWrite += u.cacheWrite;
    total.cost += u.cost;
  }
  return total;
}
