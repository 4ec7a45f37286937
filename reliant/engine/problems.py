"""Where something is in a definition file, and what is wrong there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reliant.errors import ReliantError


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source: 1-based line and column, as editors count them."""

    source: str  # the file name (or any label the caller gave the text)
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition, at the place it is wrong."""

    at: Position
    message: str

    def __str__(self) -> str:
        return f"{self.at}: {self.message}"


class InvalidDefinition(ReliantError):
    """A workflow or preset definition has problems; `problems` lists every one, in file order."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.at.source, p.at.line, p.at.column))
        count = len(self.problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{source}: {count} problem{'s' if count != 1 else ''}\n{lines}")
