// A small code editor: a <textarea> over a highlighted copy of its text (highlight.js, loaded on
// first need), with line numbers. Tab indents (Escape first to move focus on instead), Enter keeps
// the line's indentation, and the browser's own undo works. Past HIGHLIGHT_LIMIT characters the
// text is shown plain: highlighting a big file on every keystroke would lag.

import { h } from "../dom.js";
import { setCode } from "../markdown.js";
import { indentOf } from "./indent.js";

export const HIGHLIGHT_LIMIT = 40_000;

function insertText(textarea, text) {
  // execCommand keeps the browser's undo history; setRangeText is the fallback.
  if (document.execCommand && document.execCommand("insertText", false, text)) return;
  const { selectionStart, selectionEnd } = textarea;
  textarea.setRangeText(text, selectionStart, selectionEnd, "end");
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

export class CodeEditor {
  constructor({ onInput } = {}) {
    this.onInput = onInput || (() => {});
    this.language = "";
    this.lines = 0;
    this.frame = 0;
    this.escaped = false;
    this.indent = "    ";
    this.gutter = h("pre.ed-gutter", { "aria-hidden": "true" });
    this.code = h("code.hljs");
    this.highlight = h("pre.ed-highlight", { "aria-hidden": "true" }, this.code);
    this.textarea = h("textarea.ed-input", {
      spellcheck: "false",
      autocapitalize: "off",
      autocomplete: "off",
      wrap: "off",
      "aria-multiline": "true",
      oninput: () => this.changed(),
      onscroll: () => this.syncScroll(),
      onkeydown: (e) => this.onKey(e),
    });
    this.el = h("div.ed", null, this.gutter, h("div.ed-main", null, this.highlight, this.textarea));
  }

  /** Shows `text` (replacing the undo history). */
  setDocument({ text, language = "", readOnly = false, label = "File contents" }) {
    this.language = language;
    this.indent = indentOf(text);
    this.textarea.value = text;
    this.textarea.readOnly = readOnly;
    this.textarea.setAttribute("aria-label", label);
    this.el.classList.toggle("ed-plain", text.length > HIGHLIGHT_LIMIT);
    this.textarea.scrollTop = 0;
    this.textarea.scrollLeft = 0;
    this.render();
  }

  get value() {
    return this.textarea.value;
  }

  focus() {
    this.textarea.focus({ preventScroll: true });
  }

  changed() {
    if (this.el.classList.contains("ed-plain") !== this.textarea.value.length > HIGHLIGHT_LIMIT) {
      this.el.classList.toggle("ed-plain", this.textarea.value.length > HIGHLIGHT_LIMIT);
    }
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
    this.onInput();
  }

  render() {
    const text = this.textarea.value;
    const count = text.split("\n").length;
    if (count !== this.lines) {
      this.lines = count;
      let numbers = "";
      for (let i = 1; i <= count; i++) numbers += `${i}\n`;
      this.gutter.textContent = numbers;
    }
    if (text.length > HIGHLIGHT_LIMIT) {
      this.code.textContent = "";
    } else if (this.language) {
      setCode(this.code, `${text}\n`, this.language); // the extra line keeps the last one's height
    } else {
      this.code.textContent = `${text}\n`;
    }
    this.syncScroll();
  }

  syncScroll() {
    this.highlight.scrollTop = this.textarea.scrollTop;
    this.highlight.scrollLeft = this.textarea.scrollLeft;
    this.gutter.scrollTop = this.textarea.scrollTop;
  }

  /** Selects line `n` (1-based) and scrolls it into view. */
  goToLine(n) {
    const lines = this.textarea.value.split("\n");
    const line = Math.min(Math.max(1, n), lines.length);
    let start = 0;
    for (let i = 0; i < line - 1; i++) start += lines[i].length + 1;
    this.textarea.focus({ preventScroll: true });
    this.textarea.setSelectionRange(start, start + lines[line - 1].length);
    const height = parseFloat(getComputedStyle(this.textarea).lineHeight) || 18;
    this.textarea.scrollTop = Math.max(0, (line - 1) * height - this.textarea.clientHeight / 3);
    this.syncScroll();
  }

  onKey(event) {
    if (this.textarea.readOnly) return;
    if (event.key === "Escape") {
      this.escaped = true;
      return;
    }
    const escaped = this.escaped;
    this.escaped = false;
    if (event.key === "Tab" && !escaped && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const { selectionStart, selectionEnd, value } = this.textarea;
      if (event.shiftKey) {
        // Outdent the current line.
        const lineStart = value.lastIndexOf("\n", selectionStart - 1) + 1;
        const lead = /^(\t| {1,4})/.exec(value.slice(lineStart));
        if (lead) {
          event.preventDefault();
          this.textarea.setSelectionRange(lineStart, lineStart + lead[1].length);
          insertText(this.textarea, "");
          const shift = lead[1].length;
          this.textarea.setSelectionRange(Math.max(lineStart, selectionStart - shift), Math.max(lineStart, selectionEnd - shift));
        }
        return;
      }
      event.preventDefault();
      insertText(this.textarea, this.indent);
      return;
    }
    if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey && !event.isComposing) {
      const { selectionStart, value } = this.textarea;
      const lineStart = value.lastIndexOf("\n", selectionStart - 1) + 1;
      const lead = /^[ \t]*/.exec(value.slice(lineStart, selectionStart))[0];
      if (lead) {
        event.preventDefault();
        insertText(this.textarea, `\n${lead}`);
      }
    }
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
