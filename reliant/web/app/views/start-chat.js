// The project page's message box: the first message starts a chat in one step (no empty chat is
// ever left behind: if the message cannot be sent, the chat made for it is deleted again). With the
// mode and model it will run with, and @path completion like the chat's own composer.

import { h } from "../dom.js";
import { ModelField, modelProblem, showRefusal } from "../model-field.js";
import { PathCompleter } from "../path-complete.js";
import { ModeSwitch } from "./mode-switch.js";

export class StartChat {
  constructor(app, project) {
    this.app = app;
    this.project = project;
    this.mode = "auto";
    this.textarea = h("textarea.start-text", {
      rows: "3",
      "aria-label": "First message of a new chat",
      placeholder: "What should the agent do? @ attaches a file · Enter starts the chat, Shift+Enter adds a line",
      onkeydown: (e) => this.onKey(e),
    });
    this.mentions = new PathCompleter(this.textarea, { client: app.client, where: () => ({ projectId: project.id }) });
    this.modes = new ModeSwitch((mode) => {
      this.mode = mode;
      this.modes.show(mode);
    });
    this.model = new ModelField({ app, label: "Model of the new chat" });
    this.error = h("p.form-error", { role: "alert" });
    this.submit = h("button.primary.start-send", { type: "submit" }, "Start chat");
    this.el = h(
      "form.start-chat",
      { "aria-label": "Start a chat", onsubmit: (e) => this.start(e) },
      h("h2", null, "Start a chat"),
      this.mentions.list,
      this.textarea,
      h("div.start-tools", null, this.modes.el, h("span.model-label", null, h("span.model-caption", { "aria-hidden": "true" }, "Model"), this.model.el), this.submit),
      this.error,
    );
    app
      .getModelChoices()
      .then((choices) => {
        if (!this.model.value) this.model.value = choices.defaultModel || "";
      })
      .catch(() => {});
  }

  focus() {
    this.textarea.focus();
  }

  onKey(event) {
    if (this.mentions.onKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      this.el.requestSubmit();
    }
  }

  async start(event) {
    event.preventDefault();
    const text = this.textarea.value;
    if (!text.trim()) {
      this.error.textContent = "Write the first message: it starts the chat.";
      this.textarea.focus();
      return;
    }
    const model = this.model.value;
    if (modelProblem(model)) {
      this.error.textContent = modelProblem(model);
      this.model.input.focus();
      return;
    }
    this.error.textContent = "";
    this.submit.disabled = true;
    let chat = null;
    try {
      chat = await this.app.api.createChat(this.project.id, model);
      if (this.mode !== "auto") await this.app.api.setMode(chat.id, this.mode);
      await this.app.api.sendMessage(chat.id, text);
    } catch (err) {
      if (chat) await this.app.api.deleteChat(chat.id).catch(() => {}); // never an empty chat left behind
      showRefusal(this.error, `Not started: ${err.message}`);
      this.submit.disabled = false;
      return;
    }
    this.textarea.value = "";
    await this.app.navigate(`/chats/${chat.id}`);
  }
}
