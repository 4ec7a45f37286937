"""Where workflow definitions and presets come from: the built-ins shipped in `reliant/engine/builtin/`
and a project's `.reliant/workflows/*.yaml` and `.reliant/presets/*.yaml` (a project file with a
built-in's name shadows it). This module reads the files; the engine itself only ever sees text."""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from reliant.engine import Catalog, Definition, Preset, SourceText, parse_definition, parse_preset

BUILTIN = resources.files("reliant.engine") / "builtin"
SCHEMA = resources.files("reliant.engine") / "workflow.schema.json"
BUILTIN_SOURCE = "builtin"  # the source name of a built-in: builtin/tdd.yaml


def schema() -> dict[str, Any]:
    """The JSON Schema of the workflow format."""
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def builtin_workflows() -> list[SourceText]:
    return _texts(BUILTIN, f"{BUILTIN_SOURCE}/")


def builtin_presets() -> list[SourceText]:
    return _texts(BUILTIN / "presets", f"{BUILTIN_SOURCE}/presets/")


def project_workflows(project: Path) -> list[SourceText]:
    return _files(project / ".reliant" / "workflows")


def project_presets(project: Path) -> list[SourceText]:
    return _files(project / ".reliant" / "presets")


def catalog(workflows: list[SourceText], presets: list[SourceText]) -> Catalog:
    """What definitions may name, later entries shadowing earlier ones. Files are parsed, not
    validated: each file's own problems are reported when that file is checked."""
    known: dict[str, Definition] = {}
    for item in workflows:
        parsed = parse_definition(item.text, item.source)
        if parsed.definition is not None and parsed.definition.name:
            known[parsed.definition.name] = parsed.definition
    named: dict[str, Preset] = {}
    for item in presets:
        preset, _ = parse_preset(item.text, item.source, item.name)
        if preset is not None:
            named[preset.name] = preset
    return Catalog(workflows=known, presets=named)


def _texts(folder: Traversable, prefix: str) -> list[SourceText]:
    entries = sorted((e for e in folder.iterdir() if e.name.endswith(".yaml")), key=lambda e: e.name)
    return [SourceText(e.name.removesuffix(".yaml"), prefix + e.name, e.read_text(encoding="utf-8")) for e in entries]


def _files(folder: Path) -> list[SourceText]:
    if not folder.is_dir():
        return []
    return [SourceText(p.stem, str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))]
