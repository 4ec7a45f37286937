"""The terminal's keyboard while a chat streams: keys read without blocking, so a question can wait
for a key and for news from the chat at once.

While a chat is followed in a terminal, the keyboard is in cbreak mode without echo: a key pressed
when nothing is asked is not printed and is thrown away before the next question (and at the end),
so it can never answer a later question by surprise nor reach the shell afterwards. Ctrl-C still
interrupts. Lines (a note for the model, an answer) are read with echo and line editing.
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import tty
from collections.abc import Callable, Iterator
from typing import Any

KeyCheck = Callable[[], bool]  # True: stop waiting (the question was answered elsewhere)


def usable(fd: int) -> bool:
    """Whether `fd` is a terminal this process may read (in the foreground: a job sent to the
    background that touched it would be stopped by the kernel)."""
    if not os.isatty(fd):
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return True  # not this session's controlling terminal: no job control stops us


class Keyboard:
    """Keys and lines from a terminal's stdin; `with Keyboard(fd):` for the whole chat."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None

    def __enter__(self) -> Keyboard:
        if os.isatty(self.fd):
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~termios.ECHO  # lflag: keys pressed while nothing is asked stay invisible
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def discard(self) -> None:
        """Throw away keys pressed before now."""
        if os.isatty(self.fd):
            with contextlib.suppress(termios.error):
                termios.tcflush(self.fd, termios.TCIFLUSH)

    def key(self, stop: KeyCheck, poll: float = 0.25) -> str | None:
        """The next key pressed (lower-cased), or None once `stop()` says to stop waiting."""
        while True:
            if stop():
                return None
            ready, _, _ = select.select([self.fd], [], [], poll)
            if not ready:
                continue
            data = os.read(self.fd, 64)
            if not data:
                raise EOFError("the terminal closed")
            self.discard()  # the rest of a burst (an Enter after the key) answers nothing
            text = data.decode(errors="replace").strip().lower()
            if text:
                return text[0]

    def line(self, stop: KeyCheck, poll: float = 0.25) -> str | None:
        """A line typed with echo and editing, or None once `stop()` says to stop waiting."""
        with self._canonical():
            typed = b""
            while True:
                if stop():
                    return None
                ready, _, _ = select.select([self.fd], [], [], poll)
                if not ready:
                    continue
                data = os.read(self.fd, 4096)
                if not data:
                    raise EOFError("the terminal closed")
                typed += data
                if b"\n" in typed or b"\r" in typed:
                    return typed.decode(errors="replace").splitlines()[0] if typed.strip() else ""

    @contextlib.contextmanager
    def _canonical(self) -> Iterator[None]:
        if self._saved is None:
            yield
            return
        current = termios.tcgetattr(self.fd)
        mode = termios.tcgetattr(self.fd)
        mode[3] |= termios.ICANON | termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        try:
            yield
        finally:
            termios.tcsetattr(self.fd, termios.TCSANOW, current)
