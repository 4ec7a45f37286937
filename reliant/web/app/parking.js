// Parks a live stream while its tab is hidden. Browsers allow six HTTP/1.1 connections per server
// across all tabs, so tabs left open in the background must not hold on to theirs: after
// `parkAfterMs` hidden, `onPark` closes the stream; when the tab is shown again `onShow` reopens it
// (from where it left off: a fresh snapshot, or the next byte offset).

export const PARK_AFTER_MS = 30_000;

export class Parking {
  /**
   * @param {{onPark: Function, onShow: Function}} handlers
   * @param {{parkAfterMs?: number, visibility?: EventTarget & {hidden: boolean}}} [options]
   *   visibility is `document` in the browser (anything with `hidden` and visibilitychange events).
   */
  constructor({ onPark, onShow }, options = {}) {
    this.onPark = onPark;
    this.onShow = onShow;
    this.parkAfterMs = options.parkAfterMs ?? PARK_AFTER_MS;
    this.visibility = options.visibility ?? (typeof document !== "undefined" ? document : null);
    this.parked = false;
    this.timer = null;
    this.waiters = [];
    this.listener = () => this.changed();
    if (this.visibility) this.visibility.addEventListener("visibilitychange", this.listener);
  }

  changed() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.visibility.hidden) {
      this.timer = setTimeout(() => {
        if (!this.visibility.hidden || this.parked) return;
        this.parked = true;
        this.onPark();
      }, this.parkAfterMs);
    } else if (this.parked) {
      this.parked = false;
      this.release();
      this.onShow();
    }
  }

  /** Resolves when the tab is shown again (at once if not parked), or when this is closed. */
  untilShown() {
    return this.parked ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }

  release() {
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  close() {
    this.release();
    clearTimeout(this.timer);
    if (this.visibility) this.visibility.removeEventListener("visibilitychange", this.listener);
  }
}
