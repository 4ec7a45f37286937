"""`view`, `write` and `edit`: the file tools, confined to the workspace.

`write` and `edit` refuse to change an existing file the chat has not viewed, or that changed on disk
since the chat last saw it (see reads.py). The work is blocking file I/O, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from reliant.daemon.environment import child_environment
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.tools.paths import confine, shown
from reliant.daemon.tools.reads import Fingerprint

MAX_FILE_BYTES = 10 * 1024 * 1024  # view and edit read whole files up to this size
DEFAULT_VIEW_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_VIEW_CHARS = 100_000
BINARY_SNIFF_BYTES = 8192
MAX_DIFF_LINES = 60
MAX_DIFF_SOURCE_BYTES = 1024 * 1024  # no diff for bigger files: line numbers only
DIFF_SECONDS = 10.0
MAX_REPORTED_LINES = 50


def is_binary(data: bytes) -> bool:
    """NUL bytes near the start, or not UTF-8 at all."""
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _regular_file(path: Path, name: str) -> os.stat_result | None:
    """stat of a regular file; None if it does not exist; refuses directories, FIFOs, devices."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolFailure(f"cannot access {name}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ToolFailure(f"{name} is a directory; use glob to list its files")
    if not stat.S_ISREG(st.st_mode):
        raise ToolFailure(f"{name} is not a regular file")
    return st


def _read(path: Path, name: str) -> tuple[bytes, Fingerprint]:
    try:
        with path.open("rb") as f:
            data = f.read()
            return data, Fingerprint.of(data, os.fstat(f.fileno()))
    except OSError as exc:
        raise ToolFailure(f"cannot read {name}: {exc.strerror}") from None


def _write_bytes(path: Path, name: str, data: bytes) -> Fingerprint:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.write(data)
            f.flush()
            return Fingerprint.of(data, os.fstat(f.fileno()))
    except OSError as exc:
        raise ToolFailure(f"cannot write {name}: {exc.strerror}") from None


def _require_fresh(ctx: ToolContext, path: Path, name: str, current: Fingerprint) -> None:
    """Refuse to change a file this chat has not read, or that changed since it did."""
    seen = ctx.reads.last(ctx.chat_id, path)
    if seen is None:
        raise ToolFailure(
            f"refused: {name} already exists and has not been read in this chat; view it first, then change it"
        )
    if not seen.same_content(current):
        raise ToolFailure(
            f"refused: {name} changed on disk since it was last read in this chat; view it again before changing it"
        )


def _too_big(name: str, size: int) -> ToolFailure:
    return ToolFailure(
        f"{name} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for reading whole files; "
        f"use grep, or shell (e.g. sed -n '100,200p'), to read parts of it",
        {"size": size},
    )


# -- view -----------------------------------------------------------------------------------------


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}… [{len(line) - MAX_LINE_CHARS:,} more characters]"


def _view_sync(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace = ctx.require_workspace()
    path = confine(workspace, args["path"])
    name = shown(workspace, path)
    st = _regular_file(path, name)
    if st is None:
        raise ToolFailure(f"file not found: {name}")
    if st.st_size > MAX_FILE_BYTES:
        raise _too_big(name, st.st_size)
    data, fingerprint = _read(path, name)
    ctx.reads.remember(ctx.chat_id, path, fingerprint)
    if is_binary(data):
        return ToolOutput(
            output=f"{name} is a binary file ({len(data):,} bytes); its content is not shown",
            data={"path": name, "size": len(data), "binary": True},
        )
    lines = data.decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    total = len(lines)
    offset = int(args.get("offset", 1))
    limit = int(args.get("limit", DEFAULT_VIEW_LINES))
    if offset > max(total, 1):
        raise ToolFailure(f"offset {offset} is past the end of {name}, which has {total} lines")
    out: list[str] = []
    used = 0
    end = offset - 1
    for number in range(offset, min(total, offset + limit - 1) + 1):
        text = f"{number:>6}\t{_clip(lines[number - 1].removesuffix(chr(13)))}"
        if out and used + len(text) + 1 > MAX_VIEW_CHARS:
            break
        out.append(text)
        used += len(text) + 1
        end = number
    if total == 0:
        out.append("(empty file)")
    elif end < total:
        out.append(f"[showing lines {offset}-{end} of {total}; continue with offset={end + 1}]")
    return ToolOutput(
        output="\n".join(out),
        data={
            "path": name,
            "start_line": offset,
            "end_line": end,
            "total_lines": total,
            "size": len(data),
            "truncated": end < total,
        },
    )


async def _view(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return await asyncio.to_thread(_view_sync, ctx, args)


VIEW = ToolSpec(
    name="view",
    description=(
        "Read a text file in the workspace. Returns its lines numbered like `cat -n` (number, tab, "
        f"text), the first {DEFAULT_VIEW_LINES} lines by default; use offset (1-based first line) and "
        "limit (number of lines) to read other parts of long files. Lines longer than "
        f"{MAX_LINE_CHARS} characters are cut. Binary files are reported with their size, not shown. "
        "Paths are relative to the workspace (absolute paths must lie inside it). You must view a "
        "file before you write or edit it."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "File to read."},
            "offset": {"type": "integer", "minimum": 1, "description": "First line to show (1-based)."},
            "limit": {"type": "integer", "minimum": 1, "description": "How many lines to show."},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
    run=_view,
    read_only=True,
)


# -- write ----------------------------------------------------------------------------------------


def _write_sync(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace = ctx.require_workspace()
    path = confine(workspace, args["path"])
    name = shown(workspace, path)
    try:
        data = str(args["content"]).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ToolFailure(f"content is not valid text: {exc.reason}") from None
    with ctx.reads.write_lock:
        created = _regular_file(path, name) is None
        if not created:
            try:
                current = Fingerprint.of_file(path)
            except OSError as exc:
                raise ToolFailure(f"cannot read {name}: {exc.strerror}") from None
            _require_fresh(ctx, path, name, current)
        fingerprint = _write_bytes(path, name, data)
        ctx.reads.remember(ctx.chat_id, path, fingerprint)
    verb = "created" if created else "wrote"
    return ToolOutput(
        output=f"{verb} {name} ({len(data):,} bytes)",
        data={"path": name, "bytes": len(data), "created": created},
    )


async def _write(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return await asyncio.to_thread(_write_sync, ctx, args)


WRITE = ToolSpec(
    name="write",
    description=(
        "Write a file in the workspace, replacing all of its content; missing parent directories are "
        "created. An existing file must have been viewed in this chat first, and is refused if it "
        "changed on disk since: view it again, then write. Prefer edit for changing part of a file."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "File to write."},
            "content": {"type": "string", "description": "The complete new content."},
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    },
    run=_write,
)


# -- edit -----------------------------------------------------------------------------------------


def _change_lines(text: str, old: str, new: str, count: int) -> list[int]:
    """1-based line numbers, in the edited text, where each of the first `count` replacements starts."""
    lines: list[int] = []
    pos = 0
    shift = 0
    for _ in range(min(count, MAX_REPORTED_LINES)):
        found = text.find(old, pos)
        if found < 0:
            break
        lines.append(text.count("\n", 0, found) + 1 + shift)
        shift += new.count("\n") - old.count("\n")
        pos = found + len(old)
    return lines


def _diff(before: str, after: str, name: str) -> str:
    """A unified diff (2 lines of context) by `diff`, in a child process: difflib would hold the GIL,
    which the event loop of every role in the process needs, for as long as a big diff takes."""
    if len(before) > MAX_DIFF_SOURCE_BYTES:
        return ""
    with tempfile.TemporaryDirectory(prefix="reliant-diff-") as tmp:
        old, new = Path(tmp) / "a", Path(tmp) / "b"
        old.write_text(before, encoding="utf-8")
        new.write_text(after, encoding="utf-8")
        try:
            done = subprocess.run(
                ["diff", "-U2", "--label", f"a/{name}", "--label", f"b/{name}", str(old), str(new)],
                capture_output=True,
                timeout=DIFF_SECONDS,
                env=child_environment({"LC_ALL": "C"}),
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
    if done.returncode != 1:  # 0: no difference; 2: trouble
        return ""
    diff = done.stdout.decode("utf-8", "replace").splitlines()
    if len(diff) > MAX_DIFF_LINES:
        diff = [*diff[:MAX_DIFF_LINES], f"… [{len(diff) - MAX_DIFF_LINES} more diff lines]"]
    return "\n".join(diff)


def _edit_sync(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace = ctx.require_workspace()
    old, new = str(args["old_string"]), str(args["new_string"])
    replace_all = bool(args.get("replace_all", False))
    if old == new:
        raise ToolFailure("old_string and new_string are the same; there is nothing to change")
    path = confine(workspace, args["path"])
    name = shown(workspace, path)
    with ctx.reads.write_lock:
        st = _regular_file(path, name)
        if st is None:
            raise ToolFailure(f"file not found: {name}; use write to create a file")
        if st.st_size > MAX_FILE_BYTES:
            raise _too_big(name, st.st_size)
        data, current = _read(path, name)
        _require_fresh(ctx, path, name, current)
        if is_binary(data):
            raise ToolFailure(f"{name} is a binary file; edit only changes text files")
        text = data.decode("utf-8")
        count = text.count(old)
        if count == 0 and "\r\n" in text and "\n" in old:
            # The file has CRLF line ends, which view does not show: match them anyway.
            old, new = (s.replace("\r\n", "\n").replace("\n", "\r\n") for s in (old, new))
            count = text.count(old)
        if count == 0:
            raise ToolFailure(
                f"old_string not found in {name}; view the file and copy the text exactly, "
                "including whitespace and indentation"
            )
        if count > 1 and not replace_all:
            raise ToolFailure(
                f"found {count} matches of old_string in {name}; add surrounding context to make it "
                "unique, or set replace_all to change every match",
                {"matches": count},
            )
        edited = text.replace(old, new) if replace_all else text.replace(old, new, 1)
        fingerprint = _write_bytes(path, name, edited.encode("utf-8"))
        ctx.reads.remember(ctx.chat_id, path, fingerprint)
    lines = _change_lines(text, old, new, count)
    diff = _diff(text, edited, name)
    plural = "s" if count > 1 else ""
    where = ", ".join(map(str, lines)) + (", …" if count > len(lines) else "")
    summary = f"edited {name}: {count} replacement{plural} (line{plural} {where})"
    return ToolOutput(
        output=f"{summary}\n{diff}" if diff else summary,
        data={"path": name, "replacements": count, "lines": lines, "diff": diff},
    )


async def _edit(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return await asyncio.to_thread(_edit_sync, ctx, args)


EDIT = ToolSpec(
    name="edit",
    description=(
        "Replace text in a file in the workspace: old_string must match the file exactly "
        "(whitespace and indentation included) and exactly once, unless replace_all is true; include "
        "enough surrounding lines to make it unique. View the file in this chat first; a file that "
        "changed on disk since is refused. Returns the line numbers and a diff of the change."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "description": "File to change."},
            "old_string": {"type": "string", "minLength": 1, "description": "Exact text to replace."},
            "new_string": {"type": "string", "description": "Text to put in its place."},
            "replace_all": {
                "type": "boolean",
                "default": False,
                "description": "Replace every match instead of exactly one.",
            },
        },
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": False,
    },
    run=_edit,
)
