"""The directories a daemon may work in: configured ones, plus those added while it runs.

A path given as `~/…` is taken under the home directory of the user the daemon runs as.

Added workspaces are kept in `<data-dir>/daemon-workspaces.json` ({"workspaces": ["/abs/path", ...]})
and merged with the configured ones when the daemon starts.

A directory is refused (when configured, added or loaded) if its real path is the filesystem root,
a system directory, or at, around or inside a reliant data dir (domain/workspace_policy.py); and,
on a daemon given workspace roots (`reliant daemon start --workspace ROOT`), if it is outside them.
An added workspace can be removed again (its files stay where they are); a configured one stays as
long as it is configured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from reliant.appliance.datadir import write_json
from reliant.domain.workspace_policy import outside_roots, workspace_refusal
from reliant.errors import ReliantError

logger = logging.getLogger(__name__)

WORKSPACES_FILE = "daemon-workspaces.json"


def expand_home(given: str) -> str:
    """`~` and `~/x` as this daemon's user's home (a path typed by the user); anything else unchanged."""
    if given == "~" or given.startswith("~/"):
        return str(Path(given).expanduser())
    return given


class WorkspaceError(ReliantError):
    """A directory cannot be a workspace."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot add workspace {path}: {reason}")


class Workspaces:
    def __init__(
        self,
        configured: Iterable[Path] = (),
        state_file: Path | None = None,
        *,
        data_dirs: Iterable[Path] = (),
        roots: Iterable[Path] = (),
    ) -> None:
        self.state_file = state_file
        self.data_dirs = [PurePosixPath(p.expanduser().resolve()) for p in data_dirs]
        self.roots = [PurePosixPath(p.expanduser().resolve()) for p in roots]
        self._paths: list[Path] = []
        self._added: list[Path] = []
        for path in configured:
            resolved = path.expanduser().resolve()
            if refusal := self.refusal(resolved):
                logger.error("workspace %s refused: %s", path, refusal)
                continue
            if resolved not in self._paths:
                self._paths.append(resolved)

    def refusal(self, resolved: Path) -> str:
        """Why the real path `resolved` may not be a workspace here ("" when it may)."""
        pure = PurePosixPath(resolved)
        return workspace_refusal(pure, self.data_dirs) or outside_roots(pure, self.roots)

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    def load(self) -> None:
        """Merge the persisted workspaces; ones that are no longer directories are skipped."""
        if self.state_file is None:
            return
        try:
            doc = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            logger.warning("ignoring %s: %s", self.state_file, exc)
            return
        items = doc.get("workspaces") if isinstance(doc, dict) else None
        for item in items if isinstance(items, list) else []:
            path = Path(str(item))
            if not path.is_absolute() or not path.is_dir():
                logger.warning("workspace %s from %s is not a directory; skipped", item, self.state_file)
                continue
            resolved = path.resolve()
            if refusal := self.refusal(resolved):
                logger.warning("workspace %s from %s refused: %s", item, self.state_file, refusal)
                continue
            if resolved not in self._added:
                self._added.append(resolved)
            if resolved not in self._paths:
                self._paths.append(resolved)

    def add(self, given: str | Path) -> Path:
        """Register an existing directory (an absolute path, or one under `~`) and persist it;
        returns its real path."""
        path = Path(expand_home(str(given)))
        # An error names the path as typed, and what a leading ~ made of it.
        named = str(given) if str(path) == str(given) else f"{given} ({path})"
        if not str(given) or not path.is_absolute():
            raise WorkspaceError(named, "the path must be absolute (or start with ~)")
        resolved = path.resolve()
        if not resolved.exists():
            raise WorkspaceError(named, "no such directory")
        if not resolved.is_dir():
            raise WorkspaceError(named, "not a directory")
        if refusal := self.refusal(resolved):
            raise WorkspaceError(named, refusal)
        if resolved in self._paths:
            return resolved
        if self.state_file is not None:
            try:
                self.state_file.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.state_file, {"workspaces": [str(p) for p in [*self._added, resolved]]})
            except OSError as exc:
                raise WorkspaceError(str(given), f"could not save {self.state_file}: {exc}") from None
        self._added.append(resolved)
        self._paths.append(resolved)
        return resolved

    def remove(self, given: str | Path) -> Path | None:
        """Stop serving an added workspace (nothing on disk is touched) and return its real path;
        None if it was not added (unknown, or configured on the command line, which keeps it)."""
        path = Path(given)
        if not path.is_absolute():
            raise WorkspaceError(str(given), "the path must be absolute")
        resolved = path.resolve()
        if resolved not in self._added:
            return None
        remaining = [p for p in self._added if p != resolved]
        if self.state_file is not None:
            try:
                write_json(self.state_file, {"workspaces": [str(p) for p in remaining]})
            except OSError as exc:
                raise WorkspaceError(str(given), f"could not save {self.state_file}: {exc}") from None
        self._added = remaining
        self._paths.remove(resolved)
        return resolved

    def find(self, requested: str) -> Path | None:
        """The directory a call works in: `requested` if it is a registered workspace or a directory
        inside one; the first workspace if nothing was requested; None otherwise."""
        if not requested:
            return self._paths[0] if self._paths else None
        path = Path(requested)
        if not path.is_absolute():
            return None
        path = path.resolve()
        for workspace in self._paths:
            if path == workspace:
                return workspace
            if path.is_relative_to(workspace) and path.is_dir():
                return path
        return None
