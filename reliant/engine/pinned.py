"""A definition as a run pins it: the workflow's text and the texts of the presets it names, so the
run never depends on files that may change (or vanish) while it goes on. Plain dataclasses: they
travel as a Temporal payload and are parsed again, deterministically, inside workflow code."""

# No `from __future__ import annotations`: Temporal's data converter resolves these dataclasses'
# field types, and string annotations fail to resolve inside the workflow sandbox when this module
# was imported only as part of the package.

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reliant.engine.definition import AgentNode, CallLlmNode, Definition
from reliant.engine.parse import parse_definition, parse_preset
from reliant.engine.validate import Catalog, load_definition


@dataclass(frozen=True)
class SourceText:
    """A file's text and the name problems are reported under."""

    name: str  # the workflow's or preset's name (the file stem)
    source: str  # `builtin/tdd.yaml`, or the file's path
    text: str


@dataclass(frozen=True)
class Pinned:
    workflow: SourceText
    presets: list[SourceText] = field(default_factory=list)

    def load(self, catalog: Catalog | None = None) -> Definition:
        """The definition, its presets resolved from the pinned texts (InvalidDefinition if not valid).
        `catalog.workflows`, when given, checks the workflows it calls."""
        if catalog is None:  # a pure function of the texts: a run loads the same ones several times
            return _load(self.workflow, tuple(self.presets))
        return _load_from(self.workflow, self.presets, catalog.workflows)


@functools.lru_cache(maxsize=64)
def _load(workflow: SourceText, presets: tuple[SourceText, ...]) -> Definition:
    return _load_from(workflow, presets, None)


def _load_from(
    workflow: SourceText, presets: Sequence[SourceText], workflows: Mapping[str, Definition] | None
) -> Definition:
    parsed = {}
    for item in presets:
        preset, _ = parse_preset(item.text, item.source, item.name)
        if preset is not None:
            parsed[preset.name] = preset
    return load_definition(workflow.text, workflow.source, Catalog(workflows, parsed))


def pin(workflow: SourceText, presets: list[SourceText]) -> Pinned:
    """`workflow` with the presets it names (of `presets`, later ones shadowing earlier ones)."""
    parsed = parse_definition(workflow.text, workflow.source).definition
    named = {p.name: p for p in presets}
    used: set[str] = set()
    if parsed is not None:
        used = {n.llm.preset for _, n in parsed.walk() if isinstance(n, CallLlmNode | AgentNode) and n.llm.preset}
        used -= set(parsed.presets)
    return Pinned(workflow, [named[name] for name in sorted(used) if name in named])
