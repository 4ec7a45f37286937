"""Projects and chats: the service layer behind both ConnectRPC and REST."""

from __future__ import annotations

import asyncio
import posixpath
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from reliant.api import chat_stop
from reliant.api.attachments import Attached, AttachmentReport, ImageInput, attach, image_blocks
from reliant.api.chat_workflow import ChosenWorkflow, chat_workflow
from reliant.api.context import ApiContext
from reliant.api.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidFieldError,
    NotFoundError,
    OutOfRangeError,
    UnavailableError,
)
from reliant.api.system import fresh, online_daemons, online_in, presence
from reliant.bus import subjects
from reliant.clients.daemons import control
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import UpdateLog, clear_live_tail
from reliant.db import DatabaseUnavailableError
from reliant.db import agents as agents_db
from reliant.db import chat_contexts as chat_contexts_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import projects as projects_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import updates as updates_db
from reliant.db import worktrees as worktrees_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import ChatInfo, ChatMode, ChatStatus, ChatUpdate, Project, StoredMessage, ToolRun
from reliant.domain.context import InstructionFile
from reliant.domain.workflows import (
    CHAT_WORKFLOW,
    QUERY_STATE,
    SIGNAL_CANCEL,
    SIGNAL_INTERRUPT,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    SIGNAL_SET_MODE,
    SIGNAL_USER_MESSAGE,
    AgentStatus,
    ChatInput,
    ChatState,
    agent_workflow_id,
)
from reliant.domain.workspace_policy import workspace_refusal
from reliant.errors import DaemonUnavailableError, quoted
from reliant.llm.demo import demo_model
from reliant.llm.errors import FatalLlmError, LlmError, UnknownModelError
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place

MAX_MESSAGE_CHARS = 200_000
MAX_TITLE_CHARS = 200
HELD_QUERY_TIMEOUT = timedelta(seconds=5)
MAX_PROJECT_NAME_CHARS = 200
MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
STRANDED_AT_ONCE = 8  # chats looked at side by side when an api starts
DAEMON_RECONNECT_WAIT = 3.0  # seconds a request that needs a daemon waits for one to be online
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def check_id(kind: str, value: str) -> str:
    if not _UUID.match(value or ""):
        raise InvalidArgumentError(f"{kind} id must be a UUID, got {quoted(value)}")
    return value.lower()


def _inside(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True, slots=True)
class Sent:
    message: StoredMessage
    seq: int
    queued: bool
    attachments: tuple[AttachmentReport, ...] = ()  # what each `@path` of the text became


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

    async def _a_worker_can_call(self, provider: str) -> bool:
        """Whether an online worker of this api's task queue has what `provider` needs in its own
        environment (its presence record names the providers it can call; a split install may give
        the keys to the workers alone)."""
        timeout = self.ctx.settings.heartbeat_timeout
        for key, record in (await presence(self.ctx)).items():
            detail = record.get("detail") or {}
            if not key.startswith("role.") or record.get("role") != "worker":
                continue
            if detail.get("task_queue") != self.ctx.settings.temporal_task_queue:
                continue
            if fresh(record, timeout) and provider in str(detail.get("providers", "")).split(","):
                return True
        return False

    async def check_model(self, spec: str, project: Project) -> str:
        """The spec as stored (`provider:model`, without spaces around either). Refuse malformed
        specs, unknown scripts and scripts outside the project and the data dir (before anything
        reads them), and a provider without a key (for openai: nor a base URL), which would pause
        the chat at its first call. Keys are those written through the api (stored, so every role
        agrees), in the api's own environment, or in an online worker's (its presence record says
        which providers it can call)."""
        try:
            return await self._callable(spec, project)
        except UnknownModelError as exc:
            raise InvalidArgumentError(exc.message) from None  # str(exc) leads with "models: "
        except LlmError as exc:
            if isinstance(exc, FatalLlmError) and exc.kind == "missing_key":
                raise InvalidFieldError("model", f"{spec!r} cannot be called: {exc}") from None
            raise InvalidArgumentError(f"model {spec!r}: {exc.message}") from None

    async def _callable(self, spec: str, project: Project) -> str:
        """The spec as stored, if a chat of `project` can call it (check_model); LlmError if not."""
        providers = await self.providers.providers()
        parsed = parse_model(spec, providers.available_models())
        if parsed.provider == "scripted":
            check_script_place(parsed.model, (Path(project.path), self.ctx.settings.data_dir))
            providers.get(parsed)
        try:
            providers.require(parsed.provider)
        except FatalLlmError as exc:
            if exc.kind != "missing_key" or not await self._a_worker_can_call(parsed.provider):
                raise
        return str(parsed)  # as typed but without spaces around its parts, which prices go by

    async def check_workflow_models(self, chosen: ChosenWorkflow, project: Project) -> None:
        """Refuse a workflow that names a model its chat could not call (a node's `model:`, its
        preset's, a workflow it runs): the chat would pause at that node's first call. Models an
        expression chooses (`{{inputs.model}}`) are the run's to check."""
        for named in chosen.models:
            try:
                await self._callable(named.spec, project)
            except LlmError as exc:
                why = exc.message if isinstance(exc, UnknownModelError) else str(exc)
                raise InvalidFieldError(
                    "workflow", f"{chosen.name} cannot run: {named.where} uses model {named.spec!r}: {why}"
                ) from None

    # -- projects ------------------------------------------------------------------------------
    async def create_project(self, path: str, name: str = "", daemon_id: str = "") -> Project:
        if not path:
            raise InvalidArgumentError("path is required")
        if len(path.encode()) > MAX_PATH_BYTES:
            raise InvalidFieldError("path", f"is longer than {MAX_PATH_BYTES} bytes, more than any path can be")
        if len(name) > MAX_PROJECT_NAME_CHARS:
            raise InvalidFieldError("name", f"is longer than {MAX_PROJECT_NAME_CHARS} characters")
        self._check_project_path(path)
        daemon_id = await self._known_daemon(daemon_id) if daemon_id else await self._default_daemon(path)
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

    def _check_project_path(self, path: str) -> None:
        """Refuse what can never be a project, by the path as given (the daemon checks its real path)."""
        if not path.startswith("/"):
            return  # the daemon says why a relative path is refused
        normalised = PurePosixPath(posixpath.normpath(path))
        refusal = workspace_refusal(normalised, [PurePosixPath(self.ctx.settings.data_path)])
        if refusal:
            raise InvalidArgumentError(f"path {path!r} cannot be a project: {refusal}")

    async def _known_daemon(self, daemon_id: str) -> str:
        """`daemon_id` if it names a daemon that has been seen (online or not)."""
        if not subjects.valid_token(daemon_id):
            raise InvalidFieldError("daemon_id", "is not a daemon id (1 to 64 letters, digits, - or _)")
        key = subjects.presence_key("daemon", daemon_id)
        entries = await self._presence_until(lambda found: key in found)
        if key not in entries:
            if not entries:
                raise UnavailableError("cannot read which daemons are online (NATS did not answer); try again")
            online = ", ".join(d.id for d in await online_daemons(self.ctx, entries)) or "none"
            raise NotFoundError(f"no daemon {daemon_id} is known; online: {online}")
        return daemon_id

    async def _presence_until(self, wanted: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, dict[str, Any]]:
        """The presence records, read again for up to DAEMON_RECONNECT_WAIT until `wanted` holds: a
        daemon reconnecting, or a read that came back short, is there a moment later."""
        entries = await presence(self.ctx)
        deadline = time.monotonic() + DAEMON_RECONNECT_WAIT
        while not wanted(entries) and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            entries = await presence(self.ctx)
        return entries

    async def _default_daemon(self, path: str) -> str:
        """The online daemon whose workspace roots hold `path`; the only one online when none
        does (a daemon without roots works anywhere); else the caller must choose."""
        entries = await self._presence_until(lambda found: bool(online_in(found, self.ctx.settings.heartbeat_timeout)))
        daemons = await online_daemons(self.ctx, entries)
        if not daemons:
            raise UnavailableError("no daemon is online; start one with `reliant daemon start` or `reliant up`")
        holding = [d for d in daemons if any(_inside(path, root) for root in d.workspaces)]
        if len(holding) == 1:
            return holding[0].id
        if not holding and len(daemons) == 1:
            return daemons[0].id
        candidates = holding or daemons
        names = ", ".join(f"{d.id} ({d.name})" for d in candidates)
        several = (
            f"{len(holding)} daemons have workspaces holding {path}"
            if holding
            else "several daemons are online, none with a workspace holding it"
        )
        raise InvalidArgumentError(f"{several}: {names}; choose one (daemon_id, --daemon ID)")

    async def projects(self) -> list[Project]:
        return await projects_db.list_all(self.db)

    async def project(self, project_id: str) -> Project:
        found = await projects_db.get(self.db, check_id("project", project_id))
        if found is None:
            raise NotFoundError(f"project {project_id} not found")
        return found

    # -- chats ---------------------------------------------------------------------------------
    async def create_chat(
        self,
        project_id: str,
        model: str = "",
        title: str = "",
        workflow: str = "",
        inputs: Mapping[str, Any] | None = None,
    ) -> ChatInfo:
        """A chat whose every message runs `workflow` (default agent) with `inputs`, checked against
        the definition's typed inputs. The demo model plays the workflow's own demo script if it has
        one (demo_model)."""
        project = await self.project(project_id)
        model = await self.check_model(model or await self.default_model(), project)
        chosen = await chat_workflow(self.ctx, project, workflow, inputs)
        await self.check_workflow_models(chosen, project)
        return await chats_db.create(
            self.db,
            project_id=project.id,
            model=demo_model(model, chosen.name),  # a shipped script: no check needed
            title=title[:MAX_TITLE_CHARS],
            workflow=chosen.name,
            workflow_inputs=chosen.inputs,
        )

    async def chats(self, project_id: str = "") -> list[ChatInfo]:
        return await chats_db.list_all(self.db, check_id("project", project_id) if project_id else "")

    async def chat(self, chat_id: str) -> ChatInfo:
        found = await chats_db.get(self.db, check_id("chat", chat_id))
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
        """The chat and all it holds. Its workflow is stopped, and so are its sub-agents' (children
        it abandons when it ends), the commands any of them still runs on the daemon and every
        background process any of them started there (owed, if the daemon is away: nothing would be
        left to show or stop them from)."""
        chat = await self.chat(chat_id)
        project = await self.project(chat.project_id)
        await chat_stop.stop(self.ctx, await chat_stop.running(self.db, chat.id, project.daemon_id), "chat deleted")
        await chats_db.delete(self.db, chat.id)
        await clear_live_tail(self.ctx.bus, chat.id)

    async def messages(self, chat_id: str, agent_id: str = "") -> tuple[list[StoredMessage], dict[str, ToolRun], int]:
        """The transcript (queued messages last; its sub-agents' left out), tool run states by
        tool_call_id, and where to resume the stream. With `agent_id`: that sub-agent's messages
        and the states of its calls (NotFoundError if the chat has no such agent)."""
        chat = await self.chat(chat_id)
        resume = await updates_db.resume_seq(self.db, chat.id)  # read first: the rest is at least as new
        runs = await tool_runs_db.for_chat(self.db, chat.id)
        if not agent_id:
            transcript = await messages_db.transcript(self.db, chat.id, include_queued=True, agent_id="")
            return transcript, runs, resume
        agent = await agents_db.get(self.db, agent_id.strip()) if _UUID.match(agent_id.strip()) else None
        if agent is None or agent.chat_id != chat.id:
            raise NotFoundError(f"agent {quoted(agent_id)} not found in chat {chat.id}")
        transcript = await messages_db.transcript(self.db, chat.id, agent_id=agent.id)
        # Its calls are on its own threads, known there by `<tool_call_id>@<thread>`.
        threads = {m.thread_id for m in transcript}
        return transcript, {r.tool_call_id: r for r in runs.values() if r.thread_id in threads}, resume

    async def instructions(self, chat_id: str) -> tuple[InstructionFile, ...]:
        """The instruction files in effect for a chat the caller has found (messages() did): its
        context snapshot of its own workspace, never of a sub-agent's worktree (none before its
        first model call there)."""
        ctx = await chat_contexts_db.of_chats_workspace(self.db, chat_id)
        return ctx.instructions if ctx is not None else ()

    async def updates(self, chat_id: str, since_seq: int) -> list[ChatUpdate]:
        return await updates_db.since(self.db, chat_id, since_seq)

    async def stream_start(self, chat_id: str, since_seq: int) -> ChatInfo:
        """The chat whose updates after `since_seq` a client wants: a seq past the end of its log
        was never handed out, and a stream from there would wait for nothing, forever."""
        chat = await self.chat(chat_id)
        if since_seq < 0:
            raise InvalidFieldError("since_seq", f"must be 0 or more, got {since_seq}")
        if since_seq > chat.last_seq:
            raise OutOfRangeError(
                f"since_seq {since_seq} is beyond the end of chat {chat.id}'s log: its last seq is {chat.last_seq}"
            )
        return chat

    async def send(
        self,
        chat_id: str,
        text: str,
        model: str = "",
        *,
        interrupt: bool = False,
        images: list[ImageInput] | None = None,
    ) -> Sent:
        """Queue a user message for the chat's workflow, with the files its `@path` references name
        and its images (attachments.py); with `interrupt`, the running turn is cancelled and this
        message goes next."""
        chat = await self.chat(chat_id)
        if not text.strip() and not images:
            raise InvalidArgumentError("the message is empty: it has neither text nor an image")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidFieldError("text", f"is {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}")
        pasted = image_blocks(images or [])
        attached = await self._attached(chat, text, sum(len(i.data) for i in images or []))
        if model and model != chat.model:
            model = await self.check_model(model, await self.project(chat.project_id))
            await chats_db.set_model(self.db, chat.id, model)
            await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"model": model})
        if not chat.title and text.strip():
            title = " ".join(text.split())[:80]
            await chats_db.rename(self.db, chat.id, title)
            await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"title": title})
        message = await messages_db.enqueue_user(self.db, chat.id, text, [*attached.blocks, *pasted])
        queued: dict[str, object] = {"message_id": message.id, "text": text}
        if attached.reports:
            queued["attachments"] = [{"path": r.path, "kind": r.kind, "error": r.error} for r in attached.reports]
        if pasted:
            queued["images"] = len(pasted)
        update = await self.log.emit(chat.id, kinds.MESSAGE_QUEUED, queued)
        await self._deliver(chat, message.id, SIGNAL_INTERRUPT if interrupt else SIGNAL_USER_MESSAGE)
        if interrupt:
            await self._cancel_running_tools(chat)
        busy = chat.status in (ChatStatus.RUNNING, ChatStatus.WAITING, ChatStatus.PAUSED)
        return Sent(message, update.seq if update else 0, not interrupt and (busy or chat.queued > 0), attached.reports)

    async def _attached(self, chat: ChatInfo, text: str, image_bytes: int) -> Attached:
        """The files the text names, from the chat's worktree if it has one, else its project."""
        project = await self.project(chat.project_id)
        worktree = await worktrees_db.active_for_chat(self.db, chat.id)
        workspace = worktree.path if worktree is not None else project.path
        return await attach(self.ctx.bus, project.daemon_id, workspace, text, image_bytes)

    async def _deliver(self, chat: ChatInfo, message_id: str, signal: str) -> None:
        """Signal-with-start: the running workflow gets the message, or a new run starts with it (a chat
        from before workflows may still run its old one: it takes the message the same way)."""
        try:
            await self.ctx.temporal.start_workflow(
                CHAT_WORKFLOW,
                ChatInput(
                    chat_id=chat.id,
                    state=ChatState(mode=chat.mode.value),
                    approval_timeout_seconds=self.ctx.settings.approval_timeout,
                ),
                id=agent_workflow_id(chat.id),
                task_queue=self.ctx.settings.temporal_task_queue,
                start_signal=signal,
                start_signal_args=[message_id],
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except RPCError as exc:
            raise UnavailableError(f"could not hand the message to its workflow: {exc}") from exc

    async def deliver_stranded(self, before: datetime, chat_ids: set[str] | None = None) -> tuple[int, dict[str, str]]:
        """Hand each message stored before `before` and still queued to its chat's workflow, unless
        the workflow holds it already: (how many were handed over, why each chat that could not be
        reached failed). `send` stores a message, then hands it over: an api that died in between
        (or found Temporal away) left it queued with nobody to answer it. Chats are looked at side
        by side and each on its own, so one chat whose workflow does not answer holds up no other."""
        by_chat: dict[str, list[str]] = {}
        for chat_id, message_id in await messages_db.queued_before(self.db, before):
            if chat_ids is None or chat_id in chat_ids:
                by_chat.setdefault(chat_id, []).append(message_id)
        by_chat = dict(reversed(by_chat.items()))  # the chat someone wrote to last is looked at first
        gate = asyncio.Semaphore(STRANDED_AT_ONCE)
        failed: dict[str, str] = {}

        async def hand_over(chat_id: str, message_ids: list[str]) -> int:
            async with gate:
                try:
                    return await self._deliver_stranded_of(chat_id, message_ids)
                except (UnavailableError, DatabaseUnavailableError) as exc:
                    failed[chat_id] = str(exc)
                    return 0

        handed = await asyncio.gather(*(hand_over(c, m) for c, m in by_chat.items()))
        return sum(handed), failed

    async def _deliver_stranded_of(self, chat_id: str, message_ids: list[str]) -> int:
        held = await self._held(chat_id)
        chat = await chats_db.get(self.db, chat_id)
        if chat is None:
            return 0
        queued = await messages_db.queued(self.db, chat_id)
        handed = 0
        for message_id in message_ids:
            if message_id not in held and message_id in queued:
                await self._deliver(chat, message_id, SIGNAL_USER_MESSAGE)
                handed += 1
        return handed

    async def _held(self, chat_id: str) -> set[str]:
        """The messages the chat's running workflow holds (answering or queued). Asked, so that a
        chat paused by a failure is not resumed by a message it already has; without a worker to
        answer, nothing is known to be held (the workflow ignores a message it holds already)."""
        handle = self.ctx.temporal.get_workflow_handle(agent_workflow_id(chat_id))
        try:
            if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
                return set()
            state = await handle.query(QUERY_STATE, result_type=AgentStatus, rpc_timeout=HELD_QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return set()
            raise UnavailableError(f"could not reach the chat's workflow: {exc}") from exc
        except WorkflowQueryFailedError:
            return set()
        return {state.active, *state.queue}

    async def cancel(self, chat_id: str) -> bool:
        """Stop the running turn: the workflow cancels its step, and a running tool is killed at once
        on its daemon (not only when the worker next hears from Temporal)."""
        chat = await self.chat(chat_id)
        if chat.status not in (ChatStatus.RUNNING, ChatStatus.WAITING, ChatStatus.PAUSED):
            return False
        cancelled = await self._signal(chat.id, SIGNAL_CANCEL, chat.id)
        await self._cancel_running_tools(chat)
        return cancelled

    async def _cancel_running_tools(self, chat: ChatInfo) -> None:
        calls = await chat_stop.executing_calls(self.db, chat.id)
        if calls:
            project = await self.project(chat.project_id)
            await chat_stop.cancel_calls(self.ctx, project.daemon_id, chat.id, calls)

    async def resume(self, chat_id: str) -> None:
        chat = await self.chat(chat_id)
        if chat.status is not ChatStatus.PAUSED:
            raise FailedPreconditionError(f"chat {chat.id} is {chat.status.value}, not paused")
        await self._signal(chat.id, SIGNAL_RESUME, chat.id)

    async def pause(self, chat_id: str) -> bool:
        """Let the step in flight finish, then wait for resume. False if nothing is running."""
        chat = await self.chat(chat_id)
        if chat.status not in (ChatStatus.RUNNING, ChatStatus.WAITING):
            return chat.status is ChatStatus.PAUSED
        return await self._signal(chat.id, SIGNAL_PAUSE, chat.id)

    async def set_mode(self, chat_id: str, mode: str) -> ChatInfo:
        chat = await self.chat(chat_id)
        try:
            wanted = ChatMode(mode)
        except ValueError:
            raise InvalidArgumentError(f"mode must be one of {[m.value for m in ChatMode]}, got {mode!r}") from None
        if await chats_db.set_mode(self.db, chat.id, wanted):
            await self.log.emit(chat.id, kinds.CHAT_UPDATED, {"mode": wanted.value})
            await self._signal(chat.id, SIGNAL_SET_MODE, wanted.value)
        return await self.chat(chat.id)

    async def _signal(self, chat_id: str, signal: str, arg: str) -> bool:
        """Every signal carries an argument: sealed by the codec, it proves the sender has the key."""
        handle = self.ctx.temporal.get_workflow_handle(agent_workflow_id(chat_id))
        try:
            await handle.signal(signal, arg)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise UnavailableError(f"could not signal the chat's workflow: {exc}") from exc
        return True
