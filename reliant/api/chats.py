"""Projects and chats: the service layer behind both ConnectRPC and REST."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from reliant.api.context import ApiContext
from reliant.api.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError
from reliant.api.system import online_daemons
from reliant.daemons import control
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import projects as projects_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import updates as updates_db
from reliant.domain import updates as kinds
from reliant.domain.chat import ChatInfo, ChatStatus, ChatUpdate, Project, StoredMessage, ToolRun
from reliant.domain.workflows import (
    AGENT_WORKFLOW,
    SIGNAL_CANCEL,
    SIGNAL_RESUME,
    SIGNAL_USER_MESSAGE,
    AgentInput,
    AgentState,
    agent_workflow_id,
)
from reliant.errors import DaemonUnavailableError
from reliant.llm.errors import LlmError, UnknownModelError
from reliant.llm.registry import parse_model
from reliant.llm_settings import ProviderPool
from reliant.updates import UpdateLog

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 200_000
MAX_TITLE_CHARS = 200
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_id(kind: str, value: str) -> str:
    if not _UUID.match(value or ""):
        raise InvalidArgumentError(f"{kind} id must be a UUID, got {value!r}")
    return value.lower()


@dataclass(frozen=True, slots=True)
class Sent:
    message: StoredMessage
    seq: int
    queued: bool


class Chats:
    def __init__(self, ctx: ApiContext, providers: ProviderPool) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.log = UpdateLog(ctx.db, ctx.bus)
        self.providers = providers

    # -- models --------------------------------------------------------------------------------
    async def models(self) -> list[str]:
        return (await self.providers.providers()).available_models()

    async def default_model(self) -> str:
        return (await self.providers.effective()).values["default_model"] or self.ctx.settings.default_model

    async def check_model(self, spec: str) -> str:
        """Refuse malformed specs and unknown scripts. Keys are checked where models are called (the
        worker), which in split mode may have other settings than the api."""
        try:
            providers = await self.providers.providers()
            parsed = parse_model(spec, providers.available_models())
            if parsed.provider == "scripted":
                providers.get(parsed)
        except UnknownModelError as exc:
            raise InvalidArgumentError(str(exc)) from None
        except LlmError as exc:
            raise InvalidArgumentError(f"model {spec!r}: {exc.message}") from None
        return spec

    # -- projects ------------------------------------------------------------------------------
    async def create_project(self, path: str, name: str = "", daemon_id: str = "") -> Project:
        if not path:
            raise InvalidArgumentError("path is required")
        daemon_id = daemon_id or await self._default_daemon()
        try:
            answer = await control(self.ctx.bus, daemon_id, "workspace.add", {"path": path}, timeout=10)
        except DaemonUnavailableError as exc:
            raise UnavailableError(str(exc)) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            detail = answer.get("error") if isinstance(answer, dict) else answer
            raise InvalidArgumentError(f"daemon {daemon_id} cannot use {path!r}: {detail}")
        resolved = str(answer.get("path") or path)
        return await projects_db.create(
            self.db, name=name or PurePosixPath(resolved).name or resolved, daemon_id=daemon_id, path=resolved
        )

    async def _default_daemon(self) -> str:
        daemons = await online_daemons(self.ctx)
        if not daemons:
            raise UnavailableError("no daemon is online; start one with `reliant daemon start` or `reliant up`")
        if len(daemons) > 1:
            names = ", ".join(f"{d.id} ({d.name})" for d in daemons)
            raise InvalidArgumentError(f"several daemons are online ({names}); choose one with daemon_id")
        return daemons[0].id

    async def projects(self) -> list[Project]:
        return await projects_db.list_all(self.db)

    async def project(self, project_id: str) -> Project:
        found = await projects_db.get(self.db, _check_id("project", project_id))
        if found is None:
            raise NotFoundError(f"project {project_id} not found")
        return found

    # -- chats ---------------------------------------------------------------------------------
    async def create_chat(self, project_id: str, model: str = "", title: str = "") -> ChatInfo:
        project = await self.project(project_id)
        model = await self.check_model(model or await self.default_model())
        return await chats_db.create(self.db, project_id=project.id, model=model, title=title[:MAX_TITLE_CHARS])

    async def chats(self, project_id: str = "") -> list[ChatInfo]:
        return await chats_db.list_all(self.db, _check_id("project", project_id) if project_id else "")

    async def chat(self, chat_id: str) -> ChatInfo:
        found = await chats_db.get(self.db, _check_id("chat", chat_id))
        if found is None:
            raise NotFoundError(f"chat {chat_id} not found")
        return found

    async def rename(self, chat_id: str, title: str) -> ChatInfo:
        chat = await self.chat(chat_id)
        title = title.strip()[:MAX_TITLE_CHARS]
        await chats_db.rename(self.db, chat.id, title)
        await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"title": title})
        return await self.chat(chat.id)

    async def delete(self, chat_id: str) -> None:
        chat = await self.chat(chat_id)
        try:
            await self.ctx.temporal.get_workflow_handle(agent_workflow_id(chat.id)).terminate("chat deleted")
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        await chats_db.delete(self.db, chat.id)

    async def messages(self, chat_id: str) -> tuple[list[StoredMessage], dict[str, ToolRun], int]:
        """The transcript (queued messages last), tool run states, and where to resume the stream."""
        chat = await self.chat(chat_id)
        resume = await updates_db.resume_seq(self.db, chat.id)  # read first: the rest is at least as new
        transcript = await messages_db.transcript(self.db, chat.id, include_queued=True)
        return transcript, await tool_runs_db.for_chat(self.db, chat.id), resume

    async def updates(self, chat_id: str, since_seq: int) -> list[ChatUpdate]:
        return await updates_db.since(self.db, chat_id, since_seq)

    async def send(self, chat_id: str, text: str, model: str = "") -> Sent:
        chat = await self.chat(chat_id)
        if not text.strip():
            raise InvalidArgumentError("message text is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidArgumentError(f"message is {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}")
        if model and model != chat.model:
            await chats_db.set_model(self.db, chat.id, await self.check_model(model))
            await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"model": model})
        if not chat.title:
            title = " ".join(text.split())[:80]
            await chats_db.rename(self.db, chat.id, title)
            await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"title": title})
        message = await messages_db.enqueue_user(self.db, chat.id, text)
        update = await self.log.emit(chat.id, kinds.MESSAGE_QUEUED, {"message_id": message.id, "text": text})
        await self._deliver(chat.id, message.id)
        queued = chat.status is ChatStatus.RUNNING or chat.queued > 0
        return Sent(message, update.seq if update else 0, queued)

    async def _deliver(self, chat_id: str, message_id: str) -> None:
        """Signal-with-start: the running workflow gets the message, or a new run starts with it."""
        turn = await messages_db.last_turn(self.db, chat_id)
        try:
            await self.ctx.temporal.start_workflow(
                AGENT_WORKFLOW,
                AgentInput(chat_id=chat_id, state=AgentState(turn=turn)),
                id=agent_workflow_id(chat_id),
                task_queue=self.ctx.settings.temporal_task_queue,
                start_signal=SIGNAL_USER_MESSAGE,
                start_signal_args=[message_id],
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except RPCError as exc:
            raise UnavailableError(f"could not hand the message to its workflow: {exc}") from exc

    async def cancel(self, chat_id: str) -> bool:
        chat = await self.chat(chat_id)
        if chat.status is not ChatStatus.RUNNING and chat.status is not ChatStatus.PAUSED:
            return False
        return await self._signal(chat.id, SIGNAL_CANCEL)

    async def resume(self, chat_id: str) -> None:
        chat = await self.chat(chat_id)
        if chat.status is not ChatStatus.PAUSED:
            raise FailedPreconditionError(f"chat {chat.id} is {chat.status.value}, not paused")
        await self._signal(chat.id, SIGNAL_RESUME)

    async def _signal(self, chat_id: str, signal: str) -> bool:
        try:
            await self.ctx.temporal.get_workflow_handle(agent_workflow_id(chat_id)).signal(signal)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise UnavailableError(f"could not signal the chat's workflow: {exc}") from exc
        return True
