"""Streamed markdown is cut into blocks only where CommonMark has closed them."""

from __future__ import annotations

from reliant.cli.markdown_stream import MarkdownBlocks

ANSWER = (
    "# Plan\n\nI will run **two** things:\n\n- a failing command\n- a refused path\n\n"
    "```python\ndef f():\n\n    return 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nDone.\n"
)


def feed(text: str, size: int) -> list[str]:
    blocks = MarkdownBlocks()
    done = [blocks.feed(text[i : i + size]) for i in range(0, len(text), size)]
    return [*[d for d in done if d], blocks.finish()]


def test_blocks_come_out_whole_however_the_text_is_cut() -> None:
    expected = [
        "# Plan\n\n",
        "I will run **two** things:\n\n",
        "- a failing command\n- a refused path\n\n",
        "```python\ndef f():\n\n    return 1\n```\n\n",  # the blank line inside the fence does not cut it
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n",
        "Done.\n",
    ]
    for size in (1, 3, 7, 40, len(ANSWER)):
        blocks = feed(ANSWER, size)
        assert "".join(blocks) == ANSWER
        if size <= 7:  # fed little by little, each block comes out on its own
            assert blocks == expected, size


def test_a_block_is_held_until_the_next_one_starts() -> None:
    blocks = MarkdownBlocks()
    assert blocks.feed("- one\n\n") == ""  # the list may go on
    assert blocks.feed("- two\n\n") == ""
    assert blocks.feed("After.\n") == "- one\n\n- two\n\n"
    assert blocks.pending == "After.\n"
