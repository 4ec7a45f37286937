// Bytes on the wire: protobuf `bytes` fields are base64 in Connect's JSON, and terminal input goes
// out in pieces the api accepts (at most 64 KiB each).

export const MAX_INPUT_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** base64 (standard or URL-safe, padded or not) -> Uint8Array. */
export function fromBase64(text) {
  if (!text) return new Uint8Array(0);
  const clean = String(text).replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(clean + "===".slice((clean.length + 3) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Uint8Array -> standard base64. */
export function toBase64(bytes) {
  let binary = "";
  const step = 0x8000; // String.fromCharCode takes a bounded number of arguments
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

export function utf8(text) {
  return encoder.encode(text);
}

/** A string from bytes 0-255 (xterm's onBinary: mouse reports in X10 mode) -> those bytes. */
export function latin1(text) {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Splits bytes into pieces of at most `max` (a UTF-8 sequence may straddle two: the PTY reads bytes). */
export function pieces(bytes, max = MAX_INPUT_BYTES) {
  const out = [];
  for (let i = 0; i < bytes.length; i += max) out.push(bytes.subarray(i, Math.min(bytes.length, i + max)));
  return out;
}

export function concatBytes(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A size for people: 0 B, 980 B, 12.3 KB, 4.0 MB. */
export function size(n) {
  const value = Number(n) || 0;
  if (value < 1000) return `${value} B`;
  if (value < 1_000_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)} KB`;
  if (value < 1_000_000_000) return `${(value / 1_000_000).toFixed(1)} MB`;
  return `${(value / 1_000_000_000).toFixed(1)} GB`;
}
