// The chat feed's reconnect logic against a scripted api: every connection starts from a fresh
// snapshot, breaks are retried with backoff, and fatal answers stop it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectError } from "../../../reliant/web/app/connect.js";
import { ChatFeed, backoffDelay } from "../../../reliant/web/app/feed.js";

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
    [{ kind: "stream_ready", seq: "0" }, { kind: "block_delta", seq: "11" }, new ConnectError("unavailable", "server went away")],
    [{ kind: "stream_ready", seq: "0" }, { kind: "block_delta", seq: "21" }, { kind: "keepalive", seq: "0" }, "hang"],
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
