// The card of a workflow's approval node: its question, one button per choice, and a note the
// workflow reads with the answer (e.g. what to change in a plan). Drawn into a GateCard (gate-cards.js),
// which keeps its life cycle: busy while sending, the outcome once the stream says it was answered.

import { h } from "../dom.js";

/** Draws the pending node approval of `card` (a GateCard whose gate has approval "node"). */
export function drawNodeApproval(card) {
  const gate = card.gate;
  card.buttons = [];
  card.note = h("input.gate-message.gate-note", {
    type: "text",
    maxlength: "20000",
    "aria-label": "A note for the workflow (optional)",
    placeholder: "A note for the workflow (optional)",
  });
  const choices = gate.choices.map((choice, i) => {
    const button = h(
      `button.${i === 0 ? "primary" : "secondary"}.gate-choose`,
      { type: "button", dataset: { choice }, onclick: () => choose(card, choice) },
      choice,
    );
    card.buttons.push(button);
    return button;
  });
  card.statusEl = h("span.gate-sent", { role: "status" });
  const where = gate.node ? h("span.gate-node", { title: "the workflow's node that asks" }, gate.node) : null;
  card.el.replaceChildren(
    h("header.gate-head", null, h("strong.gate-title", null, "The workflow asks"), where),
    h("p.gate-question", null, gate.question),
    h("div.gate-actions.gate-choices", { role: "group", "aria-label": "Choices" }, ...choices),
    h("div.gate-note-row", null, card.note, card.statusEl),
    card.errorEl,
  );
}

function choose(card, choice) {
  const note = card.note ? card.note.value.trim() : "";
  card.gate.choice = choice;
  card.gate.message = note;
  return card.send("Could not answer", () => card.actions.choose(card.gate, choice, note));
}
