"""Text reliant did not write, made safe to print on a terminal.

A model's answer, a tool's input and output, a command from a repository's file: a terminal acts on
what it is sent, so an escape sequence in such text could erase or overwrite the line it is on (and
so hide part of a command the user is asked to approve), move the cursor, retitle the window or, in
many terminals, write the clipboard (OSC 52). Printed here, that text only reads:

- `printable`: control sequences (CSI, such as colours and cursor moves, and OSC) are dropped; every
  other control character but newline and tab is named, as `⟨U+001B⟩`.
- `revealed`: also names the invisible format characters (Unicode Cf: bidi overrides and isolates,
  zero-width marks), which can make a command read in another order than the one that runs. For
  commands and paths; a model's prose keeps them (an emoji's zero-width joiner is one).
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, TextIO

# CSI (ESC [) with its parameters and final byte; OSC (ESC ]) up to its terminator, BEL or ST (ESC \).
# What is left of an escape (its ESC, a C1 control) is named, so it is inert too.
SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _named(char: str) -> str:
    return f"⟨U+{ord(char):04X}⟩"


def printable(text: str) -> str:
    """`text` as it reads, with nothing a terminal would act on."""
    if text.isprintable():  # the usual case: no control character at all
        return text
    return CONTROL.sub(lambda m: _named(m.group()), SEQUENCE.sub("", text))


def revealed(text: str) -> str:
    """`printable`, with every invisible format character named too."""
    text = printable(text)
    if text.isascii():
        return text
    return "".join(_named(c) if unicodedata.category(c) == "Cf" else c for c in text)


def printable_values(value: Any) -> Any:
    """A decoded update (mappings, lists and strings) with every string `printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {k: printable_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_values(v) for v in value]
    return value


@contextmanager
def revealing(out: IO[str]) -> Iterator[TextIO]:
    """A stream for a listing of what others wrote: its text reaches `out` `revealed`, at the end."""
    buffer = io.StringIO()
    yield buffer
    out.write(revealed(buffer.getvalue()))
