"""The .gitignore rules of a workspace, as git applies them: the workspace's .gitignore and those of
every directory down to the one in question (deeper ones winning, later lines winning within one),
plus .git/info/exclude. Matching is `pathspec`'s implementation of git's wildmatch rules.

Used by the file tree and search (filesystem.py) and by the `glob` and `grep` tools, which walk the
tree with `GitIgnore.walk`."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
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

    def below(self, chain: list[_Rules], directory: Path) -> list[_Rules]:
        """The rules for entries of `directory`, given `chain`, those of its parent's entries."""
        rules = self._rules(directory / ".gitignore", directory)
        return [*chain, rules] if rules is not None else chain

    def covers(self, path: Path, is_dir: bool) -> bool:
        """Whether `path` itself (inside the root) is ignored."""
        return path != self.root and self.ignored(self.chain(path.parent), path, is_dir)

    def walk(self, root: Path, *, skip: Collection[str] = (), honour: bool = True) -> Iterator[os.DirEntry[str]]:
        """The non-directory entries under `root`, depth first in name order (a directory's own
        entries before those of its subdirectories). Directory links are neither followed nor
        listed; entries named in `skip`, and with `honour` those the rules ignore, are left out."""
        stack: list[tuple[Path, list[_Rules] | None]] = [(root, self.chain(root) if honour else None)]
        while stack:
            directory, chain = stack.pop()
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            subdirs: list[tuple[Path, list[_Rules] | None]] = []
            for entry in entries:
                if entry.name in skip:
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                path = directory / entry.name
                if chain and self.ignored(chain, path, is_dir):
                    continue
                if is_dir:
                    subdirs.append((path, self.below(chain, path) if chain is not None else None))
                elif not _links_to_directory(entry):
                    yield entry
            stack.extend(reversed(subdirs))


def _links_to_directory(entry: os.DirEntry[str]) -> bool:
    """Whether a (non-directory) entry is a link to a directory; a broken link or a link loop is not."""
    try:
        return entry.is_dir()
    except OSError:
        return False
