// The Connect client against byte streams cut at every possible place.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectClient, ConnectError, EnvelopeParser, encodeEnvelope } from "../../../reliant/web/app/connect.js";

const enc = new TextEncoder();
const frame = (obj, flags = 0) => encodeEnvelope(flags, enc.encode(JSON.stringify(obj)));

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("the envelope parser handles any chunking", () => {
  const bytes = concat([frame({ seq: "1" }), frame({ seq: "2", text: "é".repeat(300) }), frame({}, 2)]);
  for (const size of [1, 2, 3, 5, 7, 64, bytes.length]) {
    const parser = new EnvelopeParser();
    const found = [];
    for (let i = 0; i < bytes.length; i += size) found.push(...parser.push(bytes.subarray(i, i + size)));
    assert.equal(found.length, 3, `chunk size ${size}`);
    assert.equal(JSON.parse(new TextDecoder().decode(found[1].data)).text.length, 300);
    assert.equal(found[2].flags, 2);
    assert.equal(parser.pending, 0);
  }
});

function streamingFetch(chunks, status = 200, init = {}) {
  return async (url, options) => {
    init.request = { url, options };
    const body = new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        if (!init.keepOpen) controller.close();
      },
    });
    return new Response(body, { status, headers: { "content-type": "application/connect+json" } });
  };
}

test("a server stream yields messages and ends at the end-of-stream envelope", async () => {
  const bytes = concat([frame({ seq: "1", kind: "a" }), frame({ seq: "2", kind: "b" }), frame({}, 2)]);
  const seen = {};
  const client = new ConnectClient("", { fetch: streamingFetch([bytes.subarray(0, 7), bytes.subarray(7)], 200, seen) });
  const got = [];
  for await (const m of client.serverStream("reliant.v1.ChatService", "StreamUpdates", { chatId: "x" })) got.push(m.kind);
  assert.deepEqual(got, ["a", "b"]);
  assert.equal(seen.request.url, "/reliant.v1.ChatService/StreamUpdates");
  assert.equal(seen.request.options.headers["content-type"], "application/connect+json");
  const sent = new EnvelopeParser().push(seen.request.options.body);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(sent[0].data)), { chatId: "x" });
});

test("an error end and a cut connection are ConnectErrors", async () => {
  const failing = new ConnectClient("", { fetch: streamingFetch([frame({ error: { code: "not_found", message: "chat gone" } }, 2)]) });
  await assert.rejects(async () => {
    for await (const _ of failing.serverStream("s", "m", {})) void _;
  }, (err) => err instanceof ConnectError && err.code === "not_found" && err.message === "chat gone");

  const cut = new ConnectClient("", { fetch: streamingFetch([frame({ seq: "1" })]) });
  const got = [];
  await assert.rejects(async () => {
    for await (const m of cut.serverStream("s", "m", {})) got.push(m);
  }, (err) => err.code === "unavailable");
  assert.equal(got.length, 1);
});

test("unary errors carry the Connect code; 401 calls the sign-out hook", async () => {
  let signedOut = 0;
  const client = new ConnectClient("", {
    onUnauthenticated: () => (signedOut += 1),
    fetch: async () => new Response(JSON.stringify({ code: "unauthenticated", message: "missing token" }), { status: 401 }),
  });
  await assert.rejects(client.unary("s", "m", {}), (err) => err.code === "unauthenticated" && err.status === 401);
  assert.equal(signedOut, 1);
  const plain = new ConnectClient("", { fetch: async () => new Response("<html>", { status: 503 }) });
  await assert.rejects(plain.unary("s", "m", {}), (err) => err.code === "unavailable");
});

test("aborting a stream ends it with code canceled", async () => {
  const controller = new AbortController();
  const client = new ConnectClient("", {
    fetch: async (url, options) =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(frame({ seq: "1" }));
            options.signal.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
          },
        }),
      ),
  });
  const got = [];
  await assert.rejects(async () => {
    for await (const m of client.serverStream("s", "m", {}, { signal: controller.signal })) {
      got.push(m);
      controller.abort();
    }
  }, (err) => err.code === "canceled");
  assert.equal(got.length, 1);
});

test("every call carries the token as a Bearer header and never a cookie", async () => {
  const seen = [];
  const fetch = async (url, options) => {
    seen.push(options);
    if (options.headers["content-type"] === "application/json") return new Response("{}", { status: 200 });
    return new Response(frame({}, 2), { status: 200 });
  };
  let token = "tok-1";
  const client = new ConnectClient("", { fetch, token: () => token });
  await client.unary("reliant.v1.ChatService", "ListChats", {});
  token = "tok-2"; // read on each call: a token taken in later is used at once
  for await (const _ of client.serverStream("reliant.v1.ChatService", "StreamUpdates", {})) void _;
  assert.deepEqual(
    seen.map((o) => [o.headers.authorization, o.credentials]),
    [
      ["Bearer tok-1", "omit"],
      ["Bearer tok-2", "omit"],
    ],
  );
  const anonymous = new ConnectClient("", { fetch });
  await anonymous.unary("reliant.v1.ChatService", "ListChats", {});
  assert.equal("authorization" in seen[2].headers, false);
});
