// `@path` completion in a message box: typing `@` and part of a name offers the project's files (a
// name search on the daemon as you type, debounced, the previous one cancelled; `@dir/` lists that
// directory). Arrows move, Enter or Tab takes one, Escape closes. What is sent stays plain text:
// the api attaches every `@path` of a message when it is sent (reliant/api/attachments.py).

import { h } from "./dom.js";

const FILES = "reliant.v1.FileSystemService"; // the panel's WorkspaceApi is not loaded before the panel is

const DEBOUNCE_MS = 120;
const MAX_SHOWN = 12;
let completerCount = 0;

/** The `@token` the caret is in: {start, query} (start: the index of `@`), or null. */
export function mentionAt(text, caret) {
  const before = String(text).slice(0, caret);
  const match = /(^|\s)@([^\s@]*)$/.exec(before);
  if (!match) return null;
  return { start: before.length - match[2].length - 1, query: match[2] };
}

/** `text` with the `@token` at `start` (up to the caret) replaced by `@path ` ; and the new caret. */
export function insertMention(text, start, caret, path) {
  const after = String(text).slice(caret).replace(/^\S*/, "");
  const insert = `@${path}${path.endsWith("/") || /^\s/.test(after) ? "" : " "}`;
  const next = text.slice(0, start) + insert + after;
  return { text: next, caret: start + insert.length };
}

export class PathCompleter {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {{client: object, where: () => ({projectId: string, worktreeId?: string} | null)}} options
   */
  constructor(textarea, { client, where }) {
    this.textarea = textarea;
    this.client = client;
    this.where = where;
    this.items = [];
    this.active = 0;
    this.token = null;
    this.timer = null;
    this.request = null;
    const id = `mention-list-${++completerCount}`;
    this.list = h("ul.mention-list", { id, role: "listbox", "aria-label": "Files to attach", hidden: true });
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    textarea.setAttribute("aria-autocomplete", "list");
    textarea.setAttribute("aria-controls", id);
    textarea.addEventListener("input", () => this.changed());
    textarea.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    textarea.addEventListener("click", () => this.changed());
  }

  get open() {
    return !this.list.hidden;
  }

  /** Keys the list uses while it is open; true when this one was used (the caller does nothing). */
  onKey(event) {
    if (!this.open || event.isComposing) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.items.length) % Math.max(1, this.items.length);
      this.render();
      return true;
    }
    if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && this.items.length) {
      event.preventDefault();
      this.take(this.items[this.active]);
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
      return true;
    }
    return false;
  }

  changed() {
    const mention = mentionAt(this.textarea.value, this.textarea.selectionStart);
    clearTimeout(this.timer);
    if (!mention || !this.where()) {
      this.close();
      return;
    }
    this.token = mention;
    this.timer = setTimeout(() => this.search(mention), DEBOUNCE_MS);
  }

  async search(mention) {
    if (this.request) this.request.abort(); // only the latest question matters
    const request = new AbortController();
    this.request = request;
    const where = this.where();
    const query = mention.query;
    let paths;
    try {
      if (!query || query.endsWith("/")) {
        const dir = query.replace(/\/$/, "") || ".";
        const listed = await this.client.unary(FILES, "ListDirectory", { ...where, path: dir }, { signal: request.signal });
        const isDir = (e) => e.type === "dir" || (e.type === "symlink" && e.targetType === "dir");
        paths = (listed.entries || []).map((e) => (isDir(e) ? `${e.path}/` : e.path));
      } else {
        const ask = { ...where, query, content: false, maxResults: MAX_SHOWN * 2 };
        const found = await this.client.unary(FILES, "SearchFiles", ask, { signal: request.signal });
        paths = (found.matches || []).map((m) => m.path);
      }
    } catch {
      if (this.request === request) this.close(); // cancelled, or the daemon is away: no list
      return;
    }
    if (this.request !== request) return;
    this.request = null;
    this.items = [...new Set(paths)].slice(0, MAX_SHOWN);
    this.active = 0;
    if (!this.items.length) {
      this.close();
      return;
    }
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.items.map((path, i) =>
        h(
          "li.mention-option",
          { role: "option", id: `${this.list.id}-${i}`, "aria-selected": String(i === this.active), onclick: () => this.take(path) },
          `@${path}`,
        ),
      ),
    );
    this.list.hidden = false;
    this.textarea.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
  }

  close() {
    clearTimeout(this.timer);
    if (this.request) this.request.abort();
    this.request = null;
    this.list.hidden = true;
    this.textarea.removeAttribute("aria-activedescendant");
  }

  take(path) {
    const caret = this.textarea.selectionStart;
    const mention = mentionAt(this.textarea.value, caret) || this.token;
    if (!mention) return;
    const next = insertMention(this.textarea.value, mention.start, caret, path);
    this.textarea.value = next.text;
    this.textarea.setSelectionRange(next.caret, next.caret);
    this.textarea.dispatchEvent(new Event("input", { bubbles: true }));
    if (!path.endsWith("/")) this.close();
  }
}
