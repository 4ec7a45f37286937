"""The .gitignore rules of a workspace, as git applies them: the workspace's .gitignore and those of
every directory down to the one in question (deeper ones winning, later lines winning within one),
plus .git/info/exclude. Matching is `pathspec`'s implementation of git's wildmatch rules.

Used by the file tree (filesystem.py), and by the `glob` and `grep` tools to tell whether the
directory searched is itself ignored; the searches themselves list files with ripgrep, which
applies the same rules (tools/ripgrep.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pathspec


@dataclass(frozen=True, slots=True)
class _Rules:
    base: Path
    spec: pathspec.GitIgnoreSpec


class GitIgnore:
    """The .gitignore rules that apply inside one workspace, compiled once per file version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[tuple[int, int], _Rules | None]] = {}

    def _rules(self, file: Path, base: Path) -> _Rules | None:
        try:
            st = file.stat()
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(file)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            rules: _Rules | None = _Rules(base, pathspec.GitIgnoreSpec.from_lines(lines))
        except (OSError, ValueError):
            rules = None
        self._cache[file] = (key, rules)
        return rules

    def chain(self, directory: Path) -> list[_Rules]:
        """The rules that apply to entries of `directory`, outermost first."""
        found: list[_Rules] = []
        exclude = self._rules(self.root / ".git" / "info" / "exclude", self.root)
        if exclude is not None:
            found.append(exclude)
        rel = directory.relative_to(self.root)
        current = self.root
        for part in ("", *rel.parts):
            current = current / part if part else current
            rules = self._rules(current / ".gitignore", current)
            if rules is not None:
                found.append(rules)
        return found

    @staticmethod
    def ignored(chain: list[_Rules], path: Path, is_dir: bool) -> bool:
        verdict: bool | None = None
        for rules in chain:
            rel = path.relative_to(rules.base).as_posix() + ("/" if is_dir else "")
            include = rules.spec.check_file(rel).include
            if include is not None:
                verdict = include
        return bool(verdict)

    def covers(self, path: Path, is_dir: bool) -> bool:
        """Whether `path` itself (inside the root) is ignored."""
        return path != self.root and self.ignored(self.chain(path.parent), path, is_dir)
