// A lazy file tree (an ARIA tree): a directory is listed when it is first expanded, one level at a
// time. Keyboard: Up/Down move, Right expands or enters, Left collapses or goes to the parent,
// Enter opens, Home/End, F2 renames, Delete deletes. One item is in the tab order at a time.

import { h } from "../dom.js";
import { size } from "./bytes.js";
import { parent } from "./paths.js";

const IMAGE = /\.(png|jpe?g|gif|webp|bmp|ico|svg)$/i;
const FIRST_ROWS = 400;
const MORE_ROWS = 1200;

function rowPrototype(dir) {
  const li = h(
    "li.ft-item",
    { role: "treeitem", tabindex: "-1", "aria-selected": "false", "aria-expanded": dir ? "false" : null, dataset: { type: dir ? "dir" : "file" } },
    h("div.ft-row", null, h("span.ft-icon", { "aria-hidden": "true" }), h("span.ft-name")),
  );
  return li;
}

const DIR_ROW = typeof document === "undefined" ? null : rowPrototype(true);
const FILE_ROW = typeof document === "undefined" ? null : rowPrototype(false);

function isDir(entry) {
  return entry.type === "dir" || (entry.type === "symlink" && entry.targetType === "dir");
}

export class FileTree {
  /**
   * @param {{list: (path: string) => Promise<{entries: object[], truncated?: boolean}>,
   *          onOpen: (entry) => void, onSelect?: (entry) => void, onRename?: (entry) => void,
   *          onDelete?: (entry) => void}} handlers
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.nodes = new Map(); // path -> {entry, li, row, group, loaded}
    this.expanded = new Set(); // directory paths the user opened
    this.selectedPath = "";
    this.el = h("ul.ft", { role: "tree", "aria-label": "Files", onkeydown: (e) => this.onKey(e), onclick: (e) => this.onClick(e) });
    this.generation = 0;
  }

  /** Lists the root again (a new workspace, or show ignored toggled): expanded folders stay open. */
  async load() {
    const generation = ++this.generation;
    const root = { entry: { path: ".", name: "", type: "dir" }, li: null, group: this.el, loaded: false };
    this.nodes = new Map([[".", root]]);
    this.el.replaceChildren(h("li.ft-note", { role: "none" }, "Loading…"));
    this.el.setAttribute("aria-busy", "true"); // no items yet: being filled
    try {
      await this.fill(root, generation);
    } finally {
      if (generation === this.generation) this.el.removeAttribute("aria-busy");
    }
  }

  entry(path) {
    const node = this.nodes.get(path);
    return node ? node.entry : null;
  }

  selected() {
    return this.selectedPath ? this.entry(this.selectedPath) : null;
  }

  /** The directory new things go in: the selected directory, or the selected file's. */
  targetDir() {
    const entry = this.selected();
    if (!entry) return ".";
    return isDir(entry) ? entry.path : parent(entry.path);
  }

  async fill(node, generation = this.generation) {
    let listing;
    try {
      listing = await this.handlers.list(node.entry.path);
    } catch (err) {
      if (generation !== this.generation) return;
      node.group.replaceChildren(h("li.ft-note.error", { role: "none" }, `Could not list ${node.entry.path === "." ? "the folder" : node.entry.path}: ${err.message}`));
      return;
    }
    if (generation !== this.generation) return;
    const level = node.li ? Number(node.li.getAttribute("aria-level")) + 1 : 1;
    const entries = listing.entries || [];
    const reopen = [];
    // Forget what was listed here before (a reload), then add what is there now.
    for (const path of [...this.nodes.keys()]) {
      if (path !== node.entry.path && parent(path) === node.entry.path) this.forget(path);
    }
    const rows = (from, to) => {
      const fragment = document.createDocumentFragment();
      for (let i = from; i < to; i++) {
        const child = this.item(entries[i], level);
        fragment.append(child.li);
        if (child.dir && this.expanded.has(child.entry.path)) reopen.push(child);
      }
      return fragment;
    };
    const notes = [];
    if (!entries.length) notes.push(h("li.ft-note", { role: "none" }, "Empty"));
    if (listing.truncated) notes.push(h("li.ft-note", { role: "none" }, "More entries are not shown (the daemon lists 5,000 at most)."));
    node.group.style.setProperty("--depth", String(level - 1));
    // A big folder shows its first rows at once and the rest over the next frames.
    const token = {};
    node.rendering = token;
    node.group.replaceChildren(rows(0, Math.min(FIRST_ROWS, entries.length)), ...notes);
    node.loaded = true;
    if (!this.selectedPath || !this.nodes.has(this.selectedPath)) this.setActive(this.firstItem(), false);
    else this.setActive(this.nodes.get(this.selectedPath).li, false);
    for (let at = FIRST_ROWS; at < entries.length; at += MORE_ROWS) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      if (node.rendering !== token || generation !== this.generation) return;
      const more = rows(at, Math.min(at + MORE_ROWS, entries.length));
      if (notes.length) node.group.insertBefore(more, notes[0]);
      else node.group.append(more);
    }
    await Promise.all(reopen.map((child) => this.expand(child.entry.path, { generation })));
  }

  forget(path) {
    for (const key of [...this.nodes.keys()]) {
      if (key === path || key.startsWith(`${path}/`)) this.nodes.delete(key);
    }
  }

  /** One row: cloned from a prototype (thousands are made at once); icons are CSS (data-kind). */
  item(entry, level) {
    const dir = isDir(entry);
    const kind = entry.type === "symlink" ? "link" : dir ? "folder" : IMAGE.test(entry.name) ? "image" : "file";
    const li = (dir ? DIR_ROW : FILE_ROW).cloneNode(true);
    const row = li.firstChild;
    row.lastChild.textContent = entry.name;
    const meta = entry.type === "symlink" ? `link to ${entry.targetType || "nothing"}` : dir ? "" : size(entry.size);
    row.title = `${entry.path}${meta ? ` · ${meta}` : ""}${entry.ignored ? " · ignored by .gitignore" : ""}`;
    li.setAttribute("aria-level", String(level));
    li.dataset.path = entry.path;
    li.dataset.kind = kind;
    if (entry.ignored) li.classList.add("ft-ignored");
    const node = { entry, li, row, dir, group: null, loaded: false };
    this.nodes.set(entry.path, node);
    return node;
  }

  async expand(path, { generation = this.generation } = {}) {
    const node = this.nodes.get(path);
    if (!node || !node.li || !isDir(node.entry)) return;
    this.expanded.add(path);
    node.li.setAttribute("aria-expanded", "true");
    if (!node.group) node.group = h("ul.ft-group", { role: "group" });
    if (!node.group.isConnected) node.li.append(node.group);
    if (!node.loaded) {
      node.group.replaceChildren(h("li.ft-note", { role: "none" }, "Loading…"));
      await this.fill(node, generation);
    }
  }

  collapse(path) {
    const node = this.nodes.get(path);
    if (!node || !node.li) return;
    this.expanded.delete(path);
    node.li.setAttribute("aria-expanded", "false");
    if (node.group) node.group.remove();
  }

  toggle(path) {
    const node = this.nodes.get(path);
    if (!node) return Promise.resolve();
    if (node.li.getAttribute("aria-expanded") === "true") {
      this.collapse(path);
      return Promise.resolve();
    }
    return this.expand(path);
  }

  /** Lists one directory again (after a change in it); its open subfolders stay open. */
  async reload(path) {
    const node = this.nodes.get(path);
    if (!node) return;
    if (path !== "." && !node.loaded) return;
    await this.fill(node);
  }

  /** Opens the folders down to `path` and selects it. */
  async reveal(path, { focus = false } = {}) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      const node = this.nodes.get(dir);
      if (!node) return;
      if (node.li.getAttribute("aria-expanded") !== "true") await this.expand(dir);
      else if (!node.loaded) await this.fill(node);
    }
    const node = this.nodes.get(path);
    if (node && node.li) {
      this.select(path, { focus });
      node.li.scrollIntoView({ block: "nearest" });
    }
  }

  visibleItems() {
    return [...this.el.querySelectorAll("li[role=treeitem]")];
  }

  firstItem() {
    return this.el.querySelector("li[role=treeitem]");
  }

  setActive(li, focus) {
    for (const other of this.el.querySelectorAll('li[role=treeitem][tabindex="0"]')) {
      if (other !== li) other.tabIndex = -1;
    }
    if (!li) return;
    li.tabIndex = 0;
    if (focus) li.focus();
  }

  select(path, { focus = true } = {}) {
    const node = this.nodes.get(path);
    if (!node || !node.li) return;
    const old = this.selectedPath && this.nodes.get(this.selectedPath);
    if (old && old.li) old.li.setAttribute("aria-selected", "false");
    this.selectedPath = path;
    node.li.setAttribute("aria-selected", "true");
    this.setActive(node.li, focus);
    if (this.handlers.onSelect) this.handlers.onSelect(node.entry);
  }

  activate(path) {
    const node = this.nodes.get(path);
    if (!node) return;
    if (isDir(node.entry)) this.toggle(path);
    else this.handlers.onOpen(node.entry);
  }

  onClick(event) {
    const li = event.target.closest("li[role=treeitem]");
    if (!li || !this.el.contains(li)) return;
    event.stopPropagation();
    const path = li.dataset.path;
    this.select(path, { focus: true });
    this.activate(path);
  }

  onKey(event) {
    const li = event.target.closest("li[role=treeitem]");
    if (!li) return;
    const path = li.dataset.path;
    const node = this.nodes.get(path);
    const items = this.visibleItems();
    const at = items.indexOf(li);
    const go = (target) => {
      if (target) this.select(target.dataset.path, { focus: true });
    };
    const dir = node && node.dir;
    const open = li.getAttribute("aria-expanded") === "true";
    switch (event.key) {
      case "ArrowDown":
        go(items[at + 1]);
        break;
      case "ArrowUp":
        go(items[at - 1]);
        break;
      case "Home":
        go(items[0]);
        break;
      case "End":
        go(items[items.length - 1]);
        break;
      case "ArrowRight":
        if (dir && !open) this.expand(path);
        else if (dir && open) go(node.group && node.group.querySelector("li[role=treeitem]"));
        break;
      case "ArrowLeft":
        if (dir && open) this.collapse(path);
        else if (parent(path) !== ".") this.select(parent(path), { focus: true });
        break;
      case "Enter":
      case " ":
        this.activate(path);
        break;
      case "F2":
        if (this.handlers.onRename) this.handlers.onRename(node.entry);
        break;
      case "Delete":
        if (this.handlers.onDelete) this.handlers.onDelete(node.entry);
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
  }
}
