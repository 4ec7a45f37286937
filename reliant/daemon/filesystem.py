"""File browsing for the UI and the api: list, read, save, create, delete, rename and search,
confined to a registered workspace (every path resolved, symlinks included; tools/paths.py).

Listings are one directory level at a time and honour .gitignore files (the workspace's and those
of every directory down to the one listed, deeper ones winning, plus .git/info/exclude; matching by
`pathspec`'s implementation of git's rules); `.git` itself is never listed. Saves are compare-and-
swap on the content's sha256: a save whose `base_sha256` no longer matches the file on disk is a
conflict, not an overwrite.

Control subjects (`ctl.fs.*`, JSON; every request names its `workspace`, paths are relative to it):

- `fs.tree {path=".", show_ignored=false}` -> `{"ok", "path", "entries": [entry], "truncated"}` with
  entry = `{name, path, type: file|dir|symlink|other, size, mtime_unix, ignored, target_type}`
- `fs.read {path, max_bytes?}` -> `{"ok", path, size, sha256, mtime_unix, binary, mime, encoding:
  "utf-8"|"base64"|"", content, truncated}` (binary files other than images come without content)
- `fs.save {path, content | data (base64), base_sha256?, force?}` -> `{"ok", path, sha256, size,
  created}` or `{"ok": false, "conflict": true, "current_sha256", "error"}`
- `fs.create {path, kind: file|dir, content?}`, `fs.delete {path, recursive?}`,
  `fs.rename {path, to, overwrite?}` -> `{"ok", ...}`
- `fs.search {query, path?, mode: name|content, regex?, case_sensitive?, max_results?}` ->
  `{"ok", "results": [{path, line?, text?}], "truncated"}`
  (by ripgrep, tools/ripgrep.py: a linear-time regex engine in a child process, with a deadline)

Refusals come back as `{"ok": false, "error": "..."}`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from reliant.daemon.gitignore import GitIgnore
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.tools.paths import confine, shown
from reliant.daemon.tools.ripgrep import Deadline, check_regex, list_files, matching, search_files

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

MAX_ENTRIES = 5000
MAX_READ_BYTES = 768 * 1024  # content in one reply (base64 grows it by a third)
MAX_SAVE_BYTES = 768 * 1024
MAX_SEARCH_RESULTS = 500
MAX_SEARCH_FILE = 4 * 1024 * 1024
MAX_SEARCH_FILES = 200_000  # files listed for one search
MAX_SEARCH_LINE_CHARS = 300
SEARCH_SECONDS = 10.0
SNIFF = 8192
GIL_YIELD_EVERY = 32  # directory entries between two handovers of the GIL while listing
ALWAYS_HIDDEN = frozenset({".git"})

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)


def image_type(head: bytes, name: str) -> str:
    for magic, mime in _IMAGE_MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if name.lower().endswith(".svg") and b"<svg" in head[:4096]:
        return "image/svg+xml"
    return ""


def looks_binary(head: bytes) -> bool:
    if b"\0" in head[:SNIFF]:
        return True
    try:
        head[:SNIFF].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head[:SNIFF]) - 4  # a character cut at the sniff's end is fine
    return False


# -- the service ------------------------------------------------------------------------------------


class FileService:
    def __init__(self) -> None:
        self._ignores: dict[Path, GitIgnore] = {}

    def _gitignore(self, workspace: Path) -> GitIgnore:
        found = self._ignores.get(workspace)
        if found is None:
            found = self._ignores[workspace] = GitIgnore(workspace)
        return found

    # -- tree -------------------------------------------------------------------------------------

    def tree(self, workspace: Path, given: str = ".", show_ignored: bool = False) -> dict[str, Any]:
        directory = confine(workspace, given or ".")
        if not directory.is_dir():
            raise ToolFailure(f"{shown(workspace, directory)} is not a directory")
        ignore = self._gitignore(workspace)
        chain = ignore.chain(directory)
        entries: list[dict[str, Any]] = []
        truncated = False
        with os.scandir(directory) as it:
            for scanned, entry in enumerate(it):
                if scanned % GIL_YIELD_EVERY == 0:
                    # This runs in a thread, but holds the GIL between bytecodes: hand it over
                    # often, or the event loop every role shares waits ~5 ms for each turn.
                    time.sleep(0)
                if entry.name in ALWAYS_HIDDEN:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                kind, target_type = _kind(entry, st)
                path = directory / entry.name
                ignored = bool(chain) and GitIgnore.ignored(chain, path, kind == "dir")
                if ignored and not show_ignored:
                    continue
                if len(entries) >= MAX_ENTRIES:
                    truncated = True
                    break
                entries.append(
                    {
                        "name": entry.name,
                        "path": shown(workspace, path),
                        "type": kind,
                        "size": st.st_size if kind == "file" else 0,
                        "mtime_unix": st.st_mtime,
                        "ignored": ignored,
                        "target_type": target_type,
                    }
                )
        entries.sort(key=lambda e: (e["type"] != "dir" and e["target_type"] != "dir", e["name"].lower()))
        return {"ok": True, "path": shown(workspace, directory), "entries": entries, "truncated": truncated}

    # -- read -------------------------------------------------------------------------------------

    def read(self, workspace: Path, given: str, max_bytes: int = MAX_READ_BYTES) -> dict[str, Any]:
        path = confine(workspace, given)
        name = shown(workspace, path)
        st = _regular(path, name)
        limit = max(1, min(max_bytes, MAX_READ_BYTES))
        digest = hashlib.sha256()
        with path.open("rb") as f:
            head = f.read(limit)
            digest.update(head)
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
        truncated = st.st_size > len(head)
        mime = image_type(head, path.name)
        doc: dict[str, Any] = {
            "ok": True,
            "path": name,
            "size": st.st_size,
            "sha256": digest.hexdigest(),
            "mtime_unix": st.st_mtime,
            "binary": False,
            "mime": mime,
            "encoding": "utf-8",
            "content": "",
            "truncated": truncated,
        }
        if mime and mime != "image/svg+xml":
            doc.update(binary=True, encoding="base64" if not truncated else "")
            doc["content"] = base64.b64encode(head).decode() if not truncated else ""
        elif looks_binary(head):
            doc.update(binary=True, encoding="", content="")
        else:
            text = head.decode("utf-8", "replace")
            if truncated and text.endswith("\ufffd"):
                text = text[:-1]
            doc["content"] = text
        return doc

    # -- save, create, delete, rename ---------------------------------------------------------------

    def save(self, workspace: Path, body: dict[str, Any]) -> dict[str, Any]:
        path = confine(workspace, _string(body, "path"))
        name = shown(workspace, path)
        data = _content(body)
        base = body.get("base_sha256") or ""
        force = bool(body.get("force"))
        exists = path.exists()
        if exists:
            _regular(path, name)
            current = _sha256(path)
            if not force and base != current:
                why = "it changed on disk since it was read" if base else "it already exists"
                return {
                    "ok": False,
                    "conflict": True,
                    "current_sha256": current,
                    "error": f"not saved: {name} {why}; reload it (or save with force)",
                }
        elif base and not force:
            return {"ok": False, "conflict": True, "current_sha256": "", "error": f"not saved: {name} was deleted"}
        _write_atomic(path, data)
        return {
            "ok": True,
            "path": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "created": not exists,
        }

    def create(self, workspace: Path, body: dict[str, Any]) -> dict[str, Any]:
        path = confine(workspace, _string(body, "path"))
        name = shown(workspace, path)
        if path.exists() or path.is_symlink():
            raise ToolFailure(f"{name} already exists")
        kind = body.get("kind", "file")
        if kind == "dir":
            path.mkdir(parents=True)
            return {"ok": True, "path": name, "type": "dir"}
        if kind != "file":
            raise ToolFailure("kind must be file or dir")
        data = _content(body) if ("content" in body or "data" in body) else b""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as f:
            f.write(data)
        return {"ok": True, "path": name, "type": "file", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def delete(self, workspace: Path, body: dict[str, Any]) -> dict[str, Any]:
        raw = _unresolved(workspace, _string(body, "path"))
        if raw == workspace:
            raise ToolFailure("refused: the workspace itself cannot be deleted")
        # A symlink is deleted itself, never what it points to: confine its directory only.
        path = confine(workspace, str(raw.parent)) / raw.name
        name = shown(workspace, path)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            if body.get("recursive"):
                import shutil

                shutil.rmtree(path)
            else:
                try:
                    path.rmdir()
                except OSError:
                    raise ToolFailure(f"{name} is a directory that is not empty; delete it with recursive") from None
        else:
            raise ToolFailure(f"not found: {name}")
        return {"ok": True, "path": name}

    def rename(self, workspace: Path, body: dict[str, Any]) -> dict[str, Any]:
        raw = _unresolved(workspace, _string(body, "path"))
        if raw == workspace:
            raise ToolFailure("refused: the workspace itself cannot be renamed")
        source = confine(workspace, str(raw.parent)) / raw.name
        target = confine(workspace, _string(body, "to"))
        if not source.exists() and not source.is_symlink():
            raise ToolFailure(f"not found: {shown(workspace, source)}")
        if (target.exists() or target.is_symlink()) and not body.get("overwrite"):
            raise ToolFailure(f"{shown(workspace, target)} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        return {"ok": True, "path": shown(workspace, source), "to": shown(workspace, target)}

    # -- search -----------------------------------------------------------------------------------

    async def search(self, workspace: Path, body: dict[str, Any]) -> dict[str, Any]:
        """Names or lines matching `query`, found by ripgrep (never by Python's `re`, whose
        backtracking holds the GIL of every role in the process), within a deadline."""
        query = _string(body, "query")
        mode = body.get("mode", "name")
        if mode not in ("name", "content"):
            raise ToolFailure("mode must be name or content")
        limit = max(1, min(int(body.get("max_results") or MAX_SEARCH_RESULTS), MAX_SEARCH_RESULTS))
        ignore_case, literal = not body.get("case_sensitive"), not body.get("regex")
        if not literal:
            await check_regex(query, ignore_case=ignore_case)
        given = str(body.get("path") or ".")
        root = await asyncio.to_thread(lambda: _directory_of(confine(workspace, given)))
        deadline = Deadline(SEARCH_SECONDS)
        listed = await list_files(
            workspace, root, skip=ALWAYS_HIDDEN, honour_ignores=True, deadline=deadline, limit=MAX_SEARCH_FILES
        )
        files = [item.decode("utf-8", "surrogateescape") for item in listed.items]
        results: list[dict[str, Any]] = []
        if mode == "name":
            hits, stopped = await matching(
                query, files, deadline=deadline, limit=limit + 1, ignore_case=ignore_case, literal=literal
            )
            results = [{"path": files[i]} for i in hits]
        else:
            lines, stopped = await search_files(
                workspace,
                files,
                query,
                deadline=deadline,
                limit=limit + 1,
                max_filesize=MAX_SEARCH_FILE,
                max_columns=4 * MAX_SEARCH_LINE_CHARS,
                ignore_case=ignore_case,
                literal=literal,
            )
            results = [{"path": m.path, "line": m.line, "text": m.text[:MAX_SEARCH_LINE_CHARS]} for m in lines]
        truncated = len(results) > limit or bool(stopped and stopped != "capped") or bool(listed.stopped)
        return {"ok": True, "results": results[:limit], "truncated": truncated}

    # -- control ----------------------------------------------------------------------------------

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        def workspace(body: dict[str, Any]) -> Path:
            given = body.get("workspace", "")
            found = workspace_for(given if isinstance(given, str) else "")
            if found is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return found

        def threaded(work: Callable[[Path, dict[str, Any]], dict[str, Any]]) -> Handler:
            async def handle(body: dict[str, Any]) -> Any:
                ws = workspace(body)
                try:
                    return await asyncio.to_thread(work, ws, body)
                except OSError as exc:
                    raise ToolFailure(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None

            return handle

        def direct(work: Callable[[Path, dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
            async def handle(body: dict[str, Any]) -> Any:
                return await work(workspace(body), body)

            return handle

        return {
            "fs.tree": threaded(lambda ws, b: self.tree(ws, str(b.get("path") or "."), bool(b.get("show_ignored")))),
            "fs.read": threaded(
                lambda ws, b: self.read(ws, _string(b, "path"), int(b.get("max_bytes") or MAX_READ_BYTES))
            ),
            "fs.save": threaded(self.save),
            "fs.create": threaded(self.create),
            "fs.delete": threaded(self.delete),
            "fs.rename": threaded(self.rename),
            "fs.search": direct(self.search),
        }


def _directory_of(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _kind(entry: os.DirEntry[str], st: os.stat_result) -> tuple[str, str]:
    if stat.S_ISLNK(st.st_mode):
        try:
            target = Path(entry.path).stat()
        except OSError:
            return "symlink", ""
        return "symlink", "dir" if stat.S_ISDIR(target.st_mode) else "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir", ""
    if stat.S_ISREG(st.st_mode):
        return "file", ""
    return "other", ""


def _unresolved(workspace: Path, given: str) -> Path:
    """The path `given` names with `.` and `..` folded but links not followed (for operations on
    a link itself)."""
    return Path(os.path.normpath(given if Path(given).is_absolute() else workspace / given))


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ToolFailure(f"a non-empty string {key} is required")
    return value


def _content(body: dict[str, Any]) -> bytes:
    data: bytes
    if isinstance(body.get("content"), str):
        data = str(body["content"]).encode("utf-8")
    elif isinstance(body.get("data"), str):
        try:
            data = base64.b64decode(body["data"], validate=True)
        except ValueError:
            raise ToolFailure("data must be base64") from None
    else:
        raise ToolFailure("content (text) or data (base64) is required")
    if len(data) > MAX_SAVE_BYTES:
        raise ToolFailure(f"{len(data):,} bytes is over the {MAX_SAVE_BYTES:,}-byte limit for one save")
    return data


def _regular(path: Path, name: str) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ToolFailure(f"not found: {name}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ToolFailure(f"{name} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise ToolFailure(f"{name} is not a regular file")
    return st


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename, keeping an existing file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".reliant")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
