// Markdown to a sanitized DOM fragment: marked (GFM) -> highlight.js for fenced code -> DOMPurify.

import { Marked } from "../vendor/marked/marked.esm.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";
import hljs from "../vendor/highlight/highlight.min.js";

const MAX_HIGHLIGHT_CHARS = 60_000; // past this a code block is shown plain: highlighting stalls

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function highlight(code, lang) {
  const language = (lang || "").trim().split(/\s+/)[0].toLowerCase();
  if (language && code.length <= MAX_HIGHLIGHT_CHARS && hljs.getLanguage(language)) {
    try {
      return { html: hljs.highlight(code, { language, ignoreIllegals: true }).value, language };
    } catch {
      // fall through to plain text
    }
  }
  return { html: escapeHtml(code), language: language && hljs.getLanguage(language) ? language : "" };
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const { html, language } = highlight(text, lang);
      const label = language ? ` data-lang="${escapeHtml(language)}"` : "";
      return `<pre class="code"${label}><code class="hljs${language ? ` language-${escapeHtml(language)}` : ""}">${html}</code></pre>\n`;
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
  FORBID_ATTR: ["style"],
};

/** Markdown text -> a DocumentFragment safe to insert. */
export function renderMarkdown(text) {
  let html;
  try {
    html = marked.parse(text || "");
  } catch {
    html = `<p>${escapeHtml(text || "")}</p>`;
  }
  return DOMPurify.sanitize(html, PURIFY);
}
