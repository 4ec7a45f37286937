"""`reliant ...` in a real terminal (a PTY of a given size): read what it draws, press keys."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import termios
from pathlib import Path

from tests.e2e.harness import reliant_cmd
from tests.support import wait_until

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def plain(text: str) -> str:
    """What a terminal shows of `text`, without its escape codes (and carriage returns)."""
    return ANSI.sub("", text)


class Terminal:
    def __init__(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, cols: int = 100, rows: int = 40
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.set_blocking(self.master, False)
        env = dict(env if env is not None else os.environ)
        env.setdefault("TERM", "xterm-256color")
        self.proc = subprocess.Popen(
            reliant_cmd(*args),
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def _read(self) -> None:
        try:
            while chunk := os.read(self.master, 65536):
                self.seen += chunk.decode(errors="replace")
        except (BlockingIOError, OSError):
            pass

    @property
    def text(self) -> str:
        self._read()
        return plain(self.seen)

    def expect(self, text: str, timeout: float = 60) -> None:
        try:
            wait_until(lambda: text in self.text, timeout=timeout, interval=0.05)
        except AssertionError:
            raise AssertionError(f"{text!r} never shown; the terminal shows:\n{self.text}") from None

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            self._read()
            os.close(self.master)
        return code
