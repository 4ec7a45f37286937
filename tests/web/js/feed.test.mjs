// The chat feed's reconnect logic against a scripted api: every connection starts from a fresh
// snapshot, breaks are retried with backoff, and fatal answers stop it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectError } from "../../../reliant/web/app/connect.js";
import { ChatFeed, backoffDelay } from "../../../reliant/web/app/feed.js";
import { ChatModel } from "../../../reliant/web/app/transcript.js";

function fakeApi(connections) {
  const calls = { listMessages: 0, getChat: 0, streams: [] };
  const api = {
    calls,
    async listMessages() {
      calls.listMessages += 1;
      return { messages: [], resumeSeq: String(10 * calls.listMessages) };
    },
    async getChat() {
      calls.getChat += 1;
      return { id: "c", status: "idle", lastSeq: "999" };
    },
    streamUpdates(chatId, since, { signal }) {
      calls.streams.push(Number(since));
      const script = connections.shift();
      return (async function* () {
        for (const step of script || []) {
          if (step instanceof Error) throw step;
          if (step === "hang") {
            await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ConnectError("canceled", "aborted"))));
          }
          yield step;
        }
      })();
    },
  };
  return api;
}

/** A feed whose states are recorded from the first; `reached` resolves when `until(state)`. */
function start(api, until, handlers = {}) {
  const states = [];
  let resolve;
  const reached = new Promise((r) => (resolve = r));
  const feed = new ChatFeed(api, "c", {
    onSnapshot: handlers.onSnapshot || (() => {}),
    onUpdates: handlers.onUpdates || (() => {}),
    onState: (state) => {
      states.push(state);
      if (until(state)) resolve();
    },
  });
  return { feed, states, reached };
}

test("a broken stream reconnects from a fresh snapshot and delivers every update once", async () => {
  const api = fakeApi([
    [{ kind: "stream_ready", seq: "0" }, { kind: "chat_updated", seq: "11" }, new ConnectError("unavailable", "server went away")],
    [{ kind: "stream_ready", seq: "0" }, { kind: "chat_updated", seq: "21" }, { kind: "keepalive", seq: "0" }, "hang"],
  ]);
  const snapshots = [];
  const updates = [];
  let lives = 0;
  const { feed, states, reached } = start(api, (state) => state === "live" && ++lives === 2, {
    onSnapshot: (s, chat) => snapshots.push([s.resumeSeq, chat.status]),
    onUpdates: (u) => updates.push(...u.map((x) => x.seq)),
  });
  await reached;
  await new Promise((r) => setTimeout(r, 40)); // the frame flush after the second connection's update
  feed.close();
  await feed.done;
  assert.deepEqual(snapshots, [["10", "idle"], ["20", "idle"]]);
  assert.deepEqual(api.calls.streams, [10, 20]);
  assert.deepEqual(updates, ["11", "21"]);
  assert.deepEqual(states, ["connecting", "live", "reconnecting", "reconnecting", "live", "closed"]);
});

test("unauthenticated and missing chats stop the feed instead of retrying", async () => {
  for (const [code, state] of [["unauthenticated", "unauthorized"], ["not_found", "gone"]]) {
    const api = fakeApi([[new ConnectError(code, "no")]]);
    const { feed, states, reached } = start(api, (s) => s === state);
    await reached;
    await feed.done;
    assert.deepEqual(states, ["connecting", state]);
    assert.equal(api.calls.streams.length, 1, code);
    feed.close();
  }
});

test("backoff grows to a ceiling, with jitter", () => {
  const first = backoffDelay(0);
  assert.ok(first >= 187 && first <= 313, String(first));
  const late = backoffDelay(50);
  assert.ok(late >= 6000 && late <= 10000, String(late));
});

test("a tab hidden for a while parks its stream and resumes from a fresh snapshot when shown", async () => {
  const page = new EventTarget();
  page.hidden = false;
  const show = (hidden) => {
    page.hidden = hidden;
    page.dispatchEvent(new Event("visibilitychange"));
  };
  const api = fakeApi([
    [{ kind: "stream_ready", seq: "0" }, "hang"],
    [{ kind: "stream_ready", seq: "0" }, "hang"],
  ]);
  const states = [];
  const waiters = [];
  const when = (state) => new Promise((resolve) => waiters.push([state, resolve]));
  const feed = new ChatFeed(
    api,
    "c",
    {
      onSnapshot: () => {},
      onUpdates: () => {},
      onState: (state) => {
        states.push(state);
        for (const [want, resolve] of waiters) if (want === state) resolve();
      },
    },
    { parkAfterMs: 20, visibility: page },
  );
  await when("live");
  show(true);
  show(false); // shown again before the delay: nothing happens
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(states, ["connecting", "live"]);

  const parked = when("parked");
  show(true);
  await parked;
  assert.equal(api.calls.streams.length, 1, "no reconnect while hidden");
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(api.calls.streams.length, 1, "still none");

  const live = when("live");
  show(false);
  await live;
  assert.deepEqual(api.calls.streams, [10, 20]);
  assert.deepEqual(states, ["connecting", "live", "parked", "connecting", "live"]);
  feed.close();
  await feed.done;
});

test("a reconnect in the middle of an answer replays it from its start and shows every word once", async () => {
  const live = (kind, payload) => ({ kind, seq: "0", payload });
  const started = live("message_started", { message_id: "m", turn: 1, attempt: 1 });
  const block = live("block_started", { message_id: "m", index: 0, type: "text" });
  const delta = (offset, text) => live("block_delta", { message_id: "m", index: 0, type: "text", offset, text });
  const user = { id: "u1", ordinal: 1, role: "user", blocks: [{ type: "text", text: "hi" }], usage: {}, createdUnix: 1 };
  const connections = [
    [{ kind: "stream_ready", seq: "0" }, started, block, delta(0, "Grüße "), delta(6, "aus "), new ConnectError("unavailable", "cut")],
    // The answer again from its start (the live tail), one delta twice, then on: each word once.
    [{ kind: "stream_ready", seq: "0" }, started, block, delta(0, "Grüße "), delta(6, "aus "), delta(6, "aus "), delta(10, "🌍!"), "hang"],
  ];
  const calls = { streams: [] };
  const api = {
    async listMessages() {
      return { messages: [user], resumeSeq: "2" };
    },
    async getChat() {
      return { id: "c", status: "running", lastSeq: "2" };
    },
    streamUpdates(chatId, since, { signal }) {
      calls.streams.push(Number(since));
      const script = connections.shift();
      return (async function* () {
        for (const step of script || []) {
          if (step instanceof Error) throw step;
          if (step === "hang") await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ConnectError("canceled", "aborted"))));
          yield step;
        }
      })();
    },
  };
  const model = new ChatModel("c");
  let lives = 0;
  const { feed, reached } = start(api, (state) => state === "live" && ++lives === 2, {
    onSnapshot: (snapshot, chat) => {
      model.load(snapshot);
      model.setChat(chat);
    },
    onUpdates: (updates) => updates.forEach((u) => model.apply(u)),
  });
  await reached;
  await new Promise((r) => setTimeout(r, 40)); // the frame flush after the replay
  feed.close();
  await feed.done;
  assert.deepEqual(calls.streams, [2, 2]);
  const rows = model.rows().map((r) => `${r.kind}:${r.item.blocks.map((b) => b.text).join("|")}`);
  assert.deepEqual(rows, ["message:hi", "live:Grüße aus 🌍!"]);
});
