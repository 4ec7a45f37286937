"""An answer's markdown on a terminal, as it streams: each finished block printed rendered (rich),
the block still being written shown as a preview (a transient live region, at most a screenful,
its tail) that the next redraw replaces — so what is printed stays correct however long the answer
grows, and the scrollback holds every block exactly once."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.console import Console, JustifyMethod
from rich.live import Live
from rich.markdown import Heading, Markdown, MarkdownElement
from rich.segment import Segment, Segments
from rich.text import Text

from reliant.cli.markdown_stream import MarkdownBlocks

PREVIEW_EVERY = 0.05  # seconds between redraws of the block being written
CODE_THEME = "monokai"


class _Heading(Heading):
    LEVEL_ALIGN: ClassVar[dict[str, JustifyMethod]] = dict.fromkeys(Heading.LEVEL_ALIGN, "left")


class _Markdown(Markdown):
    """rich's markdown, with every heading at the left margin like the text under it."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {**Markdown.elements, "heading_open": _Heading}


class MarkdownOut:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._blocks: MarkdownBlocks | None = None
        self._printed = False  # a block of the current text is printed: the next one needs a gap
        self._preview: Live | None = None
        self._previewed_at = 0.0
        self._thinking = False

    def feed(self, text: str) -> None:
        """More of the answer's text."""
        self._stop_thinking()
        if self._blocks is None:
            self._blocks = MarkdownBlocks()
        done = self._blocks.feed(text)
        if done.strip():
            self._stop_preview()
            self._print(done)
        now = time.monotonic()
        if now - self._previewed_at >= PREVIEW_EVERY:
            self._previewed_at = now
            self._show_preview(self._blocks.pending)

    def finish(self) -> None:
        """The text is complete (or something else is printed next): print what is left of it."""
        self._stop_thinking()
        if self._blocks is not None:
            rest = self._blocks.finish()
            self._stop_preview()
            if rest.strip():
                self._print(rest)
            self._blocks = None
        self._printed = False

    def whole(self, source: str) -> None:
        """A complete answer, at once (a stored message)."""
        self.finish()
        self._print(source)
        self._printed = False

    def thinking(self) -> None:
        """The model thinks before it answers: say so until the text begins."""
        if self._preview is None:
            self._thinking = True
            self._preview = _live(self.console, Text("✻ thinking…", style="bright_black italic"))

    def _print(self, source: str) -> None:
        lines = self._rendered(source)
        if not lines:
            return
        if self._printed:
            self.console.print()
        self.console.print(Segments([*_joined(lines), Segment.line()]))
        self.console.file.flush()
        self._printed = True

    def _rendered(self, source: str) -> list[list[Segment]]:
        """The markdown's lines, without the blank lines rich puts around some blocks."""
        lines = self.console.render_lines(_Markdown(source, code_theme=CODE_THEME), pad=False)
        while lines and _blank(lines[0]):
            lines.pop(0)
        while lines and _blank(lines[-1]):
            lines.pop()
        return lines

    def _show_preview(self, pending: str) -> None:
        if not pending.strip():
            self._stop_preview()
            return
        room = max(3, self.console.height - 2)
        shown = Segments(_joined(self._rendered(pending)[-room:]))
        if self._preview is None:
            if self._printed:
                self.console.print()  # the gap before this block, as it will have once printed
                self._printed = False
            self._preview = _live(self.console, shown)
        else:
            self._preview.update(shown, refresh=True)

    def _stop_preview(self) -> None:
        if self._preview is not None:
            self._preview.stop()
            self._preview = None

    def _stop_thinking(self) -> None:
        if self._thinking:
            self._thinking = False
            self._stop_preview()


def _live(console: Console, shown: Segments | Text) -> Live:
    live = Live(
        shown,
        console=console,
        auto_refresh=False,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
        vertical_overflow="visible",
    )
    live.start(refresh=True)
    return live


def _joined(lines: list[list[Segment]]) -> list[Segment]:
    out: list[Segment] = []
    for i, line in enumerate(lines):
        if i:
            out.append(Segment.line())
        out.extend(line)
    return out


def _blank(line: list[Segment]) -> bool:
    return all(not seg.text.strip() and (seg.style is None or seg.style.bgcolor is None) for seg in line)
