"""REST JSON for curl users: the same resources as the ConnectRPC services, in the same JSON shapes."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from typing import Any

from connectrpc.code import Code
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message as ProtoMessage
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import SerializationException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from reliant.api.attachments import ImageInput
from reliant.api.chats import Chats
from reliant.api.errors import HTTP_STATUS, ApiError, InvalidArgumentError, InvalidFieldError
from reliant.api.projects import Projects
from reliant.api.request_decoding import check_text, surrogate_field
from reliant.api.streaming import stream_updates
from reliant.db import DatabaseUnavailableError
from reliant.wire import convert
from reliant.wire import updates as wire_updates


def _json(message: ProtoMessage) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


@dataclass
class RequestBody:
    """A REST request body: its strings obey the rules of every ConnectRPC request's (no NUL
    character, no lone surrogate), refused with the field named."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                check_text(f.name, value)


@dataclass
class CreateProject(RequestBody):
    path: str
    name: str = ""
    daemon_id: str = ""


@dataclass
class TrustProject(RequestBody):
    fingerprint: str


@dataclass
class CreateChat(RequestBody):
    project_id: str
    model: str = ""
    title: str = ""
    workflow: str = ""
    inputs: dict[str, Any] | None = None


@dataclass
class RenameChat(RequestBody):
    title: str


@dataclass
class ImageBody(RequestBody):
    media_type: str
    data: str  # base64


@dataclass
class SendMessage(RequestBody):
    text: str = ""  # none with an image alone
    model: str = ""
    images: list[ImageBody] | None = None


class RestRequest(Request[Any, Any, Any]):
    """litestar's request, but a body its JSON decoder refuses is refused saying so: for a lone
    surrogate naming the field (as RequestBody does for a NUL), otherwise saying the body is not
    JSON (the decoder alone says only "Input data was truncated" for a cut-short body)."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except SerializationException as exc:
            field = surrogate_field(await self.body())
            if field is None:
                reason = str(exc.detail).removeprefix("JSON is malformed: ")
                raise InvalidArgumentError(f"the body is not valid JSON: {reason[:1].lower()}{reason[1:]}") from None
            message = "is not valid UTF-8 (it holds a lone surrogate or an invalid byte)"
            raise InvalidFieldError(field, message) from None


def _base64(field: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError(f"{field} must be base64") from None


def api_error_handler(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    status = HTTP_STATUS.get(exc.code, 500)
    return Response({"status_code": int(status), "code": exc.code.value, "detail": exc.message}, status_code=status)


def not_utf8_handler(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    """The JSON body is decoded where a handler first reads it; bytes that are not UTF-8 are the
    client's fault."""
    return api_error_handler(
        request, InvalidArgumentError(f"the body is not UTF-8: the byte at offset {exc.start} is invalid")
    )


def too_deep_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """The JSON body is decoded where a handler first reads it; the decoder runs out of stack on one
    nested thousands deep (in any field, even one the request ignores): the client's fault."""
    return api_error_handler(request, InvalidArgumentError("the body is nested too deeply to be a request"))


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

    @delete("/{project_id:str}", status_code=200)
    async def delete_(self, project_id: FromPath[str], projects: NamedDependency[Projects]) -> dict[str, Any]:
        removed = await projects.delete(project_id)
        return {"chats_deleted": removed.chats_deleted, "daemon_released": removed.daemon_released}

    @get("/{project_id:str}/trust")
    async def trust(self, project_id: FromPath[str], projects: NamedDependency[Projects]) -> dict[str, Any]:
        return _json(convert.project_trust(project_id, await projects.trust(project_id)))

    @post("/{project_id:str}/trust", status_code=200)
    async def grant(
        self, project_id: FromPath[str], data: JSONBody[TrustProject], projects: NamedDependency[Projects]
    ) -> dict[str, Any]:
        return _json(convert.project_trust(project_id, await projects.grant(project_id, data.fingerprint)))

    @delete("/{project_id:str}/trust", status_code=200)
    async def revoke(self, project_id: FromPath[str], projects: NamedDependency[Projects]) -> dict[str, Any]:
        return _json(convert.project_trust(project_id, await projects.revoke(project_id)))


class ChatController(Controller):
    path = "/api/chats"

    @post("/")
    async def create(self, data: JSONBody[CreateChat], chats: NamedDependency[Chats]) -> dict[str, Any]:
        created = await chats.create_chat(data.project_id, data.model, data.title, data.workflow, data.inputs)
        return _json(convert.chat(created))

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
    async def messages(
        self, chat_id: FromPath[str], chats: NamedDependency[Chats], agent: FromQuery[str] = ""
    ) -> list[dict[str, Any]]:
        """The chat's transcript (its sub-agents' messages left out); `?agent=ID`: one sub-agent's."""
        found, runs, _ = await chats.messages(chat_id, agent)
        return [_json(convert.message(m, runs)) for m in found]

    @post("/{chat_id:str}/messages")
    async def send(
        self, chat_id: FromPath[str], data: JSONBody[SendMessage], chats: NamedDependency[Chats]
    ) -> dict[str, Any]:
        images = [
            ImageInput(i.media_type, _base64(f"images[{n}].data", i.data)) for n, i in enumerate(data.images or [])
        ]
        sent = await chats.send(chat_id, data.text, data.model, images=images)
        return {
            "message_id": sent.message.id,
            "seq": sent.seq,
            "queued": sent.queued,
            "attachments": [dataclasses.asdict(a) for a in sent.attachments],
        }

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
        chat = await chats.stream_start(chat_id, since_seq)
        if not follow:
            return [_json(wire_updates.to_pb(u)) for u in await chats.updates(chat.id, since_seq)]

        async def events() -> AsyncIterator[bytes]:
            async for update in stream_updates(chats.db, chats.ctx.bus, chat.id, since_seq, chats.ctx.streams):
                yield b"data: " + json.dumps(_json(wire_updates.to_pb(update))).encode() + b"\n\n"

        return Stream(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@get("/api/models")
async def models(chats: NamedDependency[Chats]) -> dict[str, Any]:
    return {"models": await chats.models(), "default_model": await chats.default_model()}
