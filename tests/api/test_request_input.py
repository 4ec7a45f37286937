"""Requests over real HTTP: unknown fields ignored, the field at fault named, NUL characters refused
(ConnectRPC and REST), and bodies past the size limit refused before they are read whole."""

from __future__ import annotations

import asyncio
import gzip
import json
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.chats import MAX_MESSAGE_CHARS
from reliant.api.connect_input import MAX_BODY_BYTES
from reliant.api.gates import MAX_MESSAGE_CHARS as MAX_ANSWER_CHARS
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from tests.api.conftest import ApiEnv


async def connect_json(env: ApiEnv, rpc: str, body: bytes, **headers: str) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{env.url}/reliant.v1.{rpc}",
            content=body,
            headers={**env.headers, "content-type": "application/json", **headers},
        )
    return response.status_code, response.json()


async def rest(env: ApiEnv, method: str, path: str, body: bytes) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.request(
            method, env.url + path, content=body, headers={**env.headers, "content-type": "application/json"}
        )
    return response.status_code, response.json() if response.content else {}


async def new_chat(env: ApiEnv) -> chat_pb2.Chat:
    async with ProjectServiceClient(env.url) as projects, ChatServiceClient(env.url) as chats:
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(env.workspace), daemon_id=env.settings.daemon_id),
            headers=env.headers,
        )
        return await chats.create_chat(chat_pb2.CreateChatRequest(project_id=project.id), headers=env.headers)


async def test_unknown_fields_are_ignored_so_newer_clients_keep_working(api_env: ApiEnv) -> None:
    chat = await new_chat(api_env)
    body = {"id": chat.id, "title": "Renamed", "titleColour": "blue", "v2": {"nested": [1, {"x": None}]}}
    status, doc = await connect_json(api_env, "ChatService/RenameChat", json.dumps(body).encode())
    assert status == 200 and doc["title"] == "Renamed"
    # gzip-compressed requests are read too.
    compressed = gzip.compress(json.dumps({"id": chat.id, "futureField": 1}).encode())
    status, doc = await connect_json(api_env, "ChatService/GetChat", compressed, **{"content-encoding": "gzip"})
    assert status == 200 and doc["id"] == chat.id


async def test_a_wrong_type_is_refused_naming_the_field(api_env: ApiEnv) -> None:
    status, doc = await connect_json(api_env, "ChatService/CreateChat", b'{"projectId": 5}')
    assert (status, doc["code"]) == (400, "invalid_argument")
    assert doc["message"] == "projectId: expected a string, got a number"
    status, doc = await connect_json(api_env, "ChatService/StreamUpdates", b"{}")
    assert status == 415 and "application/connect+json" in str(doc["message"])


async def test_nul_characters_are_refused_naming_the_field_over_connect_and_rest(api_env: ApiEnv) -> None:
    chat = await new_chat(api_env)
    for rpc, body, field in [
        ("ChatService/RenameChat", {"id": chat.id, "title": "a\x00b"}, "title"),
        ("ChatService/SendMessage", {"chatId": chat.id, "text": "hello\x00"}, "text"),
        ("ChatService/CreateChat", {"projectId": chat.project_id, "title": "\x00"}, "title"),
        ("ApprovalService/Deny", {"approvalId": chat.id, "message": "no\x00"}, "message"),
        ("QuestionService/AnswerQuestion", {"questionId": chat.id, "answers": ["ok", "\x00"]}, "answers[1]"),
    ]:
        status, doc = await connect_json(api_env, rpc, json.dumps(body).encode())
        assert (status, doc["code"]) == (400, "invalid_argument"), (rpc, doc)
        assert str(doc["message"]).startswith(f"{field}: contains a NUL character"), (rpc, doc)
    for method, path, body, field in [
        ("PATCH", f"/api/chats/{chat.id}", {"title": "a\x00b"}, "title"),
        ("POST", f"/api/chats/{chat.id}/messages", {"text": "hi\x00"}, "text"),
        ("POST", "/api/chats", {"project_id": chat.project_id, "title": "\x00"}, "title"),
        ("POST", "/api/projects", {"path": "/tmp\x00/x"}, "path"),
    ]:
        status, doc = await rest(api_env, method, path, json.dumps(body).encode())
        assert (status, doc.get("code")) == (400, "invalid_argument"), (path, doc)
        assert str(doc["detail"]).startswith(f"{field}: contains a NUL character"), (path, doc)
    status, doc = await rest(api_env, "POST", f"/api/chats/{chat.id}/messages", b'{"text": "\xff"}')
    assert status == 400 and "not UTF-8" in str(doc["detail"])
    async with ChatServiceClient(api_env.url) as chats:
        found = await chats.get_chat(chat_pb2.GetChatRequest(id=chat.id), headers=api_env.headers)
    assert found.title == "" and found.status == "idle"  # nothing was written


async def test_a_lone_surrogate_in_a_rest_body_is_refused_naming_the_field(api_env: ApiEnv) -> None:
    """The REST bodies' JSON decoder refuses `\\ud800` on its own ("Input data was truncated"),
    before the field could be named."""
    chat = await new_chat(api_env)
    for method, path, body, field in [
        ("PATCH", f"/api/chats/{chat.id}", rb'{"title": "\ud800"}', "title"),
        ("PATCH", f"/api/chats/{chat.id}", rb'{"title": "a\udc00b"}', "title"),
        ("POST", f"/api/chats/{chat.id}/messages", rb'{"text": "hi", "images": [{"media_type": "\ud800"}]}', ""),
        ("POST", "/api/chats", b'{"project_id": "%s", "title": "x\\ud800"}' % chat.project_id.encode(), "title"),
    ]:
        status, doc = await rest(api_env, method, path, body)
        assert (status, doc.get("code")) == (400, "invalid_argument"), (path, doc)
        named = field or "images[0].media_type"
        assert str(doc["detail"]).startswith(f"{named}: is not valid UTF-8"), (path, doc)
    status, doc = await rest(api_env, "PATCH", f"/api/chats/{chat.id}", b'{"title": "\\ud800", ')
    assert status == 400 and "title" not in str(doc["detail"])  # not JSON at all: no field to name
    async with ChatServiceClient(api_env.url) as chats:
        found = await chats.get_chat(chat_pb2.GetChatRequest(id=chat.id), headers=api_env.headers)
    assert found.title == ""  # nothing was written


async def test_a_rest_body_cut_short_is_refused_as_not_json(api_env: ApiEnv) -> None:
    """The REST bodies' JSON decoder says only "Input data was truncated" of a body cut short: the
    answer says that it is the body, and that it is not JSON."""
    chat = await new_chat(api_env)
    for method, path in [
        ("PATCH", f"/api/chats/{chat.id}"),
        ("POST", "/api/chats"),
        ("PUT", f"/api/chats/{chat.id}/budget"),
        ("POST", "/api/workflows/validate"),
    ]:
        status, doc = await rest(api_env, method, path, b'{"title": ')
        assert (status, doc.get("code")) == (400, "invalid_argument"), (path, doc)
        assert doc["detail"] == "the body is not valid JSON: input data was truncated", (path, doc)


async def test_a_text_past_its_limit_is_refused_naming_the_field(api_env: ApiEnv) -> None:
    chat = await new_chat(api_env)
    long_text = json.dumps({"text": "x" * (MAX_MESSAGE_CHARS + 1)}).encode()
    status, doc = await rest(api_env, "POST", f"/api/chats/{chat.id}/messages", long_text)
    assert (status, doc.get("code")) == (400, "invalid_argument"), doc
    assert str(doc["detail"]).startswith("text: is 200,001 characters; the limit is 200,000"), doc
    long_denial = json.dumps({"approvalId": chat.id, "message": "x" * (MAX_ANSWER_CHARS + 1)}).encode()
    status, doc = await connect_json(api_env, "ApprovalService/Deny", long_denial)
    assert (status, doc["code"]) == (400, "invalid_argument"), doc
    assert str(doc["message"]).startswith("message: is longer than"), doc


async def raw_post(env: ApiEnv, path: str, content_type: str, *, declared: int | None, send: int) -> Answer:
    """POST `send` bytes (declaring `declared` as Content-Length, or chunked when None) without ever
    finishing the body; the answer must come while the body is still unfinished."""
    parts = urlsplit(env.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    client = h11.Connection(h11.CLIENT)
    length = [("Content-Length", str(declared))] if declared is not None else [("Transfer-Encoding", "chunked")]
    headers = [
        ("Host", parts.netloc),
        ("Authorization", f"Bearer {env.token}"),
        ("Content-Type", content_type),
        *length,
    ]
    writer.write(client.send(h11.Request(method="POST", target=path, headers=headers)) or b"")

    async def sender() -> None:
        piece, sent = b"x" * 65536, 0
        while sent < send:
            writer.write(client.send(h11.Data(data=piece)) or b"")
            await writer.drain()
            sent += len(piece)

    sending = asyncio.create_task(sender())
    try:
        return await asyncio.wait_for(_response(reader, client), 10)
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        writer.close()


async def _response(reader: asyncio.StreamReader, client: h11.Connection) -> Answer:
    response: h11.Response | None = None
    body = b""
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            assert response is not None
            return Answer(response.status_code, dict(response.headers), body)


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def error(self) -> dict[str, object]:
        if self.headers.get(b"content-type", b"").startswith(b"application/connect+"):
            flags, length = struct.unpack(">BI", self.body[:5])  # a stream: the end-of-stream envelope
            assert flags == 0x02
            return dict(json.loads(self.body[5 : 5 + length])["error"])
        return dict(json.loads(self.body))


@pytest.mark.parametrize("declared", [100_000_000, None], ids=["declared", "chunked"])
async def test_a_body_past_the_limit_is_refused_before_it_is_read_whole(api_env: ApiEnv, declared: int | None) -> None:
    too_much = MAX_BODY_BYTES + 1_000_000
    sent = 0 if declared is not None else too_much
    unary = await raw_post(api_env, "/reliant.v1.ChatService/GetChat", "application/json", declared=declared, send=sent)
    assert (unary.status, unary.error()["code"]) == (413, "resource_exhausted")
    assert str(MAX_BODY_BYTES) in str(unary.error()["message"])
    stream = await raw_post(
        api_env, "/reliant.v1.ChatService/StreamUpdates", "application/connect+json", declared=declared, send=sent
    )
    assert (stream.status, stream.error()["code"]) == (200, "resource_exhausted")
    plain = await raw_post(api_env, "/api/chats", "application/json", declared=declared, send=sent)
    assert plain.status == 413  # REST: the same limit


async def test_since_seq_past_the_end_of_the_log_is_out_of_range_not_a_stream_that_waits_forever(
    api_env: ApiEnv,
) -> None:
    chat = await new_chat(api_env)
    async with ChatServiceClient(api_env.url) as chats:
        await chats.rename_chat(chat_pb2.RenameChatRequest(id=chat.id, title="one update"), headers=api_env.headers)
        last = (await chats.get_chat(chat_pb2.GetChatRequest(id=chat.id), headers=api_env.headers)).last_seq
        assert last >= 1
        for since, code, fragment in [
            (last + 1000, Code.OUT_OF_RANGE, f"its last seq is {last}"),
            (-5, Code.INVALID_ARGUMENT, "since_seq: must be 0 or more"),
        ]:
            stream = chats.stream_updates(
                chat_pb2.StreamUpdatesRequest(chat_id=chat.id, since_seq=since), headers=api_env.headers
            )
            with pytest.raises(ConnectError) as info:
                await asyncio.wait_for(anext(aiter(stream)), 10)
            assert info.value.code == code and fragment in info.value.message
        # At the end of the log exactly, the stream opens and says it is caught up.
        stream = chats.stream_updates(
            chat_pb2.StreamUpdatesRequest(chat_id=chat.id, since_seq=last), headers=api_env.headers
        )
        first = await asyncio.wait_for(anext(aiter(stream)), 10)
        assert first.kind == "stream_ready"
        await stream.aclose()
    status, doc = await rest(api_env, "GET", f"/api/chats/{chat.id}/updates?since_seq={last + 1}", b"")
    assert (status, doc["code"]) == (400, "out_of_range")


async def test_a_daemon_id_that_is_malformed_or_unknown_is_a_client_error(api_env: ApiEnv) -> None:
    path = str(api_env.workspace)
    for daemon_id, status, code, fragment in [
        ("no such daemon/..", 400, "invalid_argument", "daemon_id: is not a daemon id"),
        ("é", 400, "invalid_argument", "daemon_id: is not a daemon id"),
        ("d-unknown", 404, "not_found", f"no daemon d-unknown is known; online: {api_env.settings.daemon_id}"),
    ]:
        body = json.dumps({"path": path, "daemonId": daemon_id}).encode()
        got, doc = await connect_json(api_env, "ProjectService/CreateProject", body)
        assert (got, doc["code"]) == (status, code) and fragment in str(doc["message"]), doc
