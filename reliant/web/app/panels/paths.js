// Workspace-relative paths as the FileSystemService speaks them ("." is the root, "/" separates),
// and the highlight.js language of a file name.

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

const BY_NAME = {
  makefile: "makefile",
  gnumakefile: "makefile",
  dockerfile: "dockerfile",
  "cmakelists.txt": "cmake",
  ".gitignore": "bash",
  ".bashrc": "bash",
  ".zshrc": "bash",
  ".env": "bash",
};

const BY_EXTENSION = {
  py: "python",
  pyi: "python",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  ts: "typescript",
  tsx: "typescript",
  json: "json",
  md: "markdown",
  markdown: "markdown",
  yml: "yaml",
  yaml: "yaml",
  toml: "ini",
  ini: "ini",
  cfg: "ini",
  sh: "bash",
  bash: "bash",
  zsh: "bash",
  rs: "rust",
  go: "go",
  c: "c",
  h: "c",
  cc: "cpp",
  cpp: "cpp",
  hpp: "cpp",
  java: "java",
  kt: "kotlin",
  rb: "ruby",
  php: "php",
  cs: "csharp",
  swift: "swift",
  sql: "sql",
  html: "xml",
  htm: "xml",
  xml: "xml",
  svg: "xml",
  css: "css",
  scss: "scss",
  less: "less",
  lua: "lua",
  pl: "perl",
  r: "r",
  diff: "diff",
  patch: "diff",
};

/** The highlight.js language for a file name, or "" (shown plain). */
export function languageOf(path) {
  const name = basename(path).toLowerCase();
  if (BY_NAME[name]) return BY_NAME[name];
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "";
  return BY_EXTENSION[name.slice(dot + 1)] || "";
}
