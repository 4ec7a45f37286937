// The Connect protocol over fetch, with JSON: unary calls and server streams.
//
// Unary: POST /<service>/<method>, content-type application/json, the message as JSON; an error
// is a non-200 answer whose body is {code, message}.
// Server streaming: POST with content-type application/connect+json and the request in one
// envelope; the answer is a sequence of envelopes (1 flag byte, 4 bytes big-endian length, data).
// Flag 0x02 marks the end-of-stream envelope, {error?: {code, message}, metadata?}.
//
// Auth: every request carries the api token as a Bearer header (options.token, read on each call;
// see session.js). No cookie is ever sent: fetch runs with credentials "omit".

const END_STREAM = 0x02;
const COMPRESSED = 0x01;

// What an HTTP status means when the body says nothing better (Connect protocol spec).
const CODE_OF_STATUS = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "unimplemented",
  408: "deadline_exceeded",
  409: "aborted",
  412: "failed_precondition",
  413: "resource_exhausted",
  415: "internal",
  429: "unavailable",
  431: "resource_exhausted",
  502: "unavailable",
  503: "unavailable",
  504: "unavailable",
};

export class ConnectError extends Error {
  constructor(code, message, status = 0) {
    super(message || code);
    this.name = "ConnectError";
    this.code = code;
    this.status = status;
  }
}

export function encodeEnvelope(flags, bytes) {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length, false);
  out.set(bytes, 5);
  return out;
}

/** Splits a byte stream into envelopes, whatever the chunk boundaries. */
export class EnvelopeParser {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  /** Feeds one chunk; returns the envelopes it completed, as {flags, data}. */
  push(chunk) {
    let buf = this.buffer.length ? concat(this.buffer, chunk) : chunk;
    const found = [];
    let offset = 0;
    while (buf.length - offset >= 5) {
      const view = new DataView(buf.buffer, buf.byteOffset + offset, 5);
      const flags = view.getUint8(0);
      const length = view.getUint32(1, false);
      if (buf.length - offset - 5 < length) break;
      found.push({ flags, data: buf.subarray(offset + 5, offset + 5 + length) });
      offset += 5 + length;
    }
    this.buffer = offset === buf.length ? new Uint8Array(0) : buf.slice(offset);
    return found;
  }

  get pending() {
    return this.buffer.length;
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function errorOf(response) {
  let code = CODE_OF_STATUS[response.status] || "unknown";
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && typeof body.code === "string") code = body.code;
    if (body && typeof body.message === "string") message = body.message;
    else if (body && typeof body.detail === "string") message = body.detail;
  } catch {
    // not JSON: keep what the status says
  }
  return new ConnectError(code, message, response.status);
}

function aborted(err, signal) {
  return (signal && signal.aborted) || (err && err.name === "AbortError");
}

export class ConnectClient {
  /**
   * @param {string} baseUrl  "" for this origin
   * @param {{onUnauthenticated?: (err: ConnectError) => void, fetch?: typeof fetch, token?: () => string}} options
   */
  constructor(baseUrl = "", options = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.onUnauthenticated = options.onUnauthenticated || null;
    this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
    this.token = options.token || (() => "");
  }

  url(service, method) {
    return `${this.baseUrl}/${service}/${method}`;
  }

  headers(contentType) {
    const headers = { "content-type": contentType, "connect-protocol-version": "1" };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }

  _fail(err) {
    if (err.code === "unauthenticated" && this.onUnauthenticated) this.onUnauthenticated(err);
    return err;
  }

  /** One request, one response. Rejects with a ConnectError. */
  async unary(service, method, request = {}, { signal, timeoutMs } = {}) {
    const headers = this.headers("application/json");
    if (timeoutMs) headers["connect-timeout-ms"] = String(timeoutMs);
    let response;
    try {
      response = await this.fetch(this.url(service, method), {
        method: "POST",
        headers,
        body: JSON.stringify(request),
        signal,
        credentials: "omit",
      });
    } catch (err) {
      if (aborted(err, signal)) throw new ConnectError("canceled", "the call was cancelled");
      throw new ConnectError("unavailable", `cannot reach reliant: ${err.message || err}`);
    }
    if (!response.ok) throw this._fail(await errorOf(response));
    try {
      return await response.json();
    } catch (err) {
      if (aborted(err, signal)) throw new ConnectError("canceled", "the call was cancelled");
      throw new ConnectError("internal", `bad response from ${method}: ${err.message || err}`);
    }
  }

  /**
   * A server stream, as an async iterator of messages. Ends when the server ends the stream;
   * throws a ConnectError on an error end, a broken connection or an abort ("canceled").
   */
  async *serverStream(service, method, request = {}, { signal } = {}) {
    const body = encodeEnvelope(0, new TextEncoder().encode(JSON.stringify(request)));
    let response;
    try {
      response = await this.fetch(this.url(service, method), {
        method: "POST",
        headers: this.headers("application/connect+json"),
        body,
        signal,
        credentials: "omit",
        cache: "no-store",
      });
    } catch (err) {
      if (aborted(err, signal)) throw new ConnectError("canceled", "the stream was cancelled");
      throw new ConnectError("unavailable", `cannot reach reliant: ${err.message || err}`);
    }
    if (!response.ok) throw this._fail(await errorOf(response));
    const reader = response.body.getReader();
    const parser = new EnvelopeParser();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (aborted(err, signal)) throw new ConnectError("canceled", "the stream was cancelled");
          throw new ConnectError("unavailable", `the stream broke: ${err.message || err}`);
        }
        if (chunk.done) break;
        for (const envelope of parser.push(chunk.value)) {
          if (envelope.flags & COMPRESSED) throw new ConnectError("internal", "compressed messages are not supported");
          const text = decoder.decode(envelope.data);
          if (envelope.flags & END_STREAM) {
            const end = text ? JSON.parse(text) : {};
            if (end.error) throw this._fail(new ConnectError(end.error.code || "unknown", end.error.message || ""));
            return;
          }
          yield JSON.parse(text);
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    throw new ConnectError("unavailable", "the stream ended without its end-of-stream message");
  }
}
