"""Path confinement: every path a tool touches must resolve to a place inside the call's workspace.

A path is taken relative to the workspace, or absolute if it lands inside it. It is resolved the way
the kernel would follow it (every symlink along the way, `..` after them); a path that does not exist
yet is resolved as far as it exists. Anything that ends up outside the workspace is refused.

A symlink swapped in between this check and the tool's open is not caught; the daemon runs with the
user's own rights, so this guards the model's mistakes, not a hostile local user.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from reliant.daemon.tools.base import ToolFailure


class OutsideWorkspaceError(ToolFailure):
    def __init__(self, given: str, workspace: Path, resolved: Path) -> None:
        self.given = given
        self.workspace = workspace
        self.resolved = resolved
        plain = Path(os.path.normpath(given)) == resolved
        what = f"{given} is" if plain else f"{given} resolves to {resolved},"
        super().__init__(f"refused: {what} outside the workspace {workspace}")


def confine(workspace: Path, given: str) -> Path:
    """The real path `given` names, which lies inside `workspace` (itself already resolved).

    Raises ToolFailure (OutsideWorkspaceError when it escapes)."""
    if not given:
        raise ToolFailure("refused: the path is empty")
    if "\0" in given:
        raise ToolFailure(f"refused: the path {given!r} contains a NUL byte")
    raw = Path(given)
    joined = raw if raw.is_absolute() else workspace / raw
    try:
        real = Path(os.path.realpath(joined, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ToolFailure(f"refused: {given} goes through a symlink loop") from None
        # Not there (yet), or not reachable: resolve what exists; the tool reports the rest.
        real = Path(os.path.realpath(joined))
    if real != workspace and not real.is_relative_to(workspace):
        raise OutsideWorkspaceError(given, workspace, real)
    return real


def shown(workspace: Path, path: Path) -> str:
    """How a confined path is shown to the model: relative to the workspace, `/`-separated."""
    try:
        rel = path.relative_to(workspace)
    except ValueError:
        return str(path)
    return rel.as_posix() if rel.parts else "."
