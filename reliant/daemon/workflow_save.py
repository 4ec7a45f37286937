"""Saving a project's workflow file on the user's machine, for the api's SaveWorkflow.

- `ctl.workflows.save {workspace, name, text}` -> `{"ok": true, "path", "created", "trust",
  "trust_renewed", "note"}`: writes `<workspace>/.reliant/workflows/<name>.yaml` (the caller has
  validated the text). The file is written whole or not at all (a temporary file renamed into
  place), and never through a symlink: `.reliant`, `.reliant/workflows` and the file are opened
  without following links, so a link in the repository cannot send the write elsewhere.

A workflow file is gated by trust (trust.py): writing one changes the project's fingerprint. Saving
through reliant is the user's own act, so a project that was trusted (or had nothing to trust)
before the write is trusted again for exactly the new content: the files after the write must be
the files before it with this one file changed. When anything else changed meanwhile (a `git pull`
under our feet), nothing is trusted on the user's behalf and the answer says so. Neither is a
script of the project the saved workflow runs (trust_scripts.py) that was not trusted as it is now:
the user wrote the step, not necessarily the script, and trusting shows it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.trust import WORKFLOWS_DIR, Snapshot, TrustState, TrustStore, snapshot

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
Refresh = Callable[[Path], Awaitable[None]]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAX_TEXT_BYTES = 1024 * 1024
_DIRS = WORKFLOWS_DIR.split("/")  # .reliant, workflows


class SaveRefused(ToolFailure):
    """The file cannot be written there (a link in the way, not a directory, no permission)."""


def _open_dir(parent: int, name: str) -> int:
    """The directory `name` inside `parent`, made if missing, never through a symlink."""
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
    except FileExistsError:
        pass
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError as exc:
        raise SaveRefused(f"refused: {name} is a symlink or not a directory ({exc.strerror})") from None


def write_workflow(root: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """Write `.reliant/workflows/<name>.yaml` under `root` atomically; (its path, whether it is new)."""
    filename = f"{name}.yaml"
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for part in _DIRS:
            fds.append(_open_dir(fds[-1], part))
        folder = fds[-1]
        try:
            existing = os.stat(filename, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise SaveRefused(f"refused: {WORKFLOWS_DIR}/{filename} exists and is not a regular file")
        temporary = f".{filename}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, filename, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        os.fsync(folder)
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return root / WORKFLOWS_DIR / filename, existing is None


def _only_change(before: Snapshot, after: Snapshot, rel: str, data: bytes) -> bool:
    """The files after the write are those before it with exactly `rel` set to `data`."""
    expected = {**before.files, rel: data}
    problems = {k: v for k, v in before.problems.items() if k != rel}
    return dict(after.files) == expected and dict(after.problems) == problems


def _new_scripts(before: Snapshot, after: Snapshot) -> list[str]:
    """The scripts run after the write that were not run, with the same content, before it."""
    return sorted(rel for rel, data in after.scripts.items() if before.scripts.get(rel) != data)


def trust_note(was: TrustState, state: TrustState, renewed: bool, scripts: list[str]) -> str:
    if scripts and was.allows and not renewed:
        return (
            f"the saved workflow runs {', '.join(scripts)} of the project, whose content is not trusted as it is"
            " now: it runs once you trust the project (`reliant trust`)"
        )
    if renewed and was is TrustState.NONE:
        return "the project is trusted for its files as they are now (it had nothing to trust before)"
    if renewed:
        return "the project stays trusted, for its files as they are now"
    if was.allows:
        return (
            "other files of the project changed while it was saved: nothing of them runs until you look"
            " again (`reliant trust`)"
        )
    if state is TrustState.CHANGED:
        return (
            "the project's files changed since it was trusted: the saved workflow runs once you trust them"
            " again (`reliant trust`)"
        )
    if state is TrustState.UNTRUSTED:
        return "the project is not trusted: the saved workflow runs once you trust it (`reliant trust`)"
    return ""


class WorkflowSaver:
    """`ctl.workflows.save`: write a project's workflow file, keeping the user's trust when it is theirs."""

    def __init__(self, trust: TrustStore, refresh: Refresh | None = None) -> None:
        self.trust = trust
        self.refresh = refresh
        self._lock = asyncio.Lock()  # one save at a time: each one's before/after is its own

    async def save(self, root: Path, name: str, text: str) -> dict[str, Any]:
        if not NAME.fullmatch(name):
            raise ToolFailure(f"refused: {name!r} is not a workflow file name (letters, digits, _ and -; up to 64)")
        data = text.encode("utf-8")
        if len(data) > MAX_TEXT_BYTES:
            raise ToolFailure(f"refused: the workflow is {len(data):,} bytes; the limit is {MAX_TEXT_BYTES:,}")
        rel = f"{WORKFLOWS_DIR}/{name}.yaml"
        async with self._lock:
            before = await asyncio.to_thread(snapshot, root)
            was = self.trust.state(before)
            try:
                path, created = await asyncio.to_thread(write_workflow, root, name, data)
            except PermissionError as exc:
                raise SaveRefused(f"refused: cannot write {rel}: {exc.strerror}") from None
            after = await asyncio.to_thread(snapshot, root)
            scripts = _new_scripts(before, after)
            renewed = was.allows and not scripts and _only_change(before, after, rel, data)
            if renewed:
                self.trust.grant(root, after.fingerprint)
            if self.refresh is not None:
                await self.refresh(root)
            state = self.trust.state(after)
        return {
            "ok": True,
            "path": str(path),
            "created": created,
            "trust": state.value,
            "trust_renewed": renewed,
            "note": trust_note(was, state, renewed, scripts),
        }

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        async def save(body: dict[str, Any]) -> Any:
            given = body.get("workspace", "")
            path = workspace_for(given) if isinstance(given, str) and given else None
            if path is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            name, text = body.get("name"), body.get("text")
            if not isinstance(name, str) or not isinstance(text, str):
                raise ToolFailure("name and text are required strings")
            return await self.save(path, name, text)

        return {"workflows.save": save}
