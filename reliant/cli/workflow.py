"""`reliant workflow schema` and `reliant workflow validate FILE…`: the workflow format from the
terminal, with no running reliant needed. The engine is imported inside the commands (CEL's import
is not free), so `reliant --help` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, TextIO

import typer

from reliant.cli.app import app

workflow_app = typer.Typer(
    help="Workflow definitions: the format's JSON Schema, and validating files.", no_args_is_help=True
)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of workflow files (point your editor at it)."""
    from reliant import workflow_library

    typer.echo(json.dumps(workflow_library.schema(), indent=2))


@workflow_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Workflow files (or preset files under .reliant/presets/)")],
) -> None:
    """Print every problem as file:line:col: message; exit 1 if there is any."""
    import sys

    raise typer.Exit(validate_files(files, sys.stdout))


def validate_files(paths: list[Path], out: TextIO) -> int:
    """Check each file against the built-ins, its project's workflows and presets (for a file in
    `.reliant/workflows/`) and the other files given; 0 when all are valid, else 1."""
    from reliant import workflow_library as library
    from reliant.engine import SourceText, check_definition, parse_preset

    texts: dict[Path, str] = {}
    problems = 0
    for path in paths:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.write(f"{path}: cannot read: {exc.strerror if isinstance(exc, OSError) else exc}\n")
            problems += 1
    workflows = library.builtin_workflows()
    presets = library.builtin_presets()
    projects: set[Path] = set()
    for path in texts:
        project = _project_of(path)
        if project is not None:
            projects.add(project)
    for project in sorted(projects):
        workflows += library.project_workflows(project)
        presets += library.project_presets(project)
    workflows += [SourceText(p.stem, str(p), text) for p, text in texts.items() if not _is_preset(p)]
    presets += [SourceText(p.stem, str(p), text) for p, text in texts.items() if _is_preset(p)]
    catalog = library.catalog(workflows, presets)
    for path, text in texts.items():
        if _is_preset(path):
            found = parse_preset(text, str(path), path.stem)[1]
        else:
            found = check_definition(text, str(path), catalog)[1]
        for problem in found:
            out.write(f"{problem}\n")
        problems += len(found)
    if problems:
        return 1
    out.write(f"{len(texts)} file{'s' if len(texts) != 1 else ''} valid\n")
    return 0


def _is_preset(path: Path) -> bool:
    return path.resolve().parent.name == "presets"


def _project_of(path: Path) -> Path | None:
    """The project a file in `<project>/.reliant/workflows/` (or `presets/`) belongs to."""
    folder = path.resolve().parent
    if folder.name in ("workflows", "presets") and folder.parent.name == ".reliant":
        return folder.parent.parent
    return None
