"""The directories on this machine a project could live in, for choosing one (the add-project
picker): `ctl.dirs.list {path?, show_hidden?}`.

`path` may start with `~` (this daemon's user's home); empty means the home directory, or the first
of the daemon's workspace roots when home lies outside them. The listing is confined like the file
service confines a workspace, with the rules a workspace itself follows (domain/workspace_policy.py):
every path is resolved (symlinks followed) first; on a daemon given workspace roots nothing outside
them is listed; nothing inside a system directory or a reliant data dir (its `secrets/`) is ever
listed, and such directories are left out of a listing. Only directories are shown, never files.

Answer: `{"ok", "path", "parent", "home", "usable", "reason", "entries": [{name, path, git, usable,
reason}], "truncated"}`. `usable` says whether the directory could be a project (`reason` why not);
`parent` is "" at the top of what may be listed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.workspaces import expand_home
from reliant.domain.workspace_policy import SYSTEM_DIRECTORIES, outside_roots, workspace_refusal

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

MAX_ENTRIES = 500


class DirectoryBrowser:
    def __init__(self, data_dirs: Iterable[Path] = (), roots: Iterable[Path] = ()) -> None:
        self.data_dirs = [PurePosixPath(os.path.realpath(p)) for p in data_dirs]
        self.roots = [PurePosixPath(os.path.realpath(p)) for p in roots]

    def _closed(self, path: PurePosixPath) -> str:
        """Why `path` may not be listed ("" when it may)."""
        if self.roots and not any(path == r or path.is_relative_to(r) for r in self.roots):
            return outside_roots(path, self.roots)
        for system in SYSTEM_DIRECTORIES:
            if path == system or path.is_relative_to(system):
                return f"{system} is a system directory"
        for data_dir in self.data_dirs:
            inside = path == data_dir or path.is_relative_to(data_dir)
            if inside and workspace_refusal(path, [data_dir]):  # all of it but the demo project
                return "it is inside reliant's data dir, which holds its secrets"
        return ""

    def _usable(self, path: PurePosixPath) -> str:
        """Why `path` cannot be a project here ("" when it can)."""
        return workspace_refusal(path, self.data_dirs) or outside_roots(path, self.roots)

    def _start(self) -> str:
        home = os.path.realpath(Path.home())
        if self.roots and self._closed(PurePosixPath(home)):
            return str(self.roots[0])
        return home

    def list(self, given: str = "", show_hidden: bool = False) -> dict[str, Any]:
        if "\0" in given:
            raise ToolFailure("refused: the path contains a NUL byte")
        raw = expand_home(given.strip()) or self._start()
        if not raw.startswith("/"):
            raise ToolFailure(f"the path must be absolute or start with ~, got {given!r}")
        path = Path(os.path.realpath(raw))
        pure = PurePosixPath(path)
        if reason := self._closed(pure):
            raise ToolFailure(f"refused: {given or path} cannot be listed: {reason}")
        if not path.is_dir():
            raise ToolFailure(f"no such directory: {given or path}")
        entries: list[dict[str, Any]] = []
        truncated = False
        try:
            children = sorted(os.scandir(path), key=lambda e: e.name.lower())
        except OSError as exc:
            raise ToolFailure(f"cannot list {path}: {exc.strerror or exc}") from None
        for entry in children:
            if entry.name.startswith(".") and not show_hidden:
                continue
            try:
                if not entry.is_dir():  # follows a symlink to a directory
                    continue
            except OSError:
                continue
            real = PurePosixPath(os.path.realpath(entry.path))
            if self._closed(real):
                continue  # a system directory, the data dir, outside the roots: not offered at all
            if len(entries) >= MAX_ENTRIES:
                truncated = True
                break
            reason = self._usable(real)
            entries.append(
                {
                    "name": entry.name,
                    "path": str(real),
                    "git": (Path(entry.path) / ".git").exists(),
                    "usable": not reason,
                    "reason": reason,
                }
            )
        parent = pure.parent
        reason = self._usable(pure)
        return {
            "ok": True,
            "path": str(path),
            "parent": "" if parent == pure or self._closed(parent) else str(parent),
            "home": str(Path.home()),
            "usable": not reason,
            "reason": reason,
            "entries": entries,
            "truncated": truncated,
        }

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        async def list_(body: dict[str, Any]) -> Any:
            path = body.get("path", "")
            if not isinstance(path, str):
                raise ToolFailure("path must be a string")
            return await asyncio.to_thread(self.list, path, bool(body.get("show_hidden")))

        return {"dirs.list": list_}
