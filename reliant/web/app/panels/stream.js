// Follows a byte stream addressed by offset (a terminal's output, a background process's output)
// across breaks: on any break it asks again from the first byte it has not shown yet, after a
// backoff, so the bytes arrive once each and in order — also when the server resends some.
//
// `open(offset, signal)` returns the server stream (an async iterable of messages with `data`
// (base64) and `offset`); offset null asks for the kept backlog (a terminal's scrollback).
// `isEnd(message)` says whether a message is the last one (a closed terminal, a finished process).
// A tab hidden for a while parks the stream (../parking.js) and resumes from the offset when shown.

import { backoffDelay } from "../feed.js";
import { Parking } from "../parking.js";
import { fromBase64 } from "./bytes.js";

const FATAL = new Set(["unauthenticated", "not_found", "invalid_argument", "permission_denied"]);

export class OffsetStream {
  /**
   * @param {{open: Function, isEnd: Function, onData?: Function, onMessage?: Function,
   *          onEnd?: Function, onState?: Function, silenceMs?: number, delay?: Function}} options
   *   onData(bytes, offset) for new bytes only; onMessage(message) for every message (keepalives
   *   too); onEnd(message) once, for the last message; onState(state, detail) with state
   *   connecting | live | reconnecting | parked | ended | failed | closed. parkAfterMs and
   *   visibility go to Parking.
   * @param {number|null} offset  the first byte wanted; null for the kept backlog
   */
  constructor(options, offset = null) {
    this.options = options;
    this.offset = offset;
    this.closed = false;
    this.state = "";
    this.attempt = 0;
    this.controller = null;
    this.wake = null;
    this.lastHeard = 0;
    this.silenceMs = options.silenceMs ?? 45_000; // servers send a keepalive every 15 s
    this.delay = options.delay || backoffDelay;
    this.watchdog = setInterval(() => this.checkSilence(), Math.min(5000, this.silenceMs));
    this.parking = new Parking(
      {
        onPark: () => this.controller && this.controller.abort(),
        onShow: () => this.retryNow(),
      },
      options,
    );
    this.done = this.run();
  }

  setState(state, detail = {}) {
    this.state = state;
    if (this.options.onState) this.options.onState(state, detail);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.setState("closed");
  }

  stop() {
    this.release();
    if (this.controller) this.controller.abort();
    if (this.wake) this.wake();
  }

  /** Stops the timers and listeners; the stream is over. */
  release() {
    clearInterval(this.watchdog);
    this.parking.close();
  }

  /** Try again at once (the network came back, or the user asked). */
  retryNow() {
    this.attempt = 0;
    if (this.wake) this.wake();
  }

  checkSilence() {
    if (this.controller && this.state === "live" && Date.now() - this.lastHeard > this.silenceMs) {
      this.controller.abort(); // a half-open connection: start over
    }
  }

  /** Hands on the part of (offset, bytes) not shown yet; returns false when nothing was new. */
  accept(offset, bytes) {
    if (!bytes.length) return false;
    let start = offset;
    let data = bytes;
    if (this.offset !== null) {
      const end = start + data.length;
      if (end <= this.offset) return false; // resent: shown already
      if (start < this.offset) {
        data = data.subarray(this.offset - start);
        start = this.offset;
      }
      // start > this.offset: the server no longer keeps what came between; show what there is
    }
    this.offset = start + data.length;
    if (this.options.onData) this.options.onData(data, start);
    return true;
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
      this.controller = controller;
      let fatal = null;
      try {
        this.setState(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
        this.lastHeard = Date.now();
        const stream = await this.options.open(this.offset, controller.signal);
        let first = true;
        for await (const message of stream) {
          if (this.closed) return;
          this.lastHeard = Date.now();
          if (first) {
            first = false;
            this.attempt = 0;
            this.setState("live");
          }
          if (message.data) this.accept(Number(message.offset || 0), fromBase64(message.data));
          else if (this.offset === null && message.offset !== undefined && !message.closed) this.offset = Number(message.offset);
          if (this.options.onMessage) this.options.onMessage(message);
          if (this.options.isEnd(message)) {
            this.closed = true;
            this.release();
            this.setState("ended", { message });
            if (this.options.onEnd) this.options.onEnd(message);
            return;
          }
        }
      } catch (err) {
        if (this.closed) return;
        if (err && FATAL.has(err.code)) fatal = err;
      } finally {
        this.controller = null;
      }
      if (this.closed) return;
      if (fatal) {
        this.closed = true;
        this.release();
        this.setState("failed", { error: fatal });
        return;
      }
      if (this.parking.parked) continue; // the top of the loop waits to be shown
      const wait = this.delay(this.attempt);
      this.attempt += 1;
      this.setState("reconnecting", { attempt: this.attempt, delayMs: wait });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }
}
