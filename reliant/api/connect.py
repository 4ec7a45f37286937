"""The ConnectRPC services: thin adapters from protobuf to the service layer in chats.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from google.protobuf import json_format

from reliant.api.attachments import ImageInput
from reliant.api.chats import Chats
from reliant.api.errors import ApiError
from reliant.api.projects import Projects
from reliant.api.streaming import stream_updates
from reliant.db import DatabaseUnavailableError
from reliant.wire import convert
from reliant.wire import updates as wire_updates
from reliant.wire.v1 import chat_pb2 as pb

logger = logging.getLogger(__name__)
T = TypeVar("T")
Ctx = RequestContext[Any, Any]


async def call(work: Awaitable[T]) -> T:
    """Service errors become their ConnectRPC code; anything unexpected is logged, not shown."""
    try:
        return await work
    except ApiError as exc:
        raise ConnectError(exc.code, exc.message) from None
    except DatabaseUnavailableError as exc:
        raise ConnectError(Code.UNAVAILABLE, str(exc)) from None
    except ConnectError:
        raise
    except Exception:
        logger.exception("unexpected error in an api call")
        raise ConnectError(Code.INTERNAL, "internal error; the api's log has the details") from None


class ProjectService:
    def __init__(self, chats: Chats, projects: Projects) -> None:
        self.chats = chats
        self.projects = projects

    async def create_project(self, request: pb.CreateProjectRequest, ctx: Ctx) -> pb.Project:
        return convert.project(await call(self.chats.create_project(request.path, request.name, request.daemon_id)))

    async def list_projects(self, request: pb.ListProjectsRequest, ctx: Ctx) -> pb.ListProjectsResponse:
        projects = await call(self.chats.projects())
        return pb.ListProjectsResponse(projects=[convert.project(p) for p in projects])

    async def get_project(self, request: pb.GetProjectRequest, ctx: Ctx) -> pb.Project:
        return convert.project(await call(self.chats.project(request.id)))

    async def delete_project(self, request: pb.DeleteProjectRequest, ctx: Ctx) -> pb.DeleteProjectResponse:
        removed = await call(self.projects.delete(request.id))
        return pb.DeleteProjectResponse(chats_deleted=removed.chats_deleted, daemon_released=removed.daemon_released)

    async def get_project_trust(self, request: pb.GetProjectTrustRequest, ctx: Ctx) -> pb.ProjectTrust:
        return convert.project_trust(request.project_id, await call(self.projects.trust(request.project_id)))

    async def trust_project(self, request: pb.TrustProjectRequest, ctx: Ctx) -> pb.ProjectTrust:
        doc = await call(self.projects.grant(request.project_id, request.fingerprint))
        return convert.project_trust(request.project_id, doc)

    async def untrust_project(self, request: pb.UntrustProjectRequest, ctx: Ctx) -> pb.ProjectTrust:
        return convert.project_trust(request.project_id, await call(self.projects.revoke(request.project_id)))


class ChatService:
    def __init__(self, chats: Chats) -> None:
        self.chats = chats

    async def create_chat(self, request: pb.CreateChatRequest, ctx: Ctx) -> pb.Chat:
        inputs = json_format.MessageToDict(request.inputs) if request.HasField("inputs") else None
        created = self.chats.create_chat(request.project_id, request.model, request.title, request.workflow, inputs)
        return convert.chat(await call(created))

    async def list_chats(self, request: pb.ListChatsRequest, ctx: Ctx) -> pb.ListChatsResponse:
        chats = await call(self.chats.chats(request.project_id))
        return pb.ListChatsResponse(chats=[convert.chat(c) for c in chats])

    async def get_chat(self, request: pb.GetChatRequest, ctx: Ctx) -> pb.Chat:
        return convert.chat(await call(self.chats.chat(request.id)))

    async def rename_chat(self, request: pb.RenameChatRequest, ctx: Ctx) -> pb.Chat:
        return convert.chat(await call(self.chats.rename(request.id, request.title)))

    async def delete_chat(self, request: pb.DeleteChatRequest, ctx: Ctx) -> pb.DeleteChatResponse:
        await call(self.chats.delete(request.id))
        return pb.DeleteChatResponse()

    async def send_message(self, request: pb.SendMessageRequest, ctx: Ctx) -> pb.SendMessageResponse:
        images = [ImageInput(i.media_type, i.data) for i in request.images]
        sent = await call(self.chats.send(request.chat_id, request.text, request.model, images=images))
        return pb.SendMessageResponse(
            message_id=sent.message.id,
            seq=sent.seq,
            queued=sent.queued,
            attachments=[
                pb.Attachment(path=a.path, kind=a.kind, error=a.error, truncated=a.truncated, size=a.size)
                for a in sent.attachments
            ],
        )

    async def list_messages(self, request: pb.ListMessagesRequest, ctx: Ctx) -> pb.ListMessagesResponse:
        messages, runs, resume = await call(self.chats.messages(request.chat_id, request.agent_id))
        # Read after resume_seq: a `context` update after it comes again on the stream.
        instructions = () if request.agent_id else await call(self.chats.instructions(request.chat_id))
        return pb.ListMessagesResponse(
            messages=[convert.message(m, runs) for m in messages],
            resume_seq=resume,
            instructions=[convert.instruction_file(f) for f in instructions],
        )

    async def cancel_chat(self, request: pb.CancelChatRequest, ctx: Ctx) -> pb.CancelChatResponse:
        return pb.CancelChatResponse(cancelled=await call(self.chats.cancel(request.chat_id)))

    async def pause_chat(self, request: pb.PauseChatRequest, ctx: Ctx) -> pb.PauseChatResponse:
        return pb.PauseChatResponse(paused=await call(self.chats.pause(request.chat_id)))

    async def interrupt_chat(self, request: pb.InterruptChatRequest, ctx: Ctx) -> pb.SendMessageResponse:
        sent = await call(self.chats.send(request.chat_id, request.text, interrupt=True))
        return pb.SendMessageResponse(message_id=sent.message.id, seq=sent.seq, queued=sent.queued)

    async def set_mode(self, request: pb.SetModeRequest, ctx: Ctx) -> pb.Chat:
        return convert.chat(await call(self.chats.set_mode(request.chat_id, request.mode)))

    async def resume_chat(self, request: pb.ResumeChatRequest, ctx: Ctx) -> pb.ResumeChatResponse:
        await call(self.chats.resume(request.chat_id))
        return pb.ResumeChatResponse()

    async def stream_updates(self, request: pb.StreamUpdatesRequest, ctx: Ctx) -> AsyncIterator[pb.ChatUpdate]:
        chat = await call(self.chats.stream_start(request.chat_id, request.since_seq))
        async for update in stream_updates(
            self.chats.db, self.chats.ctx.bus, chat.id, request.since_seq, self.chats.ctx.streams
        ):
            yield wire_updates.to_pb(update)

    async def list_models(self, request: pb.ListModelsRequest, ctx: Ctx) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=await self.chats.models(), default_model=await self.chats.default_model())
