"""`glob` and `grep`: find files and lines in the workspace, with capped results.

Both walk the tree without following directory symlinks, skip the directories in IGNORED_DIRS
(`.git`, dependency and cache directories) and honour the workspace's .gitignore files, as git
does; a search whose `path` is itself ignored (e.g. `build/`) looks inside it anyway, since it was
asked for by name. `grep` does not read through file symlinks either, so a
link pointing outside the workspace cannot leak what it points to.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliant.daemon.gitignore import GitIgnore
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.tools.files import BINARY_SNIFF_BYTES
from reliant.daemon.tools.paths import confine, shown

IGNORED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"}
)
MAX_GLOB_RESULTS = 1000
MAX_GREP_MATCHES = 500
MAX_GREP_LINE_CHARS = 300
MAX_GREP_FILE_BYTES = 20 * 1024 * 1024
MAX_SCANNED_FILES = 200_000
SEARCH_SECONDS = 20.0


# -- glob patterns --------------------------------------------------------------------------------


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (close := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : close].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = close + 1
            continue
        elif c == "{" and (close := pattern.find("}", i)) > 0:
            choices = pattern[i + 1 : close].split(",")
            out.append("(?:" + "|".join(_translate(choice) for choice in choices) + ")")
            i = close + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching `/`-separated relative paths: `*` and `?` stay within one directory, `**/`
    spans any number of directories, `[abc]`, `[!abc]` and `{a,b}` as in the shell."""
    try:
        return re.compile(r"(?s:" + _translate(pattern.removeprefix("./")) + r")\Z")
    except re.error as exc:
        raise ToolFailure(f"invalid glob pattern {pattern!r}: {exc}") from None


# -- walking --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Walk:
    """Files under `root` (inside `workspace`) in a stable order, with the reason a walk stopped
    early (if it did)."""

    workspace: Path
    root: Path
    scanned: int = 0
    stopped: str = ""

    def files(self) -> Iterator[tuple[Path, str]]:
        """(path, path relative to root) of every non-directory entry, ignored ones left out."""
        deadline = time.monotonic() + SEARCH_SECONDS
        ignore = GitIgnore(self.workspace)
        honour = not ignore.covers(self.root, True)  # an ignored directory asked for by name is searched whole
        for entry in ignore.walk(self.root, skip=IGNORED_DIRS, honour=honour):
            self.scanned += 1
            if self.scanned > MAX_SCANNED_FILES:
                self.stopped = f"stopped after scanning {MAX_SCANNED_FILES:,} files"
                return
            if self.scanned % 256 == 0 and time.monotonic() > deadline:
                self.stopped = f"stopped after {SEARCH_SECONDS:.0f}s"
                return
            path = Path(entry.path)
            yield path, path.relative_to(self.root).as_posix()


def _search_root(ctx: ToolContext, args: dict[str, Any]) -> tuple[Path, Path]:
    workspace = ctx.require_workspace()
    root = confine(workspace, str(args.get("path") or "."))
    if not root.exists():
        raise ToolFailure(f"not found: {shown(workspace, root)}")
    return workspace, root


# -- glob -----------------------------------------------------------------------------------------


def _glob_sync(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace, root = _search_root(ctx, args)
    if not root.is_dir():
        raise ToolFailure(f"{shown(workspace, root)} is not a directory")
    pattern = str(args["pattern"])
    if Path(pattern).is_absolute():
        prefix = str(root).rstrip("/") + "/"
        if not pattern.startswith(prefix):
            raise ToolFailure(f"glob patterns are relative to the search path {shown(workspace, root)}")
        pattern = pattern.removeprefix(prefix)
    regex = compile_glob(pattern)
    walk = Walk(workspace, root)
    found: list[str] = []
    total = 0
    for path, rel in walk.files():
        if regex.match(rel):
            total += 1
            if len(found) < MAX_GLOB_RESULTS:
                found.append(shown(workspace, path))
    lines = sorted(found) or [f"no files match {pattern} under {shown(workspace, root)}"]
    if total > len(found):
        lines.append(f"[showing {len(found)} of {total} matches; narrow the pattern or the path]")
    if walk.stopped:
        lines.append(f"[search {walk.stopped}; results may be incomplete]")
    return ToolOutput(
        output="\n".join(lines),
        data={"count": total, "shown": len(found), "truncated": total > len(found) or bool(walk.stopped)},
    )


async def _glob(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return await asyncio.to_thread(_glob_sync, ctx, args)


GLOB = ToolSpec(
    name="glob",
    description=(
        "Find files in the workspace by name pattern, e.g. `**/*.py`, `src/*.{ts,tsx}`, `tests/**`. "
        "`*` and `?` match within one directory; `**/` matches any number of directories. The "
        "pattern is matched against paths relative to `path` (default: the workspace root). "
        f".git, node_modules, .venv, cache directories and .gitignored files are skipped (unless `path` "
        f"names an ignored directory). At most {MAX_GLOB_RESULTS} "
        "paths are listed (relative to the workspace), in path order."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "minLength": 1, "description": "Glob pattern."},
            "path": {"type": "string", "description": "Directory to search in (default: workspace)."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    },
    run=_glob,
    read_only=True,
)


# -- grep -----------------------------------------------------------------------------------------


def _clip(line: str) -> str:
    line = line.removesuffix("\r")
    if len(line) <= MAX_GREP_LINE_CHARS:
        return line
    return line[:MAX_GREP_LINE_CHARS] + "…"


def _grep_sync(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    pattern = str(args["pattern"])
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolFailure(f"invalid regular expression {pattern!r}: {exc}") from None
    workspace, root = _search_root(ctx, args)
    file_glob = str(args.get("glob") or "")
    name_filter = compile_glob(file_glob) if file_glob else None
    walk = Walk(workspace, root)
    files = [(root, root.name)] if root.is_file() else walk.files()
    matches: list[str] = []
    matched_files = skipped_big = 0
    full = False
    for path, rel in files:
        if name_filter is not None and not name_filter.match(rel if "/" in file_glob else path.name):
            continue
        if path.is_symlink():
            continue
        try:
            if not path.is_file():
                continue
            if path.stat().st_size > MAX_GREP_FILE_BYTES:
                skipped_big += 1
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            continue
        hit = False
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
            if regex.search(line):
                hit = True
                matches.append(f"{shown(workspace, path)}:{number}:{_clip(line)}")
                if len(matches) >= MAX_GREP_MATCHES:
                    full = True
                    break
        matched_files += hit
        if full:
            break
    lines = matches or [f"no matches for {pattern} under {shown(workspace, root)}"]
    if full:
        lines.append(f"[stopped at {MAX_GREP_MATCHES} matching lines; narrow the pattern, path or glob]")
    if skipped_big:
        lines.append(f"[skipped {skipped_big} files over {MAX_GREP_FILE_BYTES:,} bytes]")
    if walk.stopped:
        lines.append(f"[search {walk.stopped}; results may be incomplete]")
    return ToolOutput(
        output="\n".join(lines),
        data={"matches": len(matches), "files": matched_files, "truncated": full or bool(walk.stopped)},
    )


async def _grep(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    return await asyncio.to_thread(_grep_sync, ctx, args)


GREP = ToolSpec(
    name="grep",
    description=(
        "Search file contents in the workspace with a Python regular expression (use (?i) for "
        "case-insensitive). Prints matching lines as `path:line:text`, paths relative to the "
        "workspace. `path` is a file or directory to search (default: the workspace); `glob` limits "
        "which files are read (e.g. `*.py` matches by file name, `src/**/*.ts` by path). Binary "
        f"files, .git, node_modules, .venv, cache directories and .gitignored files are skipped (unless "
        f"`path` names an ignored directory); at most "
        f"{MAX_GREP_MATCHES} matching lines are shown."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "minLength": 1, "description": "Regular expression."},
            "path": {"type": "string", "description": "File or directory to search (default: workspace)."},
            "glob": {"type": "string", "description": "Only search files matching this glob."},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    },
    run=_grep,
    read_only=True,
)
