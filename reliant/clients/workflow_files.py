"""The workflows a project can run, as the api shows them and the worker runs them: the built-ins
shipped in the package and the project's own `.reliant/workflows/*.yaml` (with
`.reliant/presets/*.yaml`), which its daemon hands out only while the user trusts them
(daemon/workflow_files.py). A project file with a built-in's name shadows it; both are listed, and
which one runs is said."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from reliant import workflow_library as library
from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.engine import Catalog, Definition, Problem, SourceText, check_definition
from reliant.errors import ReliantError

READ_TIMEOUT = 10.0
BUILTIN = "builtin"
PROJECT = "project"


class ProjectFilesError(ReliantError):
    """The project's daemon answered, but could not read its workflow files."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the daemon could not read the project's workflow files: {detail}")


@dataclass(frozen=True, slots=True)
class ProjectFiles:
    """A project's own definitions, as its daemon handed them out."""

    workflows: tuple[SourceText, ...] = ()
    presets: tuple[SourceText, ...] = ()
    trust: str = ""  # none | untrusted | changed | trusted
    note: str = ""  # why there are none, when the project is not trusted
    problems: dict[str, str] = field(default_factory=dict)  # file -> why it could not be read


def _texts(items: Any) -> tuple[SourceText, ...]:
    return tuple(
        SourceText(str(i["name"]), str(i["source"]), str(i["text"]))
        for i in items or ()
        if isinstance(i, dict) and {"name", "source", "text"} <= i.keys()
    )


async def project_files(bus: Bus, daemon_id: str, workspace: str) -> ProjectFiles:
    """The project's files through its daemon (DaemonUnavailableError when it cannot be asked)."""
    answer = await control(bus, daemon_id, "workflows.read", {"workspace": workspace}, timeout=READ_TIMEOUT)
    if not isinstance(answer, dict) or not answer.get("ok"):
        raise ProjectFilesError(str(answer.get("error") if isinstance(answer, dict) else answer))
    problems = answer.get("problems")
    return ProjectFiles(
        workflows=_texts(answer.get("workflows")),
        presets=_texts(answer.get("presets")),
        trust=str(answer.get("trust", "")),
        note=str(answer.get("note", "")),
        problems={str(k): str(v) for k, v in problems.items()} if isinstance(problems, dict) else {},
    )


@functools.cache
def _builtins() -> tuple[tuple[SourceText, ...], tuple[SourceText, ...]]:
    return tuple(library.builtin_workflows()), tuple(library.builtin_presets())


@dataclass(frozen=True, slots=True)
class Entry:
    """One workflow file a project sees."""

    text: SourceText
    origin: str  # builtin | project
    used: bool  # False: a project file of the same name shadows this built-in
    shadows: str = ""  # a project file that shadows a built-in: the built-in's source

    @property
    def name(self) -> str:
        return self.text.name


class Library:
    """The workflows and presets of one project (or the built-ins alone), and checks against them."""

    def __init__(self, project: ProjectFiles | None = None) -> None:
        self.project = project or ProjectFiles()
        builtin_flows, builtin_presets = _builtins()
        self.workflows = [*builtin_flows, *self.project.workflows]  # later entries shadow earlier ones
        self.presets = [*builtin_presets, *self.project.presets]
        self._builtin_names = {t.name: t for t in builtin_flows}
        self._checked: dict[str, tuple[Definition | None, list[Problem]]] = {}

    @functools.cached_property
    def catalog(self) -> Catalog:
        return library.catalog(self.workflows, self.presets)

    def entries(self) -> list[Entry]:
        """Every workflow by name; a shadowed built-in right before the project file that shadows it."""
        own = {t.name: t for t in self.project.workflows}
        out: list[Entry] = []
        for name in sorted({*self._builtin_names, *own}):
            builtin = self._builtin_names.get(name)
            if builtin is not None:
                out.append(Entry(builtin, BUILTIN, used=name not in own))
            if name in own:
                out.append(Entry(own[name], PROJECT, used=True, shadows=builtin.source if builtin else ""))
        return out

    def find(self, name: str) -> Entry | None:
        """The workflow that runs under this name."""
        return next((e for e in self.entries() if e.name == name and e.used), None)

    def names(self) -> list[str]:
        return sorted({e.name for e in self.entries()})

    def check(self, text: SourceText) -> tuple[Definition | None, list[Problem]]:
        """A file's definition and every problem it has, against this project's workflows and presets."""
        if text.source not in self._checked:
            self._checked[text.source] = check_definition(text.text, text.source, self.catalog)
        return self._checked[text.source]

    def check_new(self, text: str, source: str) -> tuple[Definition | None, list[Problem]]:
        """A text that is not (yet) one of the files: as if it were added to the project."""
        candidate = SourceText(source.rsplit("/", 1)[-1].removesuffix(".yaml"), source, text)
        catalog = library.catalog([*self.workflows, candidate], self.presets)
        return check_definition(text, source, catalog)
