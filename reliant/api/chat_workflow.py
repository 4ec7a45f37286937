"""Which workflow a new chat runs, and with what: the project's workflows as its daemon hands them out
(or the built-ins alone), a chat's inputs checked against the chosen definition's typed inputs,
every problem named by its field (`inputs.max_rounds: must be an integer, not str`), and the models
its nodes name (for the api to check that they can be called)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reliant.api.context import ApiContext
from reliant.api.errors import InvalidArgumentError, InvalidFieldError, UnavailableError
from reliant.api.request_decoding import check_text
from reliant.clients.workflow_files import Library, ProjectFilesError, project_files
from reliant.domain.budgets import BUDGET_INPUT, budget_problem
from reliant.domain.chat import Project
from reliant.engine import InvalidInputs, resolve_inputs
from reliant.engine.definition import InputType
from reliant.engine.named_models import NamedModel, named_models
from reliant.errors import DaemonUnavailableError, quoted

DEFAULT_WORKFLOW = "agent"
MAX_INPUTS_CHARS = 200_000  # as a message: every run carries them through Temporal (2 MB of payloads at most)
MAX_PROBLEMS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class ChosenWorkflow:
    name: str
    inputs: dict[str, Any]  # as given, typed
    models: tuple[NamedModel, ...] = field(default=())


class InvalidInputsError(InvalidArgumentError):
    """A chat's inputs do not fit its workflow; `problems` maps each field (`inputs.<name>`) to why."""

    def __init__(self, workflow: str, problems: Mapping[str, str]) -> None:
        self.workflow = workflow
        self.problems = {f"inputs.{name}": why for name, why in problems.items()}
        details = "; ".join(f"{field}: {why}" for field, why in self.problems.items())
        super().__init__(f"{details} (workflow {workflow})")


async def load_library(ctx: ApiContext, project: Project | None) -> Library:
    """The workflows `project` can run (the built-ins alone without one)."""
    if project is None:
        return Library()
    try:
        return Library(await project_files(ctx.bus, project.daemon_id, project.path))
    except DaemonUnavailableError as exc:
        raise UnavailableError(f"cannot read the project's workflows: {exc}") from None
    except ProjectFilesError as exc:
        raise InvalidArgumentError(f"project {project.name}: {exc}") from None


def check_values(field: str, value: Any, depth: int = 0) -> None:
    """Every string inside an input value is storable (no NUL, no lone surrogate), named by its field."""
    if depth > 32:
        raise InvalidFieldError(field, "is nested too deeply")
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(field, str(key))
            check_values(f"{field}.{key}", item, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_values(f"{field}[{i}]", item, depth + 1)


def typed(kind: InputType, value: Any) -> Any:
    """JSON numbers of a ConnectRPC Struct are doubles: a whole one is an integer input's integer."""
    if kind is InputType.INTEGER and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


async def chat_workflow(
    ctx: ApiContext, project: Project, name: str, given: Mapping[str, Any] | None
) -> ChosenWorkflow:
    """The workflow a new chat runs, the inputs it keeps (as given, typed; defaults fill the rest at
    each run) and the models it names."""
    check_values("inputs", dict(given or {}))
    name = name.strip() or DEFAULT_WORKFLOW
    try:
        library = await load_library(ctx, project)
    except (UnavailableError, InvalidArgumentError):
        if name == DEFAULT_WORKFLOW and not given:
            # The default chat is made while its daemon is away, as it always could be: its run
            # reads the project's files (its own agent.yaml, if any) when the daemon is back.
            return ChosenWorkflow(name, {})
        raise
    entry = library.find(name)
    if entry is None:
        held = f" ({library.project.note})" if library.project.note else ""
        raise InvalidFieldError(
            "workflow", f"no workflow called {quoted(name)}{held}; the workflows are {', '.join(library.names())}"
        )
    definition, problems = library.check(entry.text)
    if definition is None or problems:
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN])
        more = f" (and {len(problems) - MAX_PROBLEMS_SHOWN} more)" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        raise InvalidFieldError("workflow", f"{name} cannot run: {shown}{more}")
    inputs = {}
    for key, value in (given or {}).items():
        spec = definition.input(key)
        inputs[key] = typed(spec.type, value) if spec is not None else value
    try:
        resolved = resolve_inputs(definition, inputs)
    except InvalidInputs as exc:
        raise InvalidInputsError(name, exc.problems) from None
    size = len(json.dumps(inputs))
    if size > MAX_INPUTS_CHARS:
        raise InvalidFieldError("inputs", f"are {size:,} characters of JSON; a chat's may have {MAX_INPUTS_CHARS:,}")
    budget = resolved.get(BUDGET_INPUT)
    if isinstance(budget, int | float) and not isinstance(budget, bool) and (problem := budget_problem(budget)):
        raise InvalidInputsError(name, {BUDGET_INPUT: problem})
    return ChosenWorkflow(name, inputs, named_models(definition, library.catalog))
