// How numbers, money, durations and times read in the UI, and text the user must judge exactly.

const INT = new Intl.NumberFormat("en-US");

export function tokens(n) {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(n >= 10_000_000 ? 0 : 1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  return INT.format(n);
}

export function cost(usd) {
  if (!usd) return "$0";
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  if (usd < 1) return `$${usd.toFixed(3)}`;
  return `$${usd.toFixed(2)}`;
}

export function duration(ms) {
  if (ms < 1) return "<1 ms";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function ago(unixSeconds, now = Date.now()) {
  if (!unixSeconds) return "";
  const s = Math.max(0, Math.round(now / 1000 - unixSeconds));
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 7 * 86_400) return `${Math.floor(s / 86_400)} d ago`;
  return new Date(unixSeconds * 1000).toLocaleDateString();
}

export function fullTime(unixSeconds) {
  return unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : "";
}

export function usageLine(u) {
  const parts = [`${tokens(u.input)} in`, `${tokens(u.output)} out`];
  if (u.cacheRead) parts.push(`${tokens(u.cacheRead)} cache read`);
  if (u.cacheWrite) parts.push(`${tokens(u.cacheWrite)} cache write`);
  parts.push(cost(u.cost));
  return parts.join(" · ");
}

// Invisible format characters (Unicode Cf: bidi overrides and isolates, zero-width marks) can make
// a command or a file read in another order than the one that runs or is written.
const INVISIBLE = /\p{Cf}/gu;

/** `text` with each invisible format character named, as ⟨U+202E⟩: shown as it runs. */
export function revealed(text) {
  return String(text).replace(INVISIBLE, (c) => `⟨U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}
