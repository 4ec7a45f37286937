// Markdown to a sanitized DOM fragment: marked (GFM) -> DOMPurify; fenced code is highlighted with
// highlight.js, which is loaded on first need so that it never delays opening a chat.

import { Marked } from "../vendor/marked/marked.esm.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";

const MAX_HIGHLIGHT_CHARS = 60_000; // past this a code block is shown plain: highlighting stalls
// Marks the code blocks this renderer made (their text escaped, nothing hidden in them). The text
// can also hold a <pre class="code"> of its own, with hidden parts; not knowing this page's value,
// it cannot pass for one.
const BLOCK = Array.from(crypto.getRandomValues(new Uint32Array(2)), (n) => n.toString(36)).join("");

let hljs = null;
let loading = null;
const waiting = new Set(); // <code> elements to highlight once highlight.js is here

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function languageOf(lang) {
  return (lang || "").trim().split(/\s+/)[0].toLowerCase();
}

function loadHighlighter() {
  if (!loading) {
    loading = import("../vendor/highlight/highlight.min.js").then(
      (module) => {
        hljs = module.default;
        for (const el of waiting) if (el.isConnected) paint(el);
        waiting.clear();
      },
      () => {
        waiting.clear(); // offline or blocked: code stays plain
      },
    );
  }
  return loading;
}

function paint(el) {
  const language = el.dataset.highlight;
  delete el.dataset.highlight;
  const text = el.textContent;
  if (!hljs.getLanguage(language) || text.length > MAX_HIGHLIGHT_CHARS) return;
  try {
    el.innerHTML = hljs.highlight(text, { language, ignoreIllegals: true }).value; // escaped by hljs
  } catch {
    // keep it plain
  }
}

/** Highlighted HTML when highlight.js is loaded and knows the language; otherwise null. */
export function highlightNow(code, lang) {
  const language = languageOf(lang);
  if (!hljs || !language || code.length > MAX_HIGHLIGHT_CHARS || !hljs.getLanguage(language)) return null;
  try {
    return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  } catch {
    return null;
  }
}

/** Puts `code` into the element as text, highlighted now or as soon as highlight.js has loaded. */
export function setCode(el, code, lang) {
  const html = highlightNow(code, lang);
  if (html !== null) {
    el.innerHTML = html;
    return;
  }
  el.textContent = code;
  const language = languageOf(lang);
  if (language && !hljs && code.length <= MAX_HIGHLIGHT_CHARS) {
    el.dataset.highlight = language;
    waiting.add(el);
    loadHighlighter();
  }
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = languageOf(lang);
      const html = highlightNow(text, language);
      const label = language ? ` data-lang="${escapeHtml(language)}"` : "";
      const cls = `hljs${language ? ` language-${escapeHtml(language)}` : ""}`;
      const pending = html === null && language && !hljs ? ` data-highlight="${escapeHtml(language)}"` : "";
      return `<pre class="code" data-block="${BLOCK}"${label}><code class="${cls}"${pending}>${html ?? escapeHtml(text)}</code></pre>\n`;
    },
  },
});

// Every link opens in a tab of its own: an image map's <area> and an SVG <a> (tagName "a", maybe
// an xlink:href) as well.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if ((node.localName === "a" || node.localName === "area") && (node.getAttribute("href") || node.getAttribute("xlink:href"))) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

// The model's own markup gets none of this page's classes (`sr-only` would clip text out of sight,
// yet a selection copies it) and no colours of its own (text the colour of the page): what a
// reader copies by hand is what they see. Only the code blocks this renderer made keep their class.
DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
  if (data.attrName === "class" && !ours(node)) data.keepAttr = false;
});

function ours(node) {
  const pre = node.localName === "code" ? node.parentNode : node;
  return pre?.localName === "pre" && pre.getAttribute("data-block") === BLOCK;
}

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "font"],
  FORBID_ATTR: ["style", "color", "bgcolor"],
};

/** The code blocks of rendered markdown that came from the text's fences (not from its markup). */
export function codeBlocks(root) {
  return root.querySelectorAll(`pre.code[data-block="${BLOCK}"]`);
}

/** Markdown text -> a DocumentFragment safe to insert. */
export function renderMarkdown(text) {
  let html;
  try {
    html = marked.parse(text || "");
  } catch {
    html = `<p>${escapeHtml(text || "")}</p>`;
  }
  const fragment = DOMPurify.sanitize(html, PURIFY);
  const pending = fragment.querySelectorAll("code[data-highlight]");
  if (pending.length) {
    for (const el of pending) waiting.add(el);
    loadHighlighter();
  }
  return fragment;
}
