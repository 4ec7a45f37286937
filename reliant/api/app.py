"""The api's ASGI application: Litestar for REST and the UI, ConnectRPC services beside it."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, get
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import FromQuery
from litestar.response import Response

import reliant
from reliant.api.agents import Agents, AgentService
from reliant.api.asgi import ASGIApp, Receive, Scope, Send
from reliant.api.auth import TokenAuth, offers_token
from reliant.api.chats import Chats
from reliant.api.connect import ChatService, ProjectService
from reliant.api.connect_input import MAX_BODY_BYTES, ConnectInput
from reliant.api.context import ApiContext
from reliant.api.errors import ApiError
from reliant.api.gates import ApprovalService, Gates, QuestionService
from reliant.api.projects import Projects
from reliant.api.rest import (
    ChatController,
    ProjectController,
    RestRequest,
    api_error_handler,
    models,
    not_utf8_handler,
    too_deep_handler,
    unavailable_handler,
)
from reliant.api.rest_agents import AgentController
from reliant.api.rest_settings import SettingsController
from reliant.api.rest_workflows import WorkflowController
from reliant.api.schema_gate import SchemaGate
from reliant.api.settings import SettingsService
from reliant.api.system import Check, SystemService, readiness
from reliant.api.web import WebUi
from reliant.api.workflows import Workflows, WorkflowService
from reliant.api.workspace import workspace_apps
from reliant.clients.providers import ProviderPool
from reliant.db import DatabaseUnavailableError
from reliant.db import doctor as doctor_db
from reliant.wire.v1.agent_connect import AgentServiceASGIApplication
from reliant.wire.v1.chat_connect import ChatServiceASGIApplication, ProjectServiceASGIApplication
from reliant.wire.v1.control_connect import ApprovalServiceASGIApplication, QuestionServiceASGIApplication
from reliant.wire.v1.settings_connect import SettingsServiceASGIApplication
from reliant.wire.v1.system_connect import SystemServiceASGIApplication
from reliant.wire.v1.workflow_connect import WorkflowServiceASGIApplication


def rest_app(
    ctx: ApiContext, chats: Chats, projects: Projects, workflows: Workflows, settings: SettingsService
) -> Litestar:
    agents = Agents(chats)

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready")
    async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Readiness, for load balancers and Kubernetes: no token needed; the detail (which service
        fails, where, why) only with it."""
        checks = await readiness(ctx)
        if ctx.peers_ready is not None and not ctx.peers_ready.is_set():
            checks.append(Check("roles", False, "", "the other roles of this process are still starting"))
        failing = [c.name for c in checks if not c.ok]
        body: dict[str, Any] = {"ready": not failing}
        if offers_token(dict(request.scope), ctx.settings.api_token):
            body["failing"] = failing
            body["checks"] = {
                c.name: {"ok": c.ok, "error": c.error, "latency_ms": round(c.latency_ms, 3)} for c in checks
            }
        return Response(body, status_code=503 if failing else 200)

    @get("/api/version", sync_to_thread=False)
    def version() -> dict[str, str]:
        return {"version": reliant.__version__}

    @get("/api/doctor/runs")
    async def doctor_runs(limit: FromQuery[int] = 20) -> list[dict[str, Any]]:
        rows = await doctor_db.recent(ctx.db, max(1, min(limit, 500)))
        return [{**row, "created_at": row["created_at"].isoformat()} for row in rows]

    return Litestar(
        route_handlers=[
            health,
            ready,
            version,
            doctor_runs,
            ProjectController,
            ChatController,
            WorkflowController,
            AgentController,
            SettingsController,
            models,
        ],
        dependencies={
            "chats": Provide(lambda: chats, use_cache=True, sync_to_thread=False),
            "projects": Provide(lambda: projects, use_cache=True, sync_to_thread=False),
            "workflows": Provide(lambda: workflows, use_cache=True, sync_to_thread=False),
            "agents": Provide(lambda: agents, use_cache=True, sync_to_thread=False),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={
            ApiError: api_error_handler,
            UnicodeDecodeError: not_utf8_handler,
            RecursionError: too_deep_handler,
            DatabaseUnavailableError: unavailable_handler,
        },
        # The OpenAPI document only, as JSON (behind the token like everything): litestar's schema
        # pages (Swagger, ReDoc, Elements, RapiDoc, Scalar) load their scripts from public CDNs.
        openapi_config=OpenAPIConfig(
            title="reliant", version=reliant.__version__, path="/schema", render_plugins=[JsonRenderPlugin()]
        ),
        debug=False,
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        request_class=RestRequest,
    )


class Dispatcher:
    """Routes /reliant.v1.<Service>/<Method> to its ConnectRPC app, the UI's pages and assets to the
    web app, and everything else to Litestar."""

    def __init__(self, rest: ASGIApp, services: dict[str, ASGIApp], web: WebUi | None = None) -> None:
        self.rest = rest
        self.services = services
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/reliant."):
                prefix = path.rsplit("/", 1)[0]
                service = self.services.get(prefix)
                if service is not None:
                    await service(scope, receive, send)
                    return
            elif self.web is not None and self.web.handles(path):
                await self.web(scope, receive, send)
                return
        await self.rest(scope, receive, send)


def create_app(ctx: ApiContext, providers: ProviderPool) -> ASGIApp:
    chats = Chats(ctx, providers)
    projects = Projects(ctx)
    gates = Gates(chats)
    workflows = Workflows(ctx)
    settings = SettingsService(ctx, providers)
    connect_apps: list[Any] = [
        SystemServiceASGIApplication(SystemService(ctx)),
        ProjectServiceASGIApplication(ProjectService(chats, projects)),
        ChatServiceASGIApplication(ChatService(chats)),
        SettingsServiceASGIApplication(settings),
        ApprovalServiceASGIApplication(ApprovalService(gates)),
        QuestionServiceASGIApplication(QuestionService(gates)),
        WorkflowServiceASGIApplication(WorkflowService(workflows)),
        AgentServiceASGIApplication(AgentService(Agents(chats))),
        *workspace_apps(ctx),
    ]
    services: dict[str, ASGIApp] = {app.path: ConnectInput(app, app.path.lstrip("/")) for app in connect_apps}
    rest: ASGIApp = rest_app(ctx, chats, projects, workflows, settings)  # type: ignore[assignment]
    return TokenAuth(SchemaGate(Dispatcher(rest, services, WebUi()), ctx.db), ctx.settings.api_token)
