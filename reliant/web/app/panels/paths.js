// Workspace-relative paths as the FileSystemService speaks them ("." is the root, "/" separates),
// and the highlight.js language of a file name (languages.js, shared with the tool cards).

export function join(dir, name) {
  const base = !dir || dir === "." ? "" : dir.replace(/\/+$/, "");
  const rest = String(name).replace(/^\/+/, "");
  return base ? `${base}/${rest}` : rest || ".";
}

export function parent(path) {
  if (!path || path === ".") return ".";
  const at = path.replace(/\/+$/, "").lastIndexOf("/");
  return at <= 0 ? "." : path.slice(0, at);
}

export function basename(path) {
  if (!path || path === ".") return "";
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** Every ancestor directory of `path`, outermost first, without the root: a/b/c -> [a, a/b]. */
export function ancestors(path) {
  const out = [];
  let dir = parent(path);
  while (dir !== ".") {
    out.unshift(dir);
    dir = parent(dir);
  }
  return out;
}

/** What a user typed for a new path, relative to `dir`, cleaned; "" when it names nothing. */
export function resolveTyped(dir, typed) {
  const text = String(typed || "").trim();
  if (!text) return "";
  const joined = text.startsWith("/") ? text.slice(1) : join(dir, text);
  const parts = [];
  for (const part of joined.split("/")) {
    if (!part || part === ".") continue;
    parts.push(part); // ".." is left in: the daemon refuses what leaves the workspace, and says so
  }
  return parts.join("/");
}

export { languageOf } from "../languages.js";
