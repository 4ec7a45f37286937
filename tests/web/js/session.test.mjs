// Where the UI keeps the token: taken from the URL into sessionStorage, shared with new tabs.
import assert from "node:assert/strict";
import { test } from "node:test";

import { askOtherTabs, forgetToken, sessionToken, shareToken, takeToken } from "../../../reliant/web/app/session.js";

function fakeWindow(href) {
  const storage = new Map();
  const win = {
    location: { href },
    replaced: [],
    history: { state: null, replaceState: (_state, _title, url) => win.replaced.push(url) },
    sessionStorage: {
      getItem: (k) => (storage.has(k) ? storage.get(k) : null),
      setItem: (k, v) => storage.set(k, String(v)),
      removeItem: (k) => storage.delete(k),
    },
    BroadcastChannel: globalThis.BroadcastChannel,
    storage,
  };
  return win;
}

test("the token moves from the query or the fragment into storage, and out of the address bar", () => {
  const fromQuery = fakeWindow("http://127.0.0.1:7420/chats/c1?token=T1&x=1");
  assert.equal(takeToken(fromQuery), "T1");
  assert.deepEqual(fromQuery.replaced, ["/chats/c1?x=1"]);
  assert.equal(fromQuery.storage.get("reliant.token"), "T1");

  const fromHash = fakeWindow("http://127.0.0.1:7420/#token=T2");
  assert.equal(takeToken(fromHash), "T2");
  assert.deepEqual(fromHash.replaced, ["/"]);

  // A reload: no token in the URL, the stored one stays, the address bar is left alone.
  fromHash.location.href = "http://127.0.0.1:7420/settings";
  assert.equal(takeToken(fromHash), "T2");
  assert.deepEqual(fromHash.replaced, ["/"]);
  forgetToken(fromHash);
  assert.equal(sessionToken(fromHash), "");
});

test("a new tab gets the token from a tab that has it, and nothing when none does", async () => {
  const signedIn = fakeWindow("http://127.0.0.1:7420/?token=T3");
  takeToken(signedIn);
  const stop = shareToken(signedIn);
  const fresh = fakeWindow("http://127.0.0.1:7420/projects");
  assert.equal(await askOtherTabs(fresh, 2000), "T3");
  assert.equal(fresh.storage.get("reliant.token"), "T3");
  stop();
  const alone = fakeWindow("http://127.0.0.1:7420/");
  assert.equal(await askOtherTabs(alone, 50), "");
  assert.equal(alone.storage.size, 0);
});
