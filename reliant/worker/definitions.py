"""Where a run's definition comes from: the built-ins shipped in the package, and the project's own
`.reliant/workflows/*.yaml` and `.reliant/presets/*.yaml`, read by the project's daemon and handed out
only while the user trusts them (reliant/daemon/workflow_files.py), loaded as the api loads them
(reliant/clients/workflow_files.py). A project file with a built-in's name shadows it. The chosen
definition is pinned (its text and its presets') and checked in full before a run starts with it."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.bus import Bus
from reliant.clients import workflow_files
from reliant.clients.workflow_files import BUILTIN, Library, ProjectFiles, ProjectFilesError
from reliant.engine import InvalidDefinition, Pinned, pin
from reliant.engine.definition import RunNode, WorkflowNode
from reliant.engine.named_models import NamedModel, named_models
from reliant.errors import ReliantError

MAX_PROBLEMS_SHOWN = 5
MODE_STRICTNESS = {"plan": 0, "manual": 1, "auto": 2}  # a tool gate's modes, most asking first


class DefinitionProblem(ReliantError):
    """The workflow cannot run: unknown, untrusted, or not valid (the message says which, and where)."""

    def __init__(self, workflow: str, message: str) -> None:
        self.workflow = workflow
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Chosen:
    pinned: Pinned
    source: str  # builtin/<name>.yaml, or the project file's path
    note: str  # why the project's own files were not used ("" when they were, or there are none)


async def project_files(bus: Bus, daemon_id: str, workspace: str) -> ProjectFiles:
    """The project's files through its daemon (DaemonUnavailableError when it cannot be asked; none,
    with a note saying why, when it refuses: a run then has the built-ins)."""
    try:
        return await workflow_files.project_files(bus, daemon_id, workspace)
    except ProjectFilesError as exc:  # e.g. a project the daemon does not serve
        return ProjectFiles(note=f"the project's own workflows and presets could not be read: {exc.detail}")


def choose(name: str, project: ProjectFiles) -> Chosen:
    """The definition called `name` (the project's shadows a built-in), pinned with its presets and
    checked against everything it may name; DefinitionProblem if it cannot run."""
    known = Library(project)
    entry = known.find(name)
    if entry is None:
        untrusted = f" ({project.note})" if project.note else ""
        raise DefinitionProblem(
            name, f"no workflow called {name!r}{untrusted}; the workflows are {', '.join(known.names())}"
        )
    chosen = entry.text
    pinned = pin(chosen, known.presets)
    try:
        pinned.load(known.catalog)
    except InvalidDefinition as exc:
        shown = "; ".join(str(p) for p in exc.problems[:MAX_PROBLEMS_SHOWN])
        more = len(exc.problems) - MAX_PROBLEMS_SHOWN
        extra = f" (and {more} more: `reliant workflow validate {chosen.source}`)" if more > 0 else ""
        raise DefinitionProblem(name, f"workflow {name} is not valid: {shown}{extra}") from None
    return Chosen(pinned, chosen.source, project.note if entry.origin == BUILTIN else "")


def models(name: str, project: ProjectFiles) -> tuple[NamedModel, ...]:
    """The models workflow `name` (and each workflow it runs) names literally, each with the node
    that names it, as the api checks a chat's workflow (named_models)."""
    known = Library(project).catalog
    definition = (known.workflows or {}).get(name)
    return named_models(definition, known) if definition is not None else ()


def unasked(name: str, project: ProjectFiles, mode: str) -> str:
    """What workflow `name` (or a workflow it runs) would do without the asking the chat's `mode`
    wants, in words ("" when nothing): a `run` step runs its shell command past every gate, and a
    step with a mode of its own may ask less. A sub-agent the model spawns in a manual or plan chat
    runs none of that: the model, not the user, chose its workflow."""
    if mode == "auto":
        return ""
    strictness = MODE_STRICTNESS.get(mode, 0)
    known = Library(project).catalog.workflows or {}
    seen: set[str] = set()
    waiting = [name]
    while waiting:
        current = waiting.pop()
        definition = known.get(current)
        if current in seen or definition is None:  # an unknown one is refused when chosen
            continue
        seen.add(current)
        for _, node in definition.walk():
            if isinstance(node, RunNode):
                return f"workflow {current} runs the shell command of its step {node.id} without asking"
            own = getattr(node, "mode", None)
            if own is not None and (own.expressions() or MODE_STRICTNESS.get(own.text, 3) > strictness):
                return f"workflow {current} runs its step {node.id} in a mode of its own ({own.text})"
            if isinstance(node, WorkflowNode):
                waiting.append(node.workflow)
    return ""
