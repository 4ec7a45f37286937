// Keeps one chat's transcript live: ListMessages, then StreamUpdates from its resume_seq, and on
// any break (network, server restart, a silent connection) the same again after a backoff.
//
// Every (re)connection starts from a fresh snapshot rather than from the last seq seen: the
// snapshot is what Postgres holds now (resume_seq is its last seq). The answer still streaming is
// not in it: its updates have seq 0 and the stream replays them from the answer's start, so the
// model (transcript.js) rebuilds it from scratch after each snapshot and places every delta by its
// (message_id, index, offset): a reconnect in the middle of an answer shows nothing twice.
//
// Updates are handed over in batches, at most one per animation frame (or every 250 ms while the
// page is hidden), so a fast stream of token deltas costs one render per frame.
//
// A tab hidden for a while parks its stream (parking.js) and starts again from a fresh snapshot when
// it is shown.

import { Parking } from "./parking.js";

const KEEPALIVE_TIMEOUT_MS = 25_000; // the server sends a keepalive every 10 s
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export function backoffDelay(attempt) {
  const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export class ChatFeed {
  /**
   * @param {import("./api.js").Api} api
   * @param {string} chatId
   * @param {{onSnapshot: Function, onUpdates: Function, onState: Function}} handlers
   *   onSnapshot(listMessagesResponse, chat), onUpdates(updates[]), onState(state, detail) where state
   *   is connecting | live | reconnecting | parked | unauthorized | gone | closed.
   * @param {{parkAfterMs?: number, visibility?: EventTarget & {hidden: boolean}, agentId?: string}} [options]
   *   visibility is `document` in the browser; parkAfterMs how long it stays hidden before parking;
   *   agentId: the snapshot is that sub-agent's messages (the stream is the whole chat's).
   */
  constructor(api, chatId, handlers, options = {}) {
    this.api = api;
    this.chatId = chatId;
    this.handlers = handlers;
    this.agentId = options.agentId || "";
    this.closed = false;
    this.state = "";
    this.attempt = 0;
    this.pending = [];
    this.flushHandle = null;
    this.connection = null; // AbortController of the current attempt
    this.wake = null; // resolves the backoff wait early
    this.lastHeard = 0;
    this.onOnline = () => this.retryNow();
    // Offline: the connection is as good as gone (it may only notice minutes later); start over.
    this.onOffline = () => {
      if (this.connection) this.connection.abort();
    };
    this.watchdog = setInterval(() => this.checkSilence(), 5000);
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.onOnline);
      window.addEventListener("offline", this.onOffline);
    }
    this.parking = new Parking(
      {
        onPark: () => this.connection && this.connection.abort(),
        onShow: () => this.retryNow(),
      },
      options,
    );
    this.done = this.run();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.handlers.onState(state, detail);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("offline", this.onOffline);
    }
    this.parking.close();
    if (this.connection) this.connection.abort();
    if (this.wake) this.wake();
    this.cancelFlush();
    this.pending = [];
    this.setState("closed");
  }

  /** Reconnect at once (the network came back, or the user asked). */
  retryNow() {
    this.attempt = 0;
    if (this.wake) this.wake();
  }

  checkSilence() {
    if (this.state === "live" && Date.now() - this.lastHeard > KEEPALIVE_TIMEOUT_MS && this.connection) {
      this.connection.abort(); // a half-open connection: start over
    }
  }

  async run() {
    while (!this.closed) {
      if (this.parking.parked) {
        this.setState("parked");
        await this.parking.untilShown();
        this.attempt = 0;
        continue;
      }
      const controller = new AbortController();
      this.connection = controller;
      let fatal = null;
      try {
        this.setState(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
        const options = { signal: controller.signal };
        const [snapshot, first] = await Promise.all([this.api.listMessages(this.chatId, options, this.agentId), this.api.getChat(this.chatId, options)]);
        // The chat's status must be at least as new as the snapshot: the stream only replays what
        // came after resume_seq. A chat read before the snapshot's boundary is read again.
        let chat = first;
        if (Number(chat.lastSeq || 0) < Number(snapshot.resumeSeq || 0)) chat = await this.api.getChat(this.chatId, options);
        if (this.closed) return;
        this.handlers.onSnapshot(snapshot, chat);
        let since = Number(snapshot.resumeSeq || 0);
        this.lastHeard = Date.now();
        for await (const update of this.api.streamUpdates(this.chatId, since, { signal: controller.signal })) {
          this.lastHeard = Date.now();
          if (update.kind === "keepalive") continue;
          if (update.kind === "stream_ready") {
            this.attempt = 0;
            this.flush();
            this.setState("live");
            continue;
          }
          const seq = Number(update.seq || 0);
          if (seq && seq <= since) continue;
          since = seq || since;
          this.pending.push(update);
          this.scheduleFlush();
        }
      } catch (err) {
        if (this.closed) return;
        if (err && (err.code === "unauthenticated" || err.code === "not_found" || err.code === "invalid_argument")) {
          fatal = err;
        }
      } finally {
        this.connection = null;
      }
      this.flush(); // whatever arrived before the break is still shown
      if (this.closed) return;
      if (fatal) {
        this.setState(fatal.code === "unauthenticated" ? "unauthorized" : "gone", { error: fatal });
        return;
      }
      if (this.parking.parked) continue; // the top of the loop waits to be shown
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.setState("reconnecting", { attempt: this.attempt, delayMs: delay });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  scheduleFlush() {
    if (this.flushHandle !== null) return;
    const hidden = typeof document !== "undefined" && document.hidden;
    if (!hidden && typeof requestAnimationFrame === "function") {
      this.flushHandle = { raf: requestAnimationFrame(() => this.flush()) };
    } else {
      this.flushHandle = { timer: setTimeout(() => this.flush(), hidden ? 250 : 16) };
    }
  }

  cancelFlush() {
    if (this.flushHandle === null) return;
    if (this.flushHandle.raf !== undefined) cancelAnimationFrame(this.flushHandle.raf);
    if (this.flushHandle.timer !== undefined) clearTimeout(this.flushHandle.timer);
    this.flushHandle = null;
  }

  flush() {
    this.cancelFlush();
    if (!this.pending.length || this.closed) return;
    const batch = this.pending;
    this.pending = [];
    this.handlers.onUpdates(batch);
  }
}
