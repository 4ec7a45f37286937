"""What the agent is told about its project and machine, read where the files are: the instruction
files in effect, the environment, and the files a user message names with `@path`.

Control subjects (`ctl.context.*`, JSON; `workspace` is the directory the chat works in):

- `context.instructions {workspace}` -> `{"ok", "files": [file]}`: the instruction files of the
  project root and of every directory above it, up to the user's home directory (included) or the
  filesystem root when the project is not under home; for a chat's git worktree
  (`.reliant/worktrees/<name>`) the walk up starts above its repository.
- `context.instructions {workspace, paths: ["src/api/app.py", ...]}` -> `{"ok", "files": [file],
  "checked": [dir]}`: those of each directory inside the project from the root (excluded) down to
  each path's directory (the path itself when it is a directory; its nearest existing ancestor when
  it does not exist yet); `checked` lists every directory looked at. Paths outside the workspace are
  skipped.
- `context.environment {workspace}` -> `{"ok", "environment": {os, shell, date, workspace, git:
  {branch, head, status, changed} | null, tree, tree_truncated}}` (domain/context.py).
- `context.attach {workspace, paths: [...]}` -> `{"ok", "attachments": [{path, kind: text | image |
  directory | error, content, media_type, truncated, size}]}`: what each path names, in order.

In each directory the files are AGENTS.md, CLAUDE.md and .reliant/instructions.md, in that order; a
file whose real path or content repeats one already taken is left out. A file is cut at
MAX_INSTRUCTION_CHARS, and one answer holds at most MAX_INSTRUCTIONS_CHARS of them (the files
nearest the project first; what does not fit is marked truncated). Inside the project, a file whose
real path (symlinks resolved) leaves the workspace is not read, and above it one that leaves the
directory it is found in: a repository (also one that holds the project in a subdirectory) cannot
make the agent send a file from elsewhere on the machine to the model.

Attachments are confined like every tool path: text up to MAX_ATTACH_CHARS, images (PNG, JPEG, GIF,
WebP) up to MAX_IMAGE_BYTES and MAX_IMAGES_BYTES for one message, a directory as a listing of its
entries; other binary files, missing paths and refusals come back as errors that say why.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import os
import platform
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from reliant.daemon.filesystem import ALWAYS_HIDDEN, SNIFF, image_type, looks_binary
from reliant.daemon.gitignore import GitIgnore
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.tools.paths import confine, shown
from reliant.daemon.worktrees import WORKTREES_DIR, git
from reliant.domain.context import (
    INSTRUCTION_FILES,
    Attachment,
    Environment,
    GitState,
    InstructionFile,
    InstructionScope,
    environment_to_json,
    instruction_to_json,
)
from reliant.domain.git import SUBMODULE_FILES_UNREAD

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

MAX_INSTRUCTION_CHARS = 32_000
MAX_INSTRUCTIONS_CHARS = 64_000
MAX_DIRS = 64  # paths asked about in one request
MAX_STATUS_LINES = 40
TREE_DEPTH = 2
MAX_TREE_LINES = 150
MAX_TREE_CHILDREN = 20  # entries shown per directory below the root
MAX_ATTACHMENTS = 20
MAX_ATTACH_CHARS = 100_000
MAX_LISTING = 200
MAX_IMAGE_BYTES = 3_750_000  # a provider's limit for one image is about 5 MB of base64
MAX_IMAGES_BYTES = 2_800_000  # all images of one message: the reply must stay under the daemon's 4 MB
MODEL_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class ProjectContext:
    def __init__(self, home: Path | None = None) -> None:
        self.home = (home or Path.home()).resolve()

    # -- instruction files ------------------------------------------------------------------------

    def project_instructions(self, workspace: Path) -> list[InstructionFile]:
        """The files of the project root, then of the directories above it, nearest first."""
        found = _Collector()
        found.directory(workspace, workspace, InstructionScope.PROJECT, ".")
        for parent in self._parents(workspace):
            found.directory(parent, parent, InstructionScope.PARENT, str(parent))
        return found.files

    def directory_instructions(self, workspace: Path, paths: Iterable[str]) -> tuple[list[InstructionFile], list[str]]:
        """The files of the directories between the root and each of `paths`, and the directories
        looked at (relative to the workspace)."""
        found = _Collector()
        checked: list[str] = []
        for given in list(paths)[:MAX_DIRS]:
            try:
                target = confine(workspace, given or ".")
            except ToolFailure:
                continue
            while target != workspace and not target.is_dir():
                target = target.parent
            chain: list[Path] = []
            current = target
            while current != workspace:
                chain.append(current)
                current = current.parent
            for directory in reversed(chain):
                rel = shown(workspace, directory)
                if rel in checked or _hidden(rel):
                    continue
                checked.append(rel)
                found.directory(directory, workspace, InstructionScope.DIRECTORY, rel)
        return found.files, checked

    def _parents(self, workspace: Path) -> list[Path]:
        base = workspace
        marker = "/" + WORKTREES_DIR + "/"
        if marker in f"{workspace}/":
            base = Path(str(workspace).split(marker, 1)[0])  # a worktree: above its repository
        parents: list[Path] = []
        for parent in base.parents:
            parents.append(parent)
            if parent == self.home:
                break
        return parents

    # -- environment ------------------------------------------------------------------------------

    async def environment(self, workspace: Path) -> Environment:
        tree, truncated = await asyncio.to_thread(_tree, workspace)
        login = os.environ.get("SHELL", "")
        return Environment(
            os=_os_name(),
            shell="bash (the shell tool runs `bash -c`)" + (f"; the user's login shell is {login}" if login else ""),
            date=_today(),
            workspace=str(workspace),
            git=await _git_state(workspace),
            tree=tuple(tree),
            tree_truncated=truncated,
        )

    # -- attachments ------------------------------------------------------------------------------

    async def attach(self, workspace: Path, paths: list[str]) -> list[Attachment]:
        return await asyncio.to_thread(self._attach, workspace, paths)

    def _attach(self, workspace: Path, paths: list[str]) -> list[Attachment]:
        out: list[Attachment] = []
        image_budget = MAX_IMAGES_BYTES
        for given in paths[:MAX_ATTACHMENTS]:
            try:
                attachment = _attachment(workspace, given, image_budget)
            except ToolFailure as exc:
                attachment = Attachment(given, "error", exc.message)
            if attachment.kind == "image":
                image_budget -= attachment.size
            out.append(attachment)
        for given in paths[MAX_ATTACHMENTS:]:
            out.append(Attachment(given, "error", f"not attached: at most {MAX_ATTACHMENTS} files per message"))
        return out

    # -- control subjects -------------------------------------------------------------------------

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        def workspace(body: dict[str, Any]) -> Path:
            given = body.get("workspace", "")
            found = workspace_for(given if isinstance(given, str) else "")
            if found is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return found

        def strings(body: dict[str, Any], key: str) -> list[str] | None:
            value = body.get(key)
            if value is None:
                return None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ToolFailure(f"{key} must be a list of strings")
            return list(value)

        async def instructions(body: dict[str, Any]) -> Any:
            root = workspace(body)
            paths = strings(body, "paths")
            if paths is None:
                files = await asyncio.to_thread(self.project_instructions, root)
                return {"ok": True, "files": [instruction_to_json(f) for f in files]}
            files, checked = await asyncio.to_thread(self.directory_instructions, root, paths)
            return {"ok": True, "files": [instruction_to_json(f) for f in files], "checked": checked}

        async def environment(body: dict[str, Any]) -> Any:
            return {"ok": True, "environment": environment_to_json(await self.environment(workspace(body)))}

        async def attach(body: dict[str, Any]) -> Any:
            paths = strings(body, "paths") or []
            found = await self.attach(workspace(body), paths)
            return {
                "ok": True,
                "attachments": [
                    {
                        "path": a.path,
                        "kind": a.kind,
                        "content": a.content,
                        "media_type": a.media_type,
                        "truncated": a.truncated,
                        "size": a.size,
                    }
                    for a in found
                ],
            }

        return {"context.instructions": instructions, "context.environment": environment, "context.attach": attach}


class _Collector:
    """Instruction files as they are found, without repeats, within the size bounds."""

    def __init__(self) -> None:
        self.files: list[InstructionFile] = []
        self._seen_paths: set[str] = set()
        self._seen_content: set[str] = set()
        self._budget = MAX_INSTRUCTIONS_CHARS

    def directory(self, directory: Path, confined_to: Path, scope: InstructionScope, shown_as: str) -> None:
        for name in INSTRUCTION_FILES:
            candidate = directory / name
            try:
                if not candidate.is_file():
                    continue
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if real != confined_to and not real.is_relative_to(confined_to):
                continue  # a link out of the workspace (or of the directory above it): not read
            if str(real) in self._seen_paths:
                continue
            self._seen_paths.add(str(real))
            text, truncated = _read_text(real, MAX_INSTRUCTION_CHARS)
            if text is None or not text.strip() or text in self._seen_content:
                continue
            self._seen_content.add(text)
            if len(text) > self._budget:
                text, truncated = text[: self._budget], True
            self._budget -= len(text)
            self.files.append(InstructionFile(str(candidate), scope, shown_as, text, truncated))


def _hidden(rel: str) -> bool:
    return any(part in ALWAYS_HIDDEN for part in rel.split("/")) or rel.startswith(WORKTREES_DIR)


def _read_text(path: Path, limit: int) -> tuple[str | None, bool]:
    """Up to `limit` characters of a UTF-8 text file (None: unreadable or binary)."""
    try:
        with path.open("rb") as f:
            data = f.read(limit * 4 + 1)
    except OSError:
        return None, False
    if looks_binary(data[:SNIFF]):
        return None, False
    text = data.decode("utf-8", "replace")
    if len(text) > limit:
        return text[:limit], True
    return text, len(data) > limit * 4


def _os_name() -> str:
    system, release = platform.system(), platform.release()
    detail = ""
    if system == "Linux":
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    detail = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
    elif system == "Darwin":
        detail = f"macOS {platform.mac_ver()[0]}"
    return f"{system} {release}" + (f" ({detail})" if detail else "")


def _today() -> str:
    today = datetime.date.today()
    return f"{today.isoformat()} ({today.strftime('%A')})"


async def _git_state(workspace: Path) -> GitState | None:
    try:
        short = ("--short", "--branch", "--untracked-files=normal")
        status = await git(workspace, "status", SUBMODULE_FILES_UNREAD, *short, limit=256 * 1024)
    except ToolFailure:
        return None  # not a repository (or no git)
    lines = status.splitlines()
    head_line, entries = (lines[0], lines[1:]) if lines and lines[0].startswith("## ") else ("", lines)
    branch = head_line.removeprefix("## ").split("...", 1)[0].split(" [", 1)[0]
    if branch.startswith("No commits yet on "):
        branch = branch.removeprefix("No commits yet on ")
    elif branch.startswith("HEAD (no branch)"):
        branch = ""
    try:
        head = (await git(workspace, "rev-parse", "--short", "HEAD")).strip()
    except ToolFailure:
        head = ""
    return GitState(branch=branch, head=head, status=tuple(entries[:MAX_STATUS_LINES]), changed=len(entries))


def _tree(workspace: Path) -> tuple[list[str], bool]:
    """The top TREE_DEPTH levels of the workspace, directories first, .gitignored entries left out."""
    ignore = GitIgnore(workspace)
    lines: list[str] = []
    truncated = False

    def walk(directory: Path, depth: int) -> None:
        nonlocal truncated
        try:
            with os.scandir(directory) as it:
                entries = [e for e in it if e.name not in ALWAYS_HIDDEN]
        except OSError:
            return
        chain = ignore.chain(directory)
        kept = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            if is_dir and shown(workspace, path) == WORKTREES_DIR:
                continue
            if ignore.ignored(chain, path, is_dir):
                continue
            kept.append((not is_dir, entry.name, is_dir, path))
        kept.sort()
        limit = MAX_TREE_CHILDREN if depth > 0 else len(kept)
        for _, name, is_dir, path in kept[:limit]:
            if len(lines) >= MAX_TREE_LINES:
                truncated = True
                return
            lines.append("  " * depth + name + ("/" if is_dir else ""))
            if is_dir and depth + 1 < TREE_DEPTH:
                walk(path, depth + 1)
        if len(kept) > limit:
            lines.append("  " * depth + f"… {len(kept) - limit} more")

    walk(workspace, 0)
    return lines, truncated


def _attachment(workspace: Path, given: str, image_budget: int) -> Attachment:
    path = confine(workspace, given)
    rel = shown(workspace, path)
    if not path.exists():
        return Attachment(given, "error", f"no such file in the project: {rel}")
    if path.is_dir():
        return _listing(workspace, given, path)
    if not path.is_file():
        return Attachment(given, "error", f"{rel} is not a regular file")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(SNIFF)
    media_type = image_type(head, path.name)
    if media_type:
        if media_type not in MODEL_IMAGE_TYPES:
            return Attachment(
                given, "error", f"{rel} is an image of type {media_type}; models take PNG, JPEG, GIF or WebP"
            )
        if size > min(MAX_IMAGE_BYTES, image_budget):
            return Attachment(
                given,
                "error",
                f"{rel} is {size:,} bytes: over the {min(MAX_IMAGE_BYTES, image_budget):,} bytes left for images",
            )
        data = path.read_bytes()
        return Attachment(given, "image", base64.b64encode(data).decode(), media_type=media_type, size=len(data))
    if looks_binary(head):
        return Attachment(given, "error", f"{rel} is a binary file ({size:,} bytes): only text files and images attach")
    text, truncated = _read_text(path, MAX_ATTACH_CHARS)
    return Attachment(given, "text", text or "", media_type="text/plain", truncated=truncated, size=size)


def _listing(workspace: Path, given: str, path: Path) -> Attachment:
    ignore = GitIgnore(workspace)
    chain = ignore.chain(path)
    names: list[str] = []
    with os.scandir(path) as it:
        for entry in it:
            if entry.name in ALWAYS_HIDDEN:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if ignore.ignored(chain, Path(entry.path), is_dir):
                continue
            names.append(entry.name + ("/" if is_dir else ""))
    names.sort()
    truncated = len(names) > MAX_LISTING
    return Attachment(given, "directory", "\n".join(names[:MAX_LISTING]), truncated=truncated, size=len(names))
