"""view, write and edit against real files, including the read-before-write rule."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from reliant.daemon.tools.files import DEFAULT_VIEW_LINES, MAX_FILE_BYTES, MAX_VIEW_CHARS
from reliant.domain.tools import ToolStatus
from tests.daemon.conftest import Run


def _lines(n: int, width: int = 0) -> str:
    return "".join(f"line {i}{'x' * width}\n" for i in range(1, n + 1))


# -- view -----------------------------------------------------------------------------------------


async def test_view_numbers_lines_like_cat_n(run: Run, workspace: Path) -> None:
    (workspace / "a.py").write_text("import os\n\n    print(os.sep)\n")
    result = await run("view", path="a.py")
    assert result.status is ToolStatus.OK
    assert result.output == "     1\timport os\n     2\t\n     3\t    print(os.sep)"
    assert result.data == {
        "path": "a.py",
        "start_line": 1,
        "end_line": 3,
        "total_lines": 3,
        "size": 29,
        "truncated": False,
    }


async def test_view_reads_a_range_and_says_how_to_continue(run: Run, workspace: Path) -> None:
    (workspace / "ten.txt").write_text(_lines(10))
    result = await run("view", path="ten.txt", offset=3, limit=2)
    assert result.output.splitlines() == [
        "     3\tline 3",
        "     4\tline 4",
        "[showing lines 3-4 of 10; continue with offset=5]",
    ]
    assert result.data["truncated"] is True
    tail = await run("view", path="ten.txt", offset=9)
    assert tail.output.splitlines() == ["     9\tline 9", "    10\tline 10"]
    past = await run("view", path="ten.txt", offset=11)
    assert past.status is ToolStatus.ERROR and "past the end" in past.error and "10 lines" in past.error


async def test_view_shows_the_first_lines_by_default(run: Run, workspace: Path) -> None:
    (workspace / "long.txt").write_text(_lines(DEFAULT_VIEW_LINES + 500))
    result = await run("view", path="long.txt")
    assert result.data["end_line"] == DEFAULT_VIEW_LINES and result.data["truncated"]
    assert result.output.endswith(f"continue with offset={DEFAULT_VIEW_LINES + 1}]")


async def test_view_caps_its_output_and_long_lines(run: Run, workspace: Path) -> None:
    (workspace / "wide.txt").write_text(_lines(1500, width=500))
    result = await run("view", path="wide.txt")
    assert len(result.output) <= MAX_VIEW_CHARS + 200
    end = result.data["end_line"]
    assert 0 < end < 1500 and f"continue with offset={end + 1}" in result.output
    (workspace / "one.txt").write_text("y" * 10_000 + "\n")
    clipped = await run("view", path="one.txt")
    assert clipped.output.endswith("… [8,000 more characters]")


async def test_view_refuses_a_huge_file_with_a_clear_note(run: Run, workspace: Path) -> None:
    with (workspace / "huge.log").open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    result = await run("view", path="huge.log")
    assert result.status is ToolStatus.ERROR
    assert "over the 10,485,760-byte limit" in result.error and "grep" in result.error
    assert result.data["size"] == MAX_FILE_BYTES + 1


async def test_view_reports_binary_files_without_their_bytes(run: Run, workspace: Path) -> None:
    (workspace / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 4)
    result = await run("view", path="img.png")
    assert result.status is ToolStatus.OK
    assert result.output == "img.png is a binary file (1,040 bytes); its content is not shown"
    assert result.data == {"path": "img.png", "size": 1040, "binary": True}
    (workspace / "latin1.txt").write_bytes("café olé\n".encode("latin-1"))
    latin = await run("view", path="latin1.txt")
    assert latin.data["binary"] is True and "caf" not in latin.output


async def test_view_of_odd_targets(run: Run, workspace: Path) -> None:
    (workspace / "dir").mkdir()
    (workspace / "empty.txt").write_text("")
    (workspace / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    os.mkfifo(workspace / "fifo")
    missing = await run("view", path="nope.txt")
    assert missing.status is ToolStatus.ERROR and missing.error == "file not found: nope.txt"
    folder = await run("view", path="dir")
    assert folder.status is ToolStatus.ERROR and "is a directory" in folder.error
    fifo = await run("view", path="fifo")
    assert fifo.status is ToolStatus.ERROR and "not a regular file" in fifo.error
    empty = await run("view", path="empty.txt")
    assert empty.status is ToolStatus.OK and empty.output == "(empty file)"
    crlf = await run("view", path="crlf.txt")
    assert crlf.output == "     1\ta\n     2\tb"


# -- write ----------------------------------------------------------------------------------------


async def test_write_creates_a_file_and_its_parent_directories(run: Run, workspace: Path) -> None:
    result = await run("write", path="pkg/sub/mod.py", content="héllo = 1\n")
    assert result.status is ToolStatus.OK
    assert result.output == "created pkg/sub/mod.py (11 bytes)"
    assert result.data == {"path": "pkg/sub/mod.py", "bytes": 11, "created": True}
    assert (workspace / "pkg" / "sub" / "mod.py").read_text() == "héllo = 1\n"
    again = await run("write", path="pkg/sub/mod.py", content="x = 2\n")
    assert again.status is ToolStatus.OK and again.data["created"] is False


async def test_write_refuses_an_existing_file_this_chat_never_read(run: Run, workspace: Path) -> None:
    target = workspace / "config.toml"
    target.write_text("keep = true\n")
    refused = await run("write", path="config.toml", content="clobbered\n")
    assert refused.status is ToolStatus.ERROR
    assert "has not been read in this chat" in refused.error and "view it first" in refused.error
    assert target.read_text() == "keep = true\n"
    await run("view", path="config.toml", chat_id="other-chat")
    still = await run("write", path="config.toml", content="clobbered\n")
    assert still.status is ToolStatus.ERROR, "another chat's read does not count"
    await run("view", path="config.toml")
    allowed = await run("write", path="config.toml", content="replaced\n")
    assert allowed.status is ToolStatus.OK and target.read_text() == "replaced\n"


async def test_write_refuses_a_file_changed_on_disk_since_it_was_read(run: Run, workspace: Path) -> None:
    target = workspace / "notes.md"
    target.write_text("v1\n")
    await run("view", path="notes.md")
    target.write_text("v2 from the user's editor\n")
    refused = await run("write", path="notes.md", content="model's version\n")
    assert refused.status is ToolStatus.ERROR
    assert "changed on disk since it was last read" in refused.error and "view it again" in refused.error
    assert target.read_text() == "v2 from the user's editor\n"
    await run("view", path="notes.md")
    assert (await run("write", path="notes.md", content="merged\n")).status is ToolStatus.OK


async def test_a_touched_but_unchanged_file_still_counts_as_read(run: Run, workspace: Path) -> None:
    target = workspace / "same.txt"
    target.write_text("same\n")
    await run("view", path="same.txt")
    os.utime(target, ns=(1, 1))
    assert (await run("write", path="same.txt", content="new\n")).status is ToolStatus.OK


async def test_writing_a_file_counts_as_reading_it(run: Run, workspace: Path) -> None:
    assert (await run("write", path="w.txt", content="one\n")).status is ToolStatus.OK
    assert (await run("write", path="w.txt", content="two\n")).status is ToolStatus.OK
    assert (await run("edit", path="w.txt", old_string="two", new_string="three")).status is ToolStatus.OK
    assert (workspace / "w.txt").read_text() == "three\n"


async def test_write_onto_a_directory_is_an_error(run: Run, workspace: Path) -> None:
    (workspace / "d").mkdir()
    result = await run("write", path="d", content="x")
    assert result.status is ToolStatus.ERROR and "is a directory" in result.error


# -- edit -----------------------------------------------------------------------------------------


async def test_edit_replaces_a_unique_match_and_reports_where(run: Run, workspace: Path) -> None:
    target = workspace / "app.py"
    target.write_text("def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    await run("view", path="app.py")
    result = await run("edit", path="app.py", old_string="    return 2", new_string="    return 3")
    assert result.status is ToolStatus.OK
    assert target.read_text() == "def f():\n    return 1\n\n\ndef g():\n    return 3\n"
    assert result.data["replacements"] == 1 and result.data["lines"] == [6]
    assert "-    return 2\n+    return 3" in result.data["diff"]
    assert result.output.startswith("edited app.py: 1 replacement (line 6)\n--- a/app.py")


async def test_edit_needs_a_unique_match_unless_replace_all(run: Run, workspace: Path) -> None:
    target = workspace / "dup.txt"
    target.write_text("x = 1\ny = 1\nz = 1\n")
    await run("view", path="dup.txt")
    ambiguous = await run("edit", path="dup.txt", old_string="= 1", new_string="= 2")
    assert ambiguous.status is ToolStatus.ERROR
    assert "found 3 matches" in ambiguous.error and "replace_all" in ambiguous.error
    assert ambiguous.data == {"matches": 3}
    assert target.read_text() == "x = 1\ny = 1\nz = 1\n"
    unique = await run("edit", path="dup.txt", old_string="y = 1", new_string="y = 2\ny2 = 2")
    assert unique.status is ToolStatus.OK and unique.data["lines"] == [2]
    every = await run("edit", path="dup.txt", old_string="= 1", new_string="= 0", replace_all=True)
    assert every.status is ToolStatus.OK
    assert every.data["replacements"] == 2 and every.data["lines"] == [1, 4]
    assert target.read_text() == "x = 0\ny = 2\ny2 = 2\nz = 0\n"


async def test_edit_errors_the_model_can_act_on(run: Run, workspace: Path) -> None:
    (workspace / "a.txt").write_text("alpha\n")
    (workspace / "bin.dat").write_bytes(b"\0\1\2")
    await run("view", path="a.txt")
    await run("view", path="bin.dat")
    missing = await run("edit", path="a.txt", old_string="beta", new_string="gamma")
    assert missing.status is ToolStatus.ERROR and missing.error.startswith("old_string not found in a.txt")
    same = await run("edit", path="a.txt", old_string="alpha", new_string="alpha")
    assert same.status is ToolStatus.ERROR and "the same" in same.error
    nofile = await run("edit", path="b.txt", old_string="a", new_string="b")
    assert nofile.status is ToolStatus.ERROR and "file not found: b.txt" in nofile.error
    binary = await run("edit", path="bin.dat", old_string="a", new_string="b")
    assert binary.status is ToolStatus.ERROR and "binary" in binary.error


async def test_edit_follows_the_read_before_write_rule(run: Run, workspace: Path) -> None:
    target = workspace / "r.txt"
    target.write_text("one\n")
    unread = await run("edit", path="r.txt", old_string="one", new_string="two")
    assert unread.status is ToolStatus.ERROR and "has not been read in this chat" in unread.error
    await run("view", path="r.txt")
    target.write_text("one, changed by someone else\n")
    stale = await run("edit", path="r.txt", old_string="one", new_string="two")
    assert stale.status is ToolStatus.ERROR and "changed on disk" in stale.error
    assert target.read_text() == "one, changed by someone else\n"


async def test_edit_keeps_crlf_line_ends(run: Run, workspace: Path) -> None:
    target = workspace / "win.txt"
    target.write_bytes(b"first\r\nsecond\r\nthird\r\n")
    await run("view", path="win.txt")
    result = await run("edit", path="win.txt", old_string="first\nsecond", new_string="1st\n2nd")
    assert result.status is ToolStatus.OK
    assert target.read_bytes() == b"1st\r\n2nd\r\nthird\r\n"


async def test_concurrent_edits_of_one_file_lose_nothing(run: Run, workspace: Path) -> None:
    target = workspace / "many.txt"
    target.write_text("".join(f"item {i}\n" for i in range(20)))
    await run("view", path="many.txt")
    results = await asyncio.gather(
        *(run("edit", path="many.txt", old_string=f"item {i}\n", new_string=f"done {i}\n") for i in range(20))
    )
    assert all(r.status is ToolStatus.OK for r in results), [r.error for r in results]
    assert target.read_text() == "".join(f"done {i}\n" for i in range(20))
