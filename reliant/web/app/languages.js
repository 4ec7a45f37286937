// The highlight.js language of a file name (the editor's, the tool cards' and the diffs' choice).

function basename(path) {
  const trimmed = String(path || "").replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
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
