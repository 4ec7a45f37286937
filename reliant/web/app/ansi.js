// Terminal output with ANSI colour codes (SGR) -> spans with classes; other escapes are dropped.

const SGR = /\x1b\[([0-9;]*)m/g;
const OTHER_ESCAPES = /\x1b(?:\[[0-9;?]*[A-Za-ln-z]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Z0-9]|[=>78])/g;

function classesOf(state) {
  const out = [];
  if (state.bold) out.push("ansi-bold");
  if (state.dim) out.push("ansi-dim");
  if (state.italic) out.push("ansi-italic");
  if (state.underline) out.push("ansi-underline");
  if (state.fg) out.push(`ansi-fg-${state.fg}`);
  if (state.bg) out.push(`ansi-bg-${state.bg}`);
  return out.join(" ");
}

function applyCodes(state, codes) {
  const list = codes === "" ? [0] : codes.split(";").map((c) => Number(c) || 0);
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === 0) Object.assign(state, { bold: false, dim: false, italic: false, underline: false, fg: "", bg: "" });
    else if (c === 1) state.bold = true;
    else if (c === 2) state.dim = true;
    else if (c === 3) state.italic = true;
    else if (c === 4) state.underline = true;
    else if (c === 22) state.bold = state.dim = false;
    else if (c === 23) state.italic = false;
    else if (c === 24) state.underline = false;
    else if (c >= 30 && c <= 37) state.fg = String(c - 30);
    else if (c >= 90 && c <= 97) state.fg = String(c - 90 + 8);
    else if (c === 39) state.fg = "";
    else if (c >= 40 && c <= 47) state.bg = String(c - 40);
    else if (c >= 100 && c <= 107) state.bg = String(c - 100 + 8);
    else if (c === 49) state.bg = "";
    else if (c === 38 || c === 48) i += list[i + 1] === 5 ? 2 : list[i + 1] === 2 ? 4 : 0; // 256/true colour: skipped
  }
}

/** A DocumentFragment of text and spans for `text` (which may hold ANSI escapes). */
export function ansiToFragment(text) {
  const fragment = document.createDocumentFragment();
  const clean = text.replace(OTHER_ESCAPES, "").replace(/\r(?!\n)/g, "\n");
  if (!clean.includes("\x1b[")) {
    fragment.append(clean);
    return fragment;
  }
  const state = { bold: false, dim: false, italic: false, underline: false, fg: "", bg: "" };
  let last = 0;
  for (const match of clean.matchAll(SGR)) {
    const chunk = clean.slice(last, match.index);
    if (chunk) push(fragment, chunk, classesOf(state));
    applyCodes(state, match[1]);
    last = match.index + match[0].length;
  }
  const rest = clean.slice(last);
  if (rest) push(fragment, rest, classesOf(state));
  return fragment;
}

function push(fragment, text, cls) {
  if (!cls) {
    fragment.append(text);
    return;
  }
  const span = document.createElement("span");
  span.className = cls;
  span.textContent = text;
  fragment.append(span);
}
