// A unified diff (git's, several files) cut into one piece per file, with its added and removed
// line counts, so each file can be shown on its own like an edit tool card's diff.

function fileName(header, lines) {
  for (const line of lines) {
    if (line.startsWith("+++ ") && !line.startsWith("+++ /dev/null")) return line.slice(4).replace(/^b\//, "");
  }
  for (const line of lines) {
    if (line.startsWith("--- ") && !line.startsWith("--- /dev/null")) return line.slice(4).replace(/^a\//, "");
  }
  const match = /^diff --git a\/(.+?) b\/(.+)$/.exec(header || "");
  if (match) return match[2];
  const rename = lines.find((l) => l.startsWith("rename to "));
  return rename ? rename.slice(10) : "";
}

/** [{path, status: added|deleted|modified|renamed|binary, added, removed, text}] in diff order. */
export function splitDiff(text) {
  const files = [];
  if (!text) return files;
  let current = null;
  const finish = () => {
    if (!current) return;
    const lines = current.lines;
    let added = 0;
    let removed = 0;
    let inHunk = false;
    for (const line of lines) {
      if (line.startsWith("@@")) inHunk = true;
      else if (inHunk && line.startsWith("+")) added += 1;
      else if (inHunk && line.startsWith("-")) removed += 1;
    }
    let status = "modified";
    if (lines.some((l) => l.startsWith("new file mode") || l === "--- /dev/null")) status = "added";
    else if (lines.some((l) => l.startsWith("deleted file mode") || l === "+++ /dev/null")) status = "deleted";
    else if (lines.some((l) => l.startsWith("rename from "))) status = "renamed";
    if (lines.some((l) => l.startsWith("Binary files ") || l === "GIT binary patch")) status = status === "modified" ? "binary" : status;
    files.push({ path: fileName(current.header, lines), status, added, removed, text: lines.join("\n") });
    current = null;
  };
  for (const line of text.replace(/\n$/, "").split("\n")) {
    if (line.startsWith("diff --git ") || (!current && (line.startsWith("--- ") || line.startsWith("diff ")))) {
      finish();
      current = { header: line, lines: [line] };
    } else if (current) {
      current.lines.push(line);
    } else {
      current = { header: "", lines: [line] };
    }
  }
  finish();
  return files;
}

/** The lines worth showing of one file's diff: its ---/+++ names and hunks (git's headers dropped). */
export function hunksOf(fileText) {
  const lines = fileText.split("\n");
  const first = lines.findIndex((l) => l.startsWith("--- ") || l.startsWith("@@"));
  return first < 0 ? "" : lines.slice(first).join("\n");
}
