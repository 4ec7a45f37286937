"""`glob` and `grep`: find files and lines in the workspace, with capped results.

Both list the tree with ripgrep (tools/ripgrep.py) without following links, skip the directories in
IGNORED_DIRS (`.git`, dependency and cache directories) and honour the workspace's .gitignore
files, as git does; a search whose `path` is itself ignored (e.g. `build/`) looks inside it anyway,
since it was asked for by name. Names and lines are matched by ripgrep's linear-time regex engine
in a child process, never by Python's `re` (which holds the GIL for as long as one match takes), so
no pattern can stall the daemon or the roles that share its process. Links are neither listed nor
read, so a link pointing outside the workspace cannot leak what it points to.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from reliant.daemon.gitignore import GitIgnore
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.tools.paths import confine, shown
from reliant.daemon.tools.ripgrep import Deadline, check_regex, glob_regex, list_files, matching, search_files

IGNORED_DIRS = frozenset(
    {".git", "node_modules", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"}
)
MAX_GLOB_RESULTS = 1000
MAX_GREP_MATCHES = 500
MAX_GREP_LINE_CHARS = 300
MAX_GREP_FILE_BYTES = 20 * 1024 * 1024
MAX_SCANNED_FILES = 200_000
SEARCH_SECONDS = 20.0


# -- walking --------------------------------------------------------------------------------------


def _search_root(ctx: ToolContext, args: dict[str, Any]) -> tuple[Path, Path, bool]:
    """The workspace, the file or directory to search, and whether .gitignore rules apply in it."""
    workspace = ctx.require_workspace()
    root = confine(workspace, str(args.get("path") or "."))
    if not root.exists():
        raise ToolFailure(f"not found: {shown(workspace, root)}")
    # An ignored directory asked for by name is searched whole.
    honour = not GitIgnore(workspace).covers(root, root.is_dir())
    return workspace, root, honour


async def _files(workspace: Path, root: Path, honour: bool, deadline: Deadline) -> tuple[list[str], str]:
    """Files under the directory `root` (relative to the workspace, in path order), and why the
    listing stopped early ("" if it did not)."""
    listed = await list_files(
        workspace, root, skip=IGNORED_DIRS, honour_ignores=honour, deadline=deadline, limit=MAX_SCANNED_FILES
    )
    stopped = f"stopped after scanning {MAX_SCANNED_FILES:,} files" if listed.stopped == "capped" else listed.stopped
    return [item.decode("utf-8", "surrogateescape") for item in listed.items], stopped


def _under(workspace: Path, root: Path, files: list[str]) -> list[str]:
    """`files` (relative to the workspace) relative to `root`."""
    prefix = shown(workspace, root)
    return files if prefix == "." else [f.removeprefix(prefix + "/") for f in files]


async def _glob_filter(pattern: str, names: list[str], deadline: Deadline, *, given: str = "") -> tuple[list[int], str]:
    try:
        return await matching(glob_regex(pattern), names, deadline=deadline, limit=len(names) + 1, whole=True)
    except ToolFailure as exc:
        raise ToolFailure(f"invalid glob pattern {(given or pattern)!r}: {exc.message}") from None


# -- glob -----------------------------------------------------------------------------------------


async def _glob(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    workspace, root, honour = await asyncio.to_thread(_search_root, ctx, args)
    if not root.is_dir():
        raise ToolFailure(f"{shown(workspace, root)} is not a directory")
    pattern = str(args["pattern"])
    if Path(pattern).is_absolute():
        prefix = str(root).rstrip("/") + "/"
        if not pattern.startswith(prefix):
            raise ToolFailure(f"glob patterns are relative to the search path {shown(workspace, root)}")
        pattern = pattern.removeprefix(prefix)
    deadline = Deadline(SEARCH_SECONDS)
    files, stopped = await _files(workspace, root, honour, deadline)
    hits, filter_stopped = await _glob_filter(pattern, _under(workspace, root, files), deadline)
    stopped = stopped or filter_stopped
    total = len(hits)
    found = [files[i] for i in hits[:MAX_GLOB_RESULTS]]
    lines = sorted(found) or [f"no files match {pattern} under {shown(workspace, root)}"]
    if total > len(found):
        lines.append(f"[showing {len(found)} of {total} matches; narrow the pattern or the path]")
    if stopped:
        lines.append(f"[search {stopped}; results may be incomplete]")
    return ToolOutput(
        output="\n".join(lines),
        data={"count": total, "shown": len(found), "truncated": total > len(found) or bool(stopped)},
    )


GLOB = ToolSpec(
    name="glob",
    description=(
        "Find files in the workspace by name pattern, e.g. `**/*.py`, `src/*.{ts,tsx}`, `tests/**`. "
        "`*` and `?` match within one directory; `**/` matches any number of directories. The "
        "pattern is matched against paths relative to `path` (default: the workspace root). "
        ".git, node_modules, .venv, cache directories, .gitignored files and links are skipped (unless "
        f"`path` names an ignored directory). At most {MAX_GLOB_RESULTS} "
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


def _clip(line: str, cut: bool) -> str:
    line = line.removesuffix("\r")
    if len(line) <= MAX_GREP_LINE_CHARS and not cut:
        return line
    return line[:MAX_GREP_LINE_CHARS] + "…"


async def _grep(ctx: ToolContext, args: dict[str, Any]) -> ToolOutput:
    pattern = str(args["pattern"])
    await check_regex(pattern)
    workspace, root, honour = await asyncio.to_thread(_search_root, ctx, args)
    deadline = Deadline(SEARCH_SECONDS)
    stopped = ""
    if root.is_dir():
        files, stopped = await _files(workspace, root, honour, deadline)
        file_glob = str(args.get("glob") or "")
        if file_glob:
            # `*.py` matches by file name, `src/**/*.ts` by path (relative to the search path).
            by_name = file_glob if "/" in file_glob else "**/" + file_glob
            hits, filter_stopped = await _glob_filter(
                by_name, _under(workspace, root, files), deadline, given=file_glob
            )
            files, stopped = [files[i] for i in hits], stopped or filter_stopped
    else:
        files = [shown(workspace, root)]
    matches, search_stopped = await search_files(
        workspace,
        files,
        pattern,
        deadline=deadline,
        limit=MAX_GREP_MATCHES,
        max_filesize=MAX_GREP_FILE_BYTES,
        max_columns=4 * MAX_GREP_LINE_CHARS,
    )
    full = search_stopped == "capped"
    stopped = stopped or ("" if full else search_stopped)
    lines = [f"{m.path}:{m.line}:{_clip(m.text, m.cut)}" for m in matches]
    lines = lines or [f"no matches for {pattern} under {shown(workspace, root)}"]
    if full:
        lines.append(f"[stopped at {MAX_GREP_MATCHES} matching lines; narrow the pattern, path or glob]")
    if stopped:
        lines.append(f"[search {stopped}; results may be incomplete]")
    return ToolOutput(
        output="\n".join(lines),
        data={"matches": len(matches), "files": len({m.path for m in matches}), "truncated": full or bool(stopped)},
    )


GREP = ToolSpec(
    name="grep",
    description=(
        "Search file contents in the workspace with a regular expression (ripgrep's syntax, like "
        "Python's without look-around and backreferences; use (?i) for case-insensitive). Prints "
        "matching lines as `path:line:text`, paths relative to the workspace. `path` is a file or "
        "directory to search (default: the workspace); `glob` limits which files are read (e.g. "
        "`*.py` matches by file name, `src/**/*.ts` by path). Binary files, files over "
        f"{MAX_GREP_FILE_BYTES // (1024 * 1024)} MB, links, .git, node_modules, .venv, cache "
        "directories and .gitignored files are skipped (unless `path` names an ignored directory); "
        f"at most {MAX_GREP_MATCHES} matching lines are shown."
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
