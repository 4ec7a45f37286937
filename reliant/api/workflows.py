"""Workflow definitions from the outside: the service layer behind the WorkflowService and its REST
twins. The files themselves are the daemon's to read and write (ctl.workflows.read / .save, gated by
the project's trust); checking them is the engine's (validate.py); runs and their node states come
from Postgres."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from connectrpc.request import RequestContext

from reliant.api.chat_workflow import load_library
from reliant.api.chats import check_id
from reliant.api.connect import call
from reliant.api.context import ApiContext
from reliant.api.errors import InvalidArgumentError, InvalidFieldError, NotFoundError, UnavailableError
from reliant.clients.daemons import control
from reliant.clients.workflow_files import BUILTIN, Library
from reliant.db import chats as chats_db
from reliant.db import node_states as node_states_db
from reliant.db import projects as projects_db
from reliant.db import runs as runs_db
from reliant.domain.chat import Project
from reliant.domain.runs import RunRecord
from reliant.engine import parse_definition
from reliant.errors import DaemonUnavailableError, quoted
from reliant.wire import workflows as convert
from reliant.wire.v1 import workflow_pb2 as pb

logger = logging.getLogger(__name__)
Ctx = RequestContext[Any, Any]

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # as the daemon takes it (workflow_save.py)
MAX_TEXT_CHARS = 1_000_000
MAX_PROBLEMS_IN_ERROR = 5
DEFAULT_RUNS = 10
MAX_RUNS = 100
SAVE_TIMEOUT = 15.0


class Workflows:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    async def project(self, project_id: str) -> Project:
        found = await projects_db.get(self.db, check_id("project", project_id))
        if found is None:
            raise NotFoundError(f"project {project_id} not found")
        return found

    async def _library(self, project_id: str) -> Library:
        return await load_library(self.ctx, await self.project(project_id) if project_id else None)

    # -- definitions ---------------------------------------------------------------------------------

    async def list(self, project_id: str = "") -> pb.ListWorkflowsResponse:
        library = await self._library(project_id)
        return await asyncio.to_thread(_summaries, library)  # checking definitions is CPU work

    async def get(self, project_id: str, name: str) -> pb.Workflow:
        if not name.strip():
            raise InvalidFieldError("name", "is required: a workflow's name (see ListWorkflows)")
        library = await self._library(project_id)
        entry = library.find(name.strip())
        if entry is None:
            held = f" ({library.project.note})" if library.project.note else ""
            known = ", ".join(library.names())
            raise NotFoundError(f"no workflow called {quoted(name)}{held}; the workflows are {known}")
        definition, problems = await asyncio.to_thread(library.check, entry.text)
        return convert.workflow(
            definition,
            name=entry.name,
            source=entry.text.source,
            origin=entry.origin,
            text=entry.text.text,
            problems=problems,
            note=library.project.note if entry.origin == BUILTIN else "",
        )

    async def validate(self, text: str, project_id: str = "", name: str = "") -> pb.ValidateWorkflowResponse:
        _check_size(text)
        library = await self._library(project_id)
        source = name.strip() or "workflow.yaml"
        definition, problems = await asyncio.to_thread(library.check_new, text, source)
        return pb.ValidateWorkflowResponse(
            valid=definition is not None and not problems,
            problems=[convert.problem(p) for p in problems],
            name=definition.name if definition is not None else "",
        )

    async def save(self, project_id: str, text: str, name: str = "") -> pb.SaveWorkflowResponse:
        """Check the text as the project would run it, then have the daemon write it."""
        _check_size(text)
        project = await self.project(project_id)
        parsed = await asyncio.to_thread(parse_definition, text, "workflow.yaml") if text.strip() else None
        declared = parsed.definition if parsed is not None else None
        named = declared.name if declared is not None else ""
        name = name.strip().removesuffix(".yaml") or named
        if not name:
            raise InvalidFieldError("text", "has no `name:`: a workflow is saved under its name")
        if not FILE_NAME.fullmatch(name):
            raise InvalidFieldError("name", f"{name!r} is not a file name: letters, digits, _ and -, up to 64")
        if named and named != name:
            raise InvalidFieldError("name", f"the workflow is called {named!r}: save it as {named} (its file name)")
        library = await load_library(self.ctx, project)
        source = f"{project.path}/.reliant/workflows/{name}.yaml"
        _, problems = await asyncio.to_thread(library.check_new, text, source)
        if problems:
            shown = "; ".join(f"{p.at.line}:{p.at.column}: {p.message}" for p in problems[:MAX_PROBLEMS_IN_ERROR])
            more = len(problems) - MAX_PROBLEMS_IN_ERROR
            extra = f" (and {more} more: see ValidateWorkflow)" if more > 0 else ""
            held = f"; note: {library.project.note}" if library.project.note else ""
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            raise InvalidFieldError("text", f"{count}, nothing was saved: {shown}{extra}{held}")
        body = {"workspace": project.path, "name": name, "text": text}
        try:
            answer = await control(self.ctx.bus, project.daemon_id, "workflows.save", body, timeout=SAVE_TIMEOUT)
        except DaemonUnavailableError as exc:
            raise UnavailableError(f"cannot save: {exc}") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            detail = answer.get("error") if isinstance(answer, dict) else answer
            raise InvalidArgumentError(f"daemon {project.daemon_id} did not save the workflow: {detail}")
        builtin = next((e for e in library.entries() if e.name == name and e.origin == BUILTIN), None)
        logger.info("workflow %s saved in %s (trust %s)", name, project.path, answer.get("trust"))
        return pb.SaveWorkflowResponse(
            path=str(answer.get("path", "")),
            created=bool(answer.get("created")),
            trust=str(answer.get("trust", "")),
            trust_renewed=bool(answer.get("trust_renewed")),
            note=str(answer.get("note", "")),
            shadows=builtin.text.source if builtin is not None else "",
        )

    # -- runs ------------------------------------------------------------------------------------------

    async def runs(self, chat_id: str, limit: int = 0) -> pb.ListRunsResponse:
        chat = await chats_db.get(self.db, check_id("chat", chat_id))
        if chat is None:
            raise NotFoundError(f"chat {chat_id} not found")
        if limit < 0:
            raise InvalidFieldError("limit", f"must be 0 (the default, {DEFAULT_RUNS}) or more, got {limit}")
        wanted = min(limit or DEFAULT_RUNS, MAX_RUNS)
        records = await runs_db.for_chat(self.db, chat.id)
        kept = _newest(records, wanted)
        states, last_seq = await node_states_db.latest(self.db, chat.id, [r.id for r in kept])
        out = pb.ListRunsResponse()
        for record in kept:
            parsed = parse_definition(record.workflow_text.text, record.workflow_text.source).definition
            out.runs.append(convert.run(record, parsed, states.get(record.id, []), last_seq))
        return out


def _summaries(library: Library) -> pb.ListWorkflowsResponse:
    """Every workflow of the library, checked (in a thread: a large definition takes a while)."""
    out = pb.ListWorkflowsResponse(trust=library.project.trust, note=library.project.note)
    out.problems.extend(f"{path}: {why}" for path, why in sorted(library.project.problems.items()))
    for entry in library.entries():
        definition, problems = library.check(entry.text)
        item = pb.WorkflowSummary(
            name=entry.name,
            source=entry.text.source,
            origin=entry.origin,
            used=entry.used,
            shadows=entry.shadows,
            problems=len(problems),
            error=str(problems[0]) if problems else "",
        )
        if definition is not None:
            item.description = definition.description
            item.inputs.extend(convert.workflow_input(i) for i in definition.inputs)
        out.workflows.append(item)
    return out


def _check_size(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidFieldError("text", f"is {len(text):,} characters; a workflow may have {MAX_TEXT_CHARS:,}")


def _newest(records: list[RunRecord], wanted: int) -> list[RunRecord]:
    """The newest `wanted` top-level runs and every run under them, oldest first."""
    tops = [r for r in records if r.parent_id is None][-wanted:]
    keep = {r.id for r in tops}
    for record in records:  # children are created after their parents
        if record.parent_id in keep:
            keep.add(record.id)
    return [r for r in records if r.id in keep]


class WorkflowService:
    """The ConnectRPC adapter."""

    def __init__(self, workflows: Workflows) -> None:
        self.workflows = workflows

    async def list_workflows(self, request: pb.ListWorkflowsRequest, ctx: Ctx) -> pb.ListWorkflowsResponse:
        return await call(self.workflows.list(request.project_id))

    async def get_workflow(self, request: pb.GetWorkflowRequest, ctx: Ctx) -> pb.Workflow:
        return await call(self.workflows.get(request.project_id, request.name))

    async def validate_workflow(self, request: pb.ValidateWorkflowRequest, ctx: Ctx) -> pb.ValidateWorkflowResponse:
        return await call(self.workflows.validate(request.text, request.project_id, request.name))

    async def save_workflow(self, request: pb.SaveWorkflowRequest, ctx: Ctx) -> pb.SaveWorkflowResponse:
        return await call(self.workflows.save(request.project_id, request.text, request.name))

    async def list_runs(self, request: pb.ListRunsRequest, ctx: Ctx) -> pb.ListRunsResponse:
        return await call(self.workflows.runs(request.chat_id, request.limit))
