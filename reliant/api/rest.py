"""REST JSON for curl users: the same resources as the ConnectRPC services, in the same JSON shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from connectrpc.code import Code
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message as ProtoMessage
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from reliant.api.chats import Chats
from reliant.api.errors import HTTP_STATUS, ApiError
from reliant.api.streaming import stream_updates
from reliant.db import DatabaseUnavailableError
from reliant.wire import convert
from reliant.wire import updates as wire_updates


def _json(message: ProtoMessage) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


@dataclass
class CreateProject:
    path: str
    name: str = ""
    daemon_id: str = ""


@dataclass
class CreateChat:
    project_id: str
    model: str = ""
    title: str = ""


@dataclass
class RenameChat:
    title: str


@dataclass
class SendMessage:
    text: str
    model: str = ""


def api_error_handler(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    status = HTTP_STATUS.get(exc.code, 500)
    return Response({"status_code": int(status), "code": exc.code.value, "detail": exc.message}, status_code=status)


def unavailable_handler(request: Request[Any, Any, Any], exc: DatabaseUnavailableError) -> Response[dict[str, Any]]:
    """Postgres is away (restarting, say): 503, so a client knows to try again, not a 500."""
    status = HTTP_STATUS[Code.UNAVAILABLE]
    body = {"status_code": int(status), "code": Code.UNAVAILABLE.value, "detail": str(exc)}
    return Response(body, status_code=status)


class ProjectController(Controller):
    path = "/api/projects"

    @post("/")
    async def create(self, data: JSONBody[CreateProject], chats: NamedDependency[Chats]) -> dict[str, Any]:
        return _json(convert.project(await chats.create_project(data.path, data.name, data.daemon_id)))

    @get("/")
    async def list_(self, chats: NamedDependency[Chats]) -> list[dict[str, Any]]:
        return [_json(convert.project(p)) for p in await chats.projects()]

    @get("/{project_id:str}")
    async def get_(self, project_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, Any]:
        return _json(convert.project(await chats.project(project_id)))


class ChatController(Controller):
    path = "/api/chats"

    @post("/")
    async def create(self, data: JSONBody[CreateChat], chats: NamedDependency[Chats]) -> dict[str, Any]:
        return _json(convert.chat(await chats.create_chat(data.project_id, data.model, data.title)))

    @get("/")
    async def list_(self, chats: NamedDependency[Chats], project_id: FromQuery[str] = "") -> list[dict[str, Any]]:
        return [_json(convert.chat(c)) for c in await chats.chats(project_id)]

    @get("/{chat_id:str}")
    async def get_(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, Any]:
        return _json(convert.chat(await chats.chat(chat_id)))

    @patch("/{chat_id:str}")
    async def rename(
        self, chat_id: FromPath[str], data: JSONBody[RenameChat], chats: NamedDependency[Chats]
    ) -> dict[str, Any]:
        return _json(convert.chat(await chats.rename(chat_id, data.title)))

    @delete("/{chat_id:str}", status_code=204)
    async def delete_(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> None:
        await chats.delete(chat_id)

    @get("/{chat_id:str}/messages")
    async def messages(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> list[dict[str, Any]]:
        found, runs, _ = await chats.messages(chat_id)
        return [_json(convert.message(m, runs)) for m in found]

    @post("/{chat_id:str}/messages")
    async def send(
        self, chat_id: FromPath[str], data: JSONBody[SendMessage], chats: NamedDependency[Chats]
    ) -> dict[str, Any]:
        sent = await chats.send(chat_id, data.text, data.model)
        return {"message_id": sent.message.id, "seq": sent.seq, "queued": sent.queued}

    @post("/{chat_id:str}/cancel")
    async def cancel(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, bool]:
        return {"cancelled": await chats.cancel(chat_id)}

    @post("/{chat_id:str}/pause")
    async def pause(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, bool]:
        return {"paused": await chats.pause(chat_id)}

    @post("/{chat_id:str}/resume")
    async def resume(self, chat_id: FromPath[str], chats: NamedDependency[Chats]) -> dict[str, bool]:
        await chats.resume(chat_id)
        return {"resumed": True}

    @get("/{chat_id:str}/updates")
    async def updates(
        self,
        chat_id: FromPath[str],
        chats: NamedDependency[Chats],
        since_seq: FromQuery[int] = 0,
        follow: FromQuery[bool] = False,
    ) -> Stream | list[dict[str, Any]]:
        """The updates after `since_seq` as a JSON list; with follow=true, server-sent events that
        go on live (one `data:` line of JSON per update)."""
        chat = await chats.chat(chat_id)
        if not follow:
            return [_json(wire_updates.to_pb(u)) for u in await chats.updates(chat.id, since_seq)]

        async def events() -> AsyncIterator[bytes]:
            async for update in stream_updates(chats.db, chats.ctx.bus, chat.id, since_seq, chats.ctx.streams):
                yield b"data: " + json.dumps(_json(wire_updates.to_pb(update))).encode() + b"\n\n"

        return Stream(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@get("/api/models")
async def models(chats: NamedDependency[Chats]) -> dict[str, Any]:
    return {"models": await chats.models(), "default_model": await chats.default_model()}
