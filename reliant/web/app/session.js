// Where the UI keeps the api token: this tab's sessionStorage, sent as a header with every call.
//
// Never in a cookie: cookies are not isolated by port, so a cookie set by reliant would reach every
// other server on 127.0.0.1 — dev servers the agent starts among them. Storage is per origin (the
// port included): pages on other local ports cannot read it.
//
// The token arrives in the URL `reliant up` prints (`/?token=T`, or `/#token=T`); it is taken from
// there and removed from the address bar at once. A reload keeps it (sessionStorage survives it); a
// new tab of this reliant asks the tabs already signed in, over a BroadcastChannel (same origin only).

const KEY = "reliant.token";
const CHANNEL = "reliant.session";
let memory = ""; // when storage is blocked: this page works until it is reloaded

/** Moves a token from the URL into storage; returns the token this tab has ("" if none). */
export function takeToken(win = globalThis) {
  const url = new URL(win.location.href);
  const fromHash = new URLSearchParams(url.hash.replace(/^#/, "")).get("token");
  const fromQuery = url.searchParams.get("token");
  const given = fromHash || fromQuery;
  if (fromHash !== null || fromQuery !== null) {
    url.searchParams.delete("token");
    url.hash = "";
    win.history.replaceState(win.history.state, "", url.pathname + url.search);
  }
  if (given) store(win, given);
  return sessionToken(win);
}

export function sessionToken(win = globalThis) {
  try {
    return win.sessionStorage.getItem(KEY) || memory;
  } catch {
    return memory;
  }
}

export function forgetToken(win = globalThis) {
  memory = "";
  try {
    win.sessionStorage.removeItem(KEY);
  } catch {
    // storage blocked: nothing kept there
  }
}

function store(win, token) {
  memory = token;
  try {
    win.sessionStorage.setItem(KEY, token);
  } catch {
    // storage blocked: kept in memory only
  }
}

/** Answers other tabs of this origin that ask for the token, while this tab has one. */
export function shareToken(win = globalThis) {
  if (typeof win.BroadcastChannel !== "function") return () => {};
  const channel = new win.BroadcastChannel(CHANNEL);
  channel.onmessage = (event) => {
    const token = sessionToken(win);
    if (event.data && event.data.ask && token) channel.postMessage({ token });
  };
  return () => channel.close();
}

/** Asks the other tabs of this origin for the token; "" if none answers within `timeoutMs`. */
export function askOtherTabs(win = globalThis, timeoutMs = 400) {
  if (typeof win.BroadcastChannel !== "function") return Promise.resolve("");
  const channel = new win.BroadcastChannel(CHANNEL);
  return new Promise((resolve) => {
    const done = (token) => {
      clearTimeout(timer);
      channel.close();
      if (token) store(win, token);
      resolve(token);
    };
    const timer = setTimeout(() => done(""), timeoutMs);
    channel.onmessage = (event) => {
      if (event.data && typeof event.data.token === "string" && event.data.token) done(event.data.token);
    };
    channel.postMessage({ ask: true });
  });
}
