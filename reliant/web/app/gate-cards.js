// The cards of approvals and questions, shown under the tool call they gate. A card lives as long as
// the chat view: rows are rebuilt as the transcript changes, but the card (with what the user typed
// into it) is only moved, and it redraws itself only when its gate's state changes.
//
// An approval card: the tool, its full input (a diff for edit, the content for write, the command
// for shell), Approve / Deny with an optional message for the agent / Always allow in this chat, in
// this project, or (shell) for commands starting with an editable prefix. Keys y, n and a act on the
// card that has the focus, else on the oldest pending one (the chat view routes them).
// A question card: the agent's 1-4 questions, choices as radio buttons plus free text.

import { h } from "./dom.js";
import { revealed } from "./format.js";
import { commandPrefix, outcome } from "./gates.js";
import { setCode } from "./markdown.js";
import { diffView, proposedDiff, registerToolView } from "./tools.js";
import { drawNodeApproval } from "./views/workflow-approval.js";

const MAX_SHOWN_CHARS = 200_000;

function kbd(key) {
  return h("kbd", { "aria-hidden": "true" }, key);
}

function shown(text) {
  const s = String(text);
  return revealed(s.length <= MAX_SHOWN_CHARS ? s : `${s.slice(0, MAX_SHOWN_CHARS)}\n… ${s.length - MAX_SHOWN_CHARS} more characters`);
}

function extras(input, skip) {
  const parts = [];
  for (const [key, value] of Object.entries(input || {})) {
    if (skip.includes(key)) continue;
    parts.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  return parts.length ? h("div.gate-extras", null, revealed(parts.join(" · "))) : null;
}

/** The full input of a gated call, the way the user can judge it. */
export function inputView(toolName, input) {
  const value = input || {};
  if (toolName === "shell" && typeof value.command === "string") {
    const term = h("pre.terminal.gate-command", { "aria-label": "command" }, h("span.prompt", null, "$ "), h("span.command", null, shown(value.command)));
    return h("div.gate-input", null, term, extras(value, ["command"]));
  }
  if (toolName === "edit" && "old_string" in value) {
    return h(
      "div.gate-input",
      null,
      diffView(proposedDiff(value)),
      value.replace_all ? h("div.gate-extras", null, "replaces every occurrence") : null,
      extras(value, ["path", "old_string", "new_string", "replace_all"]),
    );
  }
  if (toolName === "write" && "content" in value) {
    const code = h("code.hljs");
    setCode(code, shown(value.content), String(value.path || "").split(".").pop());
    return h("div.gate-input", null, h("div.gate-path", null, "write ", h("code", null, revealed(value.path || ""))), h("pre.code", null, code), extras(value, ["path", "content"]));
  }
  return h("div.gate-input", null, h("pre.output", null, shown(JSON.stringify(value, null, 2))));
}

/** Which sub-agent waits (the answer goes to it alone); nothing for the chat's own agent. */
function agentLine(gate) {
  const agent = gate.agent;
  if (!agent) return null;
  return h("p.gate-agent", { title: agent.task }, "from agent ", h("strong", null, agent.name || agent.id.slice(0, 8)), agent.task ? ` — ${agent.task.length > 100 ? `${agent.task.slice(0, 99)}…` : agent.task}` : "");
}

export class GateCard {
  /**
   * @param {object} gate  from the transcript model (gates.js shape)
   * @param {{approve: Function, deny: Function, answer: Function, settled?: Function}} actions
   *   approve(gate, scope, prefix), deny(gate, message), answer(gate, answers): promises that reject
   *   with the server's error; settled(card) when a card that had the focus is answered.
   */
  constructor(gate, actions) {
    this.gate = gate;
    this.actions = actions;
    this.drawn = "";
    this.busy = false;
    this.sent = false;
    this.el = h(`section.gate.gate-${gate.kind}`, {
      tabindex: "-1",
      role: "group",
      "aria-label": gate.approval === "node" ? "Question from the workflow" : gate.kind === "approval" ? `Approval: ${gate.toolName}` : "Question from the agent",
      dataset: { toolCallId: gate.toolCallId, kind: gate.kind },
    });
    this.errorEl = h("p.gate-error", { role: "alert" });
  }

  get pending() {
    return this.gate.status === "pending";
  }

  /** Redraws when the gate's state changed; `tool` is its call's state (for settled gates). */
  update(gate, tool) {
    this.gate = gate;
    if (gate.status === "pending") {
      this.el.dataset.status = "pending";
      if (this.drawn !== "pending") {
        this.drawn = "pending";
        if (gate.approval === "node") drawNodeApproval(this);
        else if (gate.kind === "approval") this.drawApproval();
        else this.drawQuestion();
      }
      return;
    }
    const result = outcome(gate, tool);
    const key = `${result.status}|${result.detail}|${gate.answers.join("\u0000")}`;
    this.el.dataset.status = result.status;
    if (this.drawn === key) return;
    const hadFocus = this.el.contains(document.activeElement);
    this.drawn = key;
    this.drawOutcome(result);
    if (hadFocus) {
      this.el.focus({ preventScroll: true });
      if (this.actions.settled) this.actions.settled(this);
    }
  }

  // -- approvals -------------------------------------------------------------------------------

  drawApproval() {
    const gate = this.gate;
    const name = gate.toolName || "tool";
    this.message = h("input.gate-message", {
      type: "text",
      maxlength: "20000",
      "aria-label": "Why not: a note the agent reads with the denial (optional)",
      placeholder: "Why not? The agent reads this (optional)",
      onkeydown: (e) => {
        if (e.key === "Enter" && !e.isComposing) {
          e.preventDefault();
          this.deny();
        }
      },
    });
    this.buttons = [];
    const button = (cls, label, attrs, onclick, ...extra) => {
      const b = h(`button.${cls}`, { type: "button", ...attrs, onclick }, label, ...extra);
      this.buttons.push(b);
      return b;
    };
    const approve = button("primary.gate-approve", "Approve", { "aria-keyshortcuts": "y", title: "Run it (y)" }, () => this.approve(""), " ", kbd("y"));
    const deny = button("danger.gate-deny", "Deny", { "aria-keyshortcuts": "n", title: "Do not run it; the agent is told, with your message (n)" }, () => this.deny(), " ", kbd("n"));
    const always = [
      button("secondary.small.gate-always-chat", "in this chat", { "aria-label": `Always allow ${name} in this chat`, "aria-keyshortcuts": "a", title: `Run it, and ${name} from now on in this chat (a)` }, () => this.approve("chat"), " ", kbd("a")),
      button("secondary.small.gate-always-project", "in this project", { "aria-label": `Always allow ${name} in this project`, title: `Run it, and ${name} from now on in every chat of this project` }, () => this.approve("project")),
    ];
    if (name === "shell") {
      this.prefix = h("input.gate-prefix", {
        type: "text",
        value: commandPrefix(gate.input.command),
        "aria-label": "Command prefix to always allow",
        spellcheck: "false",
        onkeydown: (e) => {
          if (e.key === "Enter" && !e.isComposing) {
            e.preventDefault();
            this.approvePrefix();
          }
        },
      });
      always.push(
        h(
          "span.gate-prefix-group",
          null,
          h("label.gate-prefix-label", null, "commands starting with ", this.prefix),
          button("secondary.small.gate-always-prefix", "Allow", { "aria-label": "Always allow shell commands starting with this prefix", title: "Run it, and every shell command in this project that starts with the prefix" }, () => this.approvePrefix()),
        ),
      );
    }
    this.statusEl = h("span.gate-sent", { role: "status" });
    this.el.replaceChildren(
      h(
        "header.gate-head",
        null,
        h("strong.gate-title", null, "Approve ", h("code", null, name), "?"),
        h("span.gate-keys", { title: "Keys act on this card when it has the focus or is the oldest waiting one, not while you type" }, kbd("y"), " approve · ", kbd("n"), " deny · ", kbd("a"), " always in this chat"),
      ),
      agentLine(gate),
      inputView(name, gate.input),
      h("div.gate-actions", null, approve, deny, this.message, this.statusEl),
      h("div.gate-always", null, h("span.gate-always-label", null, "Always allow ", h("code", null, name), ":"), ...always),
      this.errorEl,
    );
  }

  approve(scope) {
    return this.send(scope ? "Could not allow" : "Could not approve", () => this.actions.approve(this.gate, scope, ""));
  }

  approvePrefix() {
    const prefix = (this.prefix && this.prefix.value.trim()) || "";
    if (!prefix) {
      this.showError("Give the start of the commands to allow.");
      this.prefix.focus();
      return Promise.resolve(false);
    }
    this.gate.prefix = prefix;
    return this.send("Could not allow", () => this.actions.approve(this.gate, "prefix", prefix));
  }

  deny() {
    const message = this.message ? this.message.value.trim() : "";
    return this.send("Could not deny", () => this.actions.deny(this.gate, message));
  }

  /** A key pressed for this card (y, n, a); true when it was used. */
  shortcut(key) {
    if (this.gate.kind !== "approval" || this.gate.approval === "node" || !this.pending || this.busy || this.sent) return false;
    if (key === "y") this.approve("");
    else if (key === "n") this.deny();
    else if (key === "a") this.approve("chat");
    else return false;
    return true;
  }

  // -- questions -------------------------------------------------------------------------------

  drawQuestion() {
    const gate = this.gate;
    this.fields = [];
    this.buttons = [];
    const groups = gate.questions.map((q, i) => {
      const legend = h("legend", null, gate.questions.length > 1 ? `${i + 1}. ${q.question}` : q.question);
      if (q.choices.length) {
        const name = `q-${gate.toolCallId}-${i}`;
        const radios = q.choices.map((choice) => h("input", { type: "radio", name, value: choice }));
        const otherRadio = h("input", { type: "radio", name, value: "", "aria-label": "Other answer" });
        const otherText = h("input.gate-other-text", {
          type: "text",
          "aria-label": `Other answer to question ${i + 1}`,
          placeholder: "Other…",
          oninput: () => {
            otherRadio.checked = true;
          },
          onfocus: () => {
            otherRadio.checked = true;
          },
        });
        this.fields.push({ kind: "choice", radios, otherRadio, otherText, focus: () => (radios[0] || otherText).focus() });
        return h(
          "fieldset.gate-q",
          null,
          legend,
          ...q.choices.map((choice, j) => h("label.gate-choice", null, radios[j], h("span", null, choice))),
          h("label.gate-choice.gate-other", null, otherRadio, otherText),
        );
      }
      const text = h("textarea.gate-answer", {
        rows: "2",
        "aria-label": q.question,
        placeholder: "Your answer",
        onkeydown: (e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            this.form.requestSubmit();
          }
        },
      });
      this.fields.push({ kind: "text", text, focus: () => text.focus() });
      return h("fieldset.gate-q", null, legend, text);
    });
    const submit = h("button.primary.gate-submit", { type: "submit" }, gate.questions.length > 1 ? "Send answers" : "Send answer");
    this.buttons.push(submit);
    this.statusEl = h("span.gate-sent", { role: "status" });
    this.form = h(
      "form.gate-form",
      {
        "aria-label": "Answer the agent",
        onsubmit: (e) => {
          e.preventDefault();
          this.submitAnswers();
        },
      },
      ...groups,
      h("div.gate-actions", null, submit, h("span.hint", null, "Ctrl+Enter sends from a text box"), this.statusEl),
    );
    this.el.replaceChildren(h("header.gate-head", null, h("strong.gate-title", null, "The agent asks you")), agentLine(gate), this.form, this.errorEl);
  }

  /** The answers as given, or {missing: index} for the first question left open. */
  collect() {
    const answers = [];
    for (let i = 0; i < this.fields.length; i++) {
      const f = this.fields[i];
      let answer = "";
      if (f.kind === "text") answer = f.text.value.trim();
      else {
        const picked = f.radios.find((r) => r.checked);
        answer = picked ? picked.value : f.otherRadio.checked ? f.otherText.value.trim() : "";
      }
      if (!answer) return { missing: i };
      answers.push(answer);
    }
    return { answers };
  }

  submitAnswers() {
    const got = this.collect();
    if (got.missing !== undefined) {
      this.showError(this.fields.length > 1 ? `Answer question ${got.missing + 1} too.` : "Give an answer first.");
      this.fields[got.missing].focus();
      return Promise.resolve(false);
    }
    return this.send("Could not answer", () => this.actions.answer(this.gate, got.answers));
  }

  // -- both ------------------------------------------------------------------------------------

  async send(failure, call) {
    if (this.busy || this.sent || !this.pending) return false;
    this.setBusy(true);
    this.showError("");
    try {
      await call();
      this.sent = true;
      if (this.pending && this.statusEl) this.statusEl.textContent = "Sent…";
      return true;
    } catch (err) {
      this.showError(`${failure}: ${err.message || err}`);
      return false;
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    this.busy = busy;
    if (busy) this.el.setAttribute("aria-busy", "true");
    else this.el.removeAttribute("aria-busy");
    for (const b of this.buttons || []) b.disabled = busy || this.sent;
  }

  showError(text) {
    this.errorEl.textContent = text;
  }

  drawOutcome(result) {
    const gate = this.gate;
    const title =
      gate.approval === "node"
        ? h("span.gate-title", null, gate.question, " ")
        : gate.kind === "approval"
          ? h("span.gate-title", null, h("code", null, gate.toolName || "tool"), " ")
          : h("span.gate-title", null, "Question ");
    const parts = [h(`span.gate-outcome.outcome-${result.status}`, null, result.label), result.detail ? h("span.gate-detail", null, ` — ${result.detail}`) : null];
    const answered =
      gate.kind === "question" && gate.answers.length
        ? h(
            "dl.gate-answers",
            null,
            gate.questions.length
              ? gate.questions.flatMap((q, i) => [h("dt", null, q.question), h("dd", null, gate.answers[i] ?? "")])
              : gate.answers.map((a) => h("dd", null, a)),
          )
        : null;
    this.buttons = [];
    this.el.replaceChildren(...[h("div.gate-done", null, title, ...parts), answered, this.errorEl].filter(Boolean));
  }
}

// ask_user's own tool card: the first question as its summary, the questions and answers inside.
registerToolView("ask_user", {
  summary: (input) => {
    const qs = (input && input.questions) || [];
    return qs.length ? `${qs[0].question || ""}${qs.length > 1 ? ` (+${qs.length - 1} more)` : ""}` : "";
  },
  body(tool) {
    const qs = ((tool.input && tool.input.questions) || []).map((q) => String(q.question || ""));
    const answers = (tool.data && tool.data.answers) || [];
    if (!answers.length) return h("div.tool-output", null, h("pre.output", null, tool.resultText || tool.error || qs.join("\n") || "waiting for the answers"));
    return h("div.tool-output", null, h("dl.gate-answers", null, qs.flatMap((q, i) => [h("dt", null, q), h("dd", null, answers[i] ?? "")])));
  },
});
