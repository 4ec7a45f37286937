"""REST twins of the WorkflowService, for curl: the same JSON shapes as its messages.

GET  /api/workflows?project_id=P              ListWorkflows
GET  /api/workflows/{name}?project_id=P       GetWorkflow
POST /api/workflows/validate  {text, project_id?, name?}
PUT  /api/projects/{project_id}/workflows/{name}  {text}   SaveWorkflow
GET  /api/chats/{chat_id}/runs?limit=N        ListRuns
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from reliant.api.rest import RequestBody, _json
from reliant.api.workflows import Workflows


@dataclass
class ValidateWorkflow(RequestBody):
    text: str
    project_id: str = ""
    name: str = ""


@dataclass
class SaveWorkflow(RequestBody):
    text: str


class WorkflowController(Controller):
    path = "/api"

    @get("/workflows")
    async def list_(self, workflows: NamedDependency[Workflows], project_id: FromQuery[str] = "") -> dict[str, Any]:
        return _json(await workflows.list(project_id))

    @get("/workflows/{name:str}")
    async def get_(
        self, name: FromPath[str], workflows: NamedDependency[Workflows], project_id: FromQuery[str] = ""
    ) -> dict[str, Any]:
        return _json(await workflows.get(project_id, name))

    @post("/workflows/validate", status_code=200)
    async def validate(self, data: JSONBody[ValidateWorkflow], workflows: NamedDependency[Workflows]) -> dict[str, Any]:
        return _json(await workflows.validate(data.text, data.project_id, data.name))

    @put("/projects/{project_id:str}/workflows/{name:str}")
    async def save(
        self,
        project_id: FromPath[str],
        name: FromPath[str],
        data: JSONBody[SaveWorkflow],
        workflows: NamedDependency[Workflows],
    ) -> dict[str, Any]:
        return _json(await workflows.save(project_id, data.text, name))

    @get("/chats/{chat_id:str}/runs")
    async def runs(
        self, chat_id: FromPath[str], workflows: NamedDependency[Workflows], limit: FromQuery[int] = 0
    ) -> dict[str, Any]:
        return _json(await workflows.runs(chat_id, limit))
