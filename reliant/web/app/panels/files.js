// The Files tab: a lazy tree of the workspace (or of a worktree), search by name or content as you
// type (debounced; a newer search cancels the one in flight), and a
// viewer/editor. Text is highlighted and editable (Ctrl/Cmd+S saves); a save of a file that changed
// on disk since it was read is refused by the daemon, and the user picks: reload theirs or
// overwrite with mine. Images are shown, other binary files are named as such.

import { h } from "../dom.js";
import { size } from "./bytes.js";
import { CodeEditor } from "./editor.js";
import { askText } from "./dialogs.js";
import { icon } from "./icons.js";
import { basename, languageOf, parent, resolveTyped } from "./paths.js";
import { FileTree } from "./tree.js";

function sameWhere(a, b) {
  return a && b && a.projectId === b.projectId && (a.worktreeId || "") === (b.worktreeId || "");
}

function toolButton(name, label, onclick) {
  return h("button.icon.wp-tool", { type: "button", "aria-label": label, title: label, onclick }, icon(name));
}

const SEARCH_DEBOUNCE_MS = 250;

export class FilesTab {
  constructor(panel, section) {
    this.panel = panel;
    this.app = panel.app;
    this.api = panel.api;
    this.where = null;
    this.showIgnored = false;
    this.doc = null; // {where, path, sha, savedText, readOnly, kind}
    this.openToken = 0;
    this.searchToken = 0;
    this.build(section);
    this.onUnload = (event) => {
      if (this.dirty()) {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", this.onUnload);
  }

  build(section) {
    this.tree = new FileTree({
      list: (path) => this.api.listDirectory(this.where, path, this.showIgnored),
      onOpen: (entry) => this.open(entry.path),
      onSelect: () => this.updateTools(),
      onRename: (entry) => this.rename(entry),
      onDelete: (entry) => this.remove(entry),
    });
    this.query = h("input.files-query", {
      type: "search",
      placeholder: "Search files",
      "aria-label": "Search files",
      oninput: () => this.searchSoon(),
      onkeydown: (e) => {
        if (e.key === "Escape" && this.query.value) {
          e.preventDefault();
          this.query.value = "";
          this.showTree();
        }
      },
    });
    this.inContents = h("input", { type: "checkbox", onchange: () => this.query.value.trim() && this.searchSoon(0) });
    this.ignoredBox = h("input", {
      type: "checkbox",
      onchange: () => {
        this.showIgnored = this.ignoredBox.checked;
        this.tree.load();
      },
    });
    this.renameButton = toolButton("pencil", "Rename (F2)", () => this.tree.selected() && this.rename(this.tree.selected()));
    this.deleteButton = toolButton("trash", "Delete (Delete)", () => this.tree.selected() && this.remove(this.tree.selected()));
    const search = h(
      "form.files-search",
      { role: "search", onsubmit: (e) => this.search(e) },
      this.query,
      h("label.wp-check", { title: "Search the files' contents instead of their names" }, this.inContents, " Contents"),
    );
    const tools = h(
      "div.files-tools",
      { role: "toolbar", "aria-label": "File actions" },
      toolButton("plusFile", "New file", () => this.create(false)),
      toolButton("plusFolder", "New folder", () => this.create(true)),
      this.renameButton,
      this.deleteButton,
      toolButton("refresh", "Refresh", () => this.tree.load()),
      h("label.wp-check.files-ignored", { title: "Show files that .gitignore excludes" }, this.ignoredBox, " Ignored"),
    );
    this.results = h("div.files-results", { hidden: true });
    this.browse = h("div.files-browse", null, this.tree.el, this.results);
    this.editor = new CodeEditor({ onInput: () => this.updateStatus() });
    this.pathEl = h("code.files-path");
    this.statusEl = h("span.files-status", { role: "status", "aria-live": "polite" });
    this.saveButton = h("button.small.primary", { type: "button", disabled: true, onclick: () => this.save(), title: "Save (Ctrl+S)", "aria-keyshortcuts": "Control+S Meta+S" }, "Save");
    this.reloadButton = h("button.small", { type: "button", onclick: () => this.reload(), title: "Read the file again from disk" }, "Reload");
    this.closeButton = h("button.icon.small", { type: "button", "aria-label": "Close the file", title: "Close the file", onclick: () => this.closeFile() }, icon("close", 14));
    this.conflict = h("div.files-conflict", { role: "alert", hidden: true });
    this.body = h("div.files-doc-body");
    this.head = h("div.files-doc-head", null, this.pathEl, this.statusEl, h("span.files-doc-actions", null, this.saveButton, this.reloadButton, this.closeButton));
    this.docEl = h("div.files-doc", { hidden: true }, this.head, this.conflict, this.body);
    this.empty = h("p.files-empty", null, "Pick a file to view or edit it.");
    section.append(h("div.files-bar", null, search, tools), this.browse, this.docEl, this.empty);
    section.addEventListener("keydown", (e) => this.onKey(e));
    this.updateTools();
  }

  // -- the tab's life ---------------------------------------------------------------------------

  setContext(context, changed) {
    const where = { ...this.panel.where };
    if (changed.project && this.doc) {
      if (this.dirty()) this.app.notify(`Unsaved changes to ${this.doc.path} were dropped: another project is open now`, "error");
      this.forgetDoc();
    }
    if (sameWhere(where, this.where)) return;
    this.where = where;
    this.showTree();
    this.tree.expanded.clear();
    this.tree.selectedPath = "";
    this.tree.load();
  }

  show({ focus }) {
    if (focus) {
      const active = this.tree.el.querySelector('li[tabindex="0"]');
      (active || this.query).focus();
    }
  }

  hide() {}

  destroy() {
    window.removeEventListener("beforeunload", this.onUnload);
    this.editor.destroy();
  }

  updateTools() {
    const selected = Boolean(this.tree.selected());
    this.renameButton.disabled = !selected;
    this.deleteButton.disabled = !selected;
  }

  // -- search -----------------------------------------------------------------------------------

  /** As you type: the search runs once typing pauses, and a newer one cancels the one in flight. */
  searchSoon(delay = SEARCH_DEBOUNCE_MS) {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.search(null), delay);
  }

  /** `event`: the form's submit (Enter), which also moves the focus to the first result. */
  async search(event) {
    if (event) event.preventDefault();
    clearTimeout(this.searchTimer);
    const query = this.query.value.trim();
    if (!query) {
      this.showTree();
      return;
    }
    if (this.searching) this.searching.abort();
    const searching = new AbortController();
    this.searching = searching;
    const token = ++this.searchToken;
    const content = this.inContents.checked;
    this.tree.el.hidden = true;
    this.results.hidden = false;
    if (!this.results.querySelector(".files-result-list")) this.results.replaceChildren(h("p.wp-loading", null, "Searching…"));
    this.results.setAttribute("aria-busy", "true");
    let found;
    try {
      found = await this.api.searchFiles(this.where, query, { content }, { signal: searching.signal });
    } catch (err) {
      if (token !== this.searchToken) return;
      this.results.removeAttribute("aria-busy");
      this.results.replaceChildren(h("p.error", { role: "alert" }, err.message), this.backButton());
      return;
    }
    if (token !== this.searchToken) return;
    const matches = found.matches || [];
    const what = content ? "lines containing" : "files named like";
    const head = h("p.files-results-head", { role: "status" }, `${matches.length}${found.truncated ? "+" : ""} ${what} “${query}”`);
    const list = h(
      "ul.files-result-list",
      { "aria-label": "Search results" },
      ...matches.map((m) =>
        h(
          "li",
          null,
          h(
            "button.files-result",
            { type: "button", onclick: () => this.open(m.path, { line: m.line || 0 }) },
            h("span.files-result-path", null, m.line ? `${m.path}:${m.line}` : m.path),
            m.text ? h("code.files-result-text", null, m.text.trim()) : null,
          ),
        ),
      ),
    );
    this.results.removeAttribute("aria-busy");
    this.searching = null;
    this.results.replaceChildren(head, this.backButton(), list);
    const first = list.querySelector("button");
    if (first && event) first.focus();
  }

  backButton() {
    return h("button.small.files-back", { type: "button", onclick: () => this.showTree(true) }, "Back to the tree");
  }

  showTree(focus = false) {
    this.searchToken += 1;
    clearTimeout(this.searchTimer);
    if (this.searching) this.searching.abort();
    this.searching = null;
    this.results.hidden = true;
    this.results.replaceChildren();
    this.tree.el.hidden = false;
    if (focus) {
      const active = this.tree.el.querySelector('li[tabindex="0"]');
      if (active) active.focus();
    }
  }

  // -- the open file ----------------------------------------------------------------------------

  dirty() {
    return Boolean(this.doc && this.doc.kind === "text" && !this.doc.readOnly && this.editor.value !== this.doc.savedText);
  }

  async confirmDiscard() {
    if (!this.dirty()) return true;
    return this.app.confirm({
      title: "Discard your changes?",
      text: `${this.doc.path} has changes that are not saved.`,
      ok: "Discard",
    });
  }

  async open(path, { line = 0 } = {}) {
    if (this.doc && this.doc.path === path && sameWhere(this.doc.where, this.where)) {
      if (line) this.editor.goToLine(line);
      else if (this.doc.kind === "text") this.editor.focus();
      return;
    }
    if (!(await this.confirmDiscard())) return;
    const token = ++this.openToken;
    const where = this.where;
    this.showDoc(path);
    this.statusEl.textContent = "Loading…";
    this.body.replaceChildren();
    let file;
    try {
      file = await this.api.readFile(where, path);
    } catch (err) {
      if (token !== this.openToken) return;
      this.doc = null;
      this.statusEl.textContent = "";
      this.body.replaceChildren(h("p.error", { role: "alert" }, `Could not read ${path}: ${err.message}`));
      return;
    }
    if (token !== this.openToken) return;
    this.load(where, path, file);
    if (line && this.doc.kind === "text") this.editor.goToLine(line);
    else if (this.doc.kind === "text") this.editor.focus();
  }

  showDoc(path) {
    this.empty.hidden = true;
    this.docEl.hidden = false;
    this.browse.classList.add("files-browse-split");
    this.pathEl.textContent = path;
    this.pathEl.title = path;
    this.conflict.hidden = true;
  }

  load(where, path, file) {
    const bytes = Number(file.size || 0);
    const mime = file.mime || "";
    this.conflict.hidden = true;
    if (file.binary) {
      this.doc = { where, path, sha: file.sha256, kind: "binary", readOnly: true, savedText: "" };
      if (mime.startsWith("image/") && file.data) {
        const img = h("img.files-image", { src: `data:${mime};base64,${file.data}`, alt: path });
        img.addEventListener("load", () => {
          this.statusEl.textContent = `${img.naturalWidth}×${img.naturalHeight} · ${size(bytes)}`;
        });
        this.body.replaceChildren(h("div.files-image-box", null, img));
        this.statusEl.textContent = size(bytes);
      } else {
        const why = mime.startsWith("image/") ? `An image too large to show here (${size(bytes)}).` : `Binary file (${size(bytes)}): not shown.`;
        this.body.replaceChildren(h("p.files-binary", null, why));
        this.statusEl.textContent = mime || "binary";
      }
      this.updateStatus();
      return;
    }
    const readOnly = Boolean(file.truncated);
    this.doc = { where, path, sha: file.sha256, kind: "text", readOnly, savedText: file.text || "", size: bytes };
    this.editor.setDocument({ text: file.text || "", language: languageOf(path), readOnly, label: `Contents of ${path}` });
    const note = readOnly ? h("p.files-note", null, `Only the first ${size((file.text || "").length)} of ${size(bytes)} are shown, read-only.`) : null;
    this.body.replaceChildren(...[note, this.editor.el].filter(Boolean));
    this.updateStatus();
  }

  updateStatus(message = "") {
    const doc = this.doc;
    if (!doc) return;
    const dirty = this.dirty();
    this.docEl.dataset.dirty = String(dirty);
    this.saveButton.hidden = doc.kind !== "text" || doc.readOnly;
    this.saveButton.disabled = !dirty || this.saving;
    if (doc.kind !== "text") return;
    const text = message || (doc.readOnly ? "Read-only" : dirty ? "Modified" : this.justSaved ? "Saved" : "");
    if (this.statusEl.textContent !== text) this.statusEl.textContent = text;
  }

  /** Ctrl/Cmd+S anywhere in the tab saves the open file (and never opens the browser's "save page"). */
  onKey(event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === "s") {
      event.preventDefault();
      this.save();
    }
  }

  async save({ force = false } = {}) {
    const doc = this.doc;
    if (!doc || doc.kind !== "text" || doc.readOnly || this.saving) return;
    const text = this.editor.value;
    this.saving = true;
    this.justSaved = false;
    this.updateStatus("Saving…");
    try {
      const saved = await this.api.saveFile(doc.where, doc.path, text, doc.sha, force);
      if (this.doc !== doc) return;
      doc.sha = saved.sha256;
      doc.savedText = text;
      this.justSaved = true;
      this.conflict.hidden = true;
      if (saved.created && sameWhere(doc.where, this.where)) this.tree.reload(parent(doc.path));
    } catch (err) {
      if (this.doc !== doc) return;
      if (err.code === "failed_precondition") this.showConflict(doc, err.message);
      else this.app.notify(`Not saved: ${err.message}`, "error");
    } finally {
      this.saving = false;
      if (this.doc === doc) this.updateStatus();
    }
  }

  showConflict(doc, message) {
    const deleted = /was deleted/.test(message);
    const text = deleted
      ? `${doc.path} was deleted on disk since you opened it.`
      : `${doc.path} changed on disk since you opened it. Your changes are not saved yet.`;
    this.conflict.replaceChildren(
      h("p", null, h("strong", null, "Conflict: "), text),
      h(
        "div.files-conflict-actions",
        null,
        h("button.small", { type: "button", onclick: () => this.reload({ discard: true }) }, deleted ? "Close it" : "Reload theirs"),
        h("button.small.danger", { type: "button", onclick: () => this.save({ force: true }) }, deleted ? "Save mine again" : "Overwrite with mine"),
      ),
    );
    this.conflict.hidden = false;
    this.updateStatus("Conflict");
    this.conflict.querySelector("button").focus();
  }

  /** Reads the open file again (asks first when there are unsaved changes, unless `discard`). */
  async reload({ discard = false } = {}) {
    const doc = this.doc;
    if (!doc) return;
    if (!discard && !(await this.confirmDiscard())) return;
    const token = ++this.openToken;
    let file;
    try {
      file = await this.api.readFile(doc.where, doc.path);
    } catch (err) {
      if (token !== this.openToken) return;
      if (err.code === "invalid_argument" && /not found|no such|does not exist/i.test(err.message)) {
        this.forgetDoc();
        this.app.notify(`${doc.path} no longer exists`);
      } else {
        this.app.notify(`Could not read ${doc.path}: ${err.message}`, "error");
      }
      return;
    }
    if (token !== this.openToken) return;
    this.justSaved = false;
    this.load(doc.where, doc.path, file);
    if (this.doc.kind === "text") this.editor.focus();
  }

  async closeFile() {
    if (!(await this.confirmDiscard())) return;
    this.forgetDoc();
    const active = this.tree.el.querySelector('li[tabindex="0"]');
    if (active) active.focus();
  }

  forgetDoc() {
    this.openToken += 1;
    this.doc = null;
    this.justSaved = false;
    this.docEl.hidden = true;
    this.empty.hidden = false;
    this.browse.classList.remove("files-browse-split");
    this.body.replaceChildren();
  }

  // -- create, rename, delete ---------------------------------------------------------------------

  async create(directory) {
    const dir = this.tree.targetDir();
    const typed = await askText({
      title: directory ? "New folder" : "New file",
      label: dir === "." ? "Name (in the workspace's top folder)" : `Name (in ${dir}/)`,
      ok: "Create",
      hint: "A path with / creates the folders on the way.",
    });
    const path = resolveTyped(dir, typed);
    if (!path) return;
    try {
      const made = await this.api.createPath(this.where, path, directory);
      await this.refreshAround(made.path);
      await this.tree.reveal(made.path, { focus: true });
      if (!directory) await this.open(made.path);
    } catch (err) {
      this.app.notify(`Could not create ${path}: ${err.message}`, "error");
    }
  }

  async rename(entry) {
    const name = basename(entry.path);
    const dot = name.lastIndexOf(".");
    const start = entry.path.length - name.length;
    const typed = await askText({
      title: `Rename ${name}`,
      label: "New path",
      value: entry.path,
      ok: "Rename",
      select: [start, dot > 0 ? start + dot : entry.path.length],
    });
    const to = resolveTyped(".", typed);
    if (!to || to === entry.path) return;
    try {
      const moved = await this.api.renamePath(this.where, entry.path, to);
      await this.tree.reload(parent(entry.path));
      if (parent(moved.to) !== parent(entry.path)) await this.refreshAround(moved.to);
      await this.tree.reveal(moved.to, { focus: true });
      const doc = this.doc;
      if (doc && sameWhere(doc.where, this.where) && (doc.path === entry.path || doc.path.startsWith(`${entry.path}/`))) {
        doc.path = moved.to + doc.path.slice(entry.path.length);
        this.pathEl.textContent = doc.path;
        this.pathEl.title = doc.path;
      }
    } catch (err) {
      this.app.notify(`Could not rename ${entry.path}: ${err.message}`, "error");
    }
  }

  /** Lists again the closest folder of `path` the tree shows (new folders on the way included). */
  async refreshAround(path) {
    let dir = parent(path);
    while (dir !== "." && !this.tree.nodes.has(dir)) dir = parent(dir);
    await this.tree.reload(dir);
  }

  async remove(entry) {
    const dir = entry.type === "dir";
    const ok = await this.app.confirm({
      title: `Delete ${basename(entry.path)}?`,
      text: dir ? `The folder ${entry.path} and everything in it will be deleted from disk.` : `${entry.path} will be deleted from disk.`,
      ok: "Delete",
    });
    if (!ok) return;
    try {
      await this.api.deletePath(this.where, entry.path, dir);
      const doc = this.doc;
      if (doc && sameWhere(doc.where, this.where) && (doc.path === entry.path || doc.path.startsWith(`${entry.path}/`))) this.forgetDoc();
      await this.tree.reload(parent(entry.path));
      const active = this.tree.el.querySelector('li[tabindex="0"]');
      if (active) this.tree.select(active.dataset.path, { focus: true });
    } catch (err) {
      this.app.notify(`Could not delete ${entry.path}: ${err.message}`, "error");
    }
  }
}
