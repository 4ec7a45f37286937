"""Markdown that arrives a few characters at a time, cut into finished blocks.

A top-level block (a paragraph, a heading, a list, a table, a fenced code block) is finished once
the next one has begun: CommonMark closes a block for good when another starts, so a finished block
renders the same whatever follows. Only the block still being written can change; the terminal shows
it as a preview that the next render replaces (reliant.cli.render).
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt().enable("strikethrough").enable("table")  # what rich.markdown renders


class MarkdownBlocks:
    """Feed streamed text; take back the finished blocks (markdown source) as they complete."""

    def __init__(self) -> None:
        self.pending = ""  # the block still being written (and any text after its last newline)

    def feed(self, text: str) -> str:
        """Add text; returns the source of the blocks it finished ("" if none)."""
        self.pending += text
        if "\n" not in text:
            return ""
        upto = self.pending.rfind("\n") + 1
        lines = self.pending[:upto].splitlines(keepends=True)
        starts = [t.map[0] for t in _parser().parse(self.pending[:upto]) if t.level == 0 and t.nesting >= 0 and t.map]
        if len(starts) < 2:
            return ""
        cut = starts[-1]
        done = "".join(lines[:cut])
        self.pending = "".join(lines[cut:]) + self.pending[upto:]
        return done

    def finish(self) -> str:
        """The rest, once the text is complete."""
        rest, self.pending = self.pending, ""
        return rest
