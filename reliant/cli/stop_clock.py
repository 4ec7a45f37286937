"""How long `reliant up` (and the other long-running commands) took to stop once asked.

The supervisor stops on SIGINT or SIGTERM through the event loop's signal handlers. Those work
through the interpreter's wakeup fd, which is written whatever Python-level handler a signal has;
so a handler set here (once the supervisor set its own) only notes the moment and the signal, and
the supervisor's still runs."""

from __future__ import annotations

import signal
import time
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopClock:
    def __init__(self) -> None:
        self.asked_at: float | None = None
        self.signal_name = ""

    def arm(self) -> None:
        """Call on the main thread, after the supervisor installed its handlers (once ready)."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._asked)

    def _asked(self, signum: int, frame: FrameType | None) -> None:
        if self.asked_at is None:
            self.asked_at = time.monotonic()
            self.signal_name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name

    def stopped_line(self, what: str) -> str:
        if self.asked_at is None:
            return f"{what} stopped"
        return f"{what} stopped in {time.monotonic() - self.asked_at:.1f}s ({self.signal_name})"
