"""How every ConnectRPC request is read, in front of the services: one place for all of them.

The body is read within MAX_BODY_BYTES (the REST limit too) and refused as soon as it passes it,
not after it is buffered whole; its content type and compression are checked, a streaming call's
envelope is taken apart, and the message is decoded strictly (request_decoding.py). Anything
malformed gets a Connect error that says what is wrong — `invalid_argument` naming the field at
fault, `resource_exhausted` past the limit, HTTP 415 for a content type the api does not speak —
instead of the library's HTTP 500 `unknown`. The service then receives the decoded message
re-encoded (unknown fields dropped, uncompressed), which the library decodes without fault.

The api speaks the Connect protocol (JSON or protobuf binary); gRPC and gRPC-Web are refused with
415, as the ASGI server cannot send the trailers gRPC needs.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import Message

from reliant.api.asgi import ASGIApp, Receive, Scope, Send
from reliant.api.errors import HTTP_STATUS, ApiError, InvalidArgumentError, TooLargeError
from reliant.api.request_decoding import decode_binary, decode_json

MAX_BODY_BYTES = 10_000_000  # the api's limit for every request body, REST and ConnectRPC alike
OFF_LOOP_BYTES = 64 * 1024  # bodies at least this big are decoded in a worker thread
_PREFIX = 5  # an envelope: 1 byte of flags, 4 bytes of length
_COMPRESSED = 0x01
_DROPPED_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding", b"connect-content-encoding"})


@dataclass(frozen=True, slots=True)
class _Method:
    name: str  # reliant.v1.ChatService.CreateChat
    request: type[Message]
    streaming: bool


class _ClientGone(Exception):
    """The client disconnected before its request was read."""


class UnsupportedMediaTypeError(InvalidArgumentError):
    """A content type the api does not speak (HTTP 415)."""


class ConnectInput:
    """ASGI middleware in front of one ConnectRPC service application."""

    def __init__(self, app: ASGIApp, service: str, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        descriptor = descriptor_pool.Default().FindServiceByName(service)
        self.methods = {
            f"/{service}/{m.name}": _Method(
                m.full_name,
                message_factory.GetMessageClass(m.input_type),
                bool(m.client_streaming or m.server_streaming),
            )
            for m in descriptor.methods
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = self.methods.get(scope.get("path", ""))
        if scope["type"] != "http" or method is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)  # the library answers: 404, 405
            return
        try:
            headers = _headers(scope)
            codec = _codec(headers.get(b"content-type", ""), method)
        except UnsupportedMediaTypeError as exc:
            await _respond(send, 415, _error_doc(exc), ((b"accept-post", _accepted(method).encode()),))
            return
        except ApiError as exc:
            await _refuse(send, exc, method, "json")
            return
        try:
            body = await self._read(receive, headers)
            if len(body) < OFF_LOOP_BYTES:
                forwarded = self._canonical(body, headers, method, codec)
            else:  # a big body takes a while to decode: leave the event loop free for other requests
                forwarded = await asyncio.to_thread(self._canonical, body, headers, method, codec)
        except _ClientGone:
            return
        except ApiError as exc:
            await _refuse(send, exc, method, codec)
            return
        scope = {**scope, "headers": _forwarded_headers(scope, method, codec, len(forwarded))}
        await self.app(scope, _replay(forwarded, receive), send)

    async def _read(self, receive: Receive, headers: dict[bytes, str]) -> bytes:
        declared = headers.get(b"content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise TooLargeError(
                f"the body is {int(declared)} bytes; the limit is {self.max_bytes}", limit=self.max_bytes
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large("the body")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _canonical(self, body: bytes, headers: dict[bytes, str], method: _Method, codec: str) -> bytes:
        """The request decoded and encoded again, as the service's library will read it."""
        if not method.streaming:
            encoding = headers.get(b"content-encoding", "identity").strip().lower()
            _check_encoding("content-encoding", encoding)
            return _encode(self._decode(self._inflate(body, encoding), method, codec), codec)
        encoding = headers.get(b"connect-content-encoding", "identity").strip().lower()
        _check_encoding("connect-content-encoding", encoding)
        messages = [self._decode(data, method, codec) for data in self._envelopes(body, encoding)]
        if len(messages) != 1:
            raise InvalidArgumentError(
                f"{method.name} takes exactly one request message in one envelope; the body holds {len(messages)}"
            )
        return b"".join(struct.pack(">BI", 0, len(data)) + data for data in (_encode(m, codec) for m in messages))

    def _decode(self, data: bytes, method: _Method, codec: str) -> Message:
        if codec == "json":
            return decode_json(data, method.request)
        return decode_binary(data, method.request)

    def _envelopes(self, body: bytes, encoding: str) -> list[bytes]:
        found: list[bytes] = []
        pos = total = 0
        while pos < len(body):
            if len(body) - pos < _PREFIX:
                raise InvalidArgumentError("the body ends inside an envelope's 5-byte prefix")
            flags, length = struct.unpack(">BI", body[pos : pos + _PREFIX])
            if flags & ~_COMPRESSED:
                raise InvalidArgumentError(f"an envelope has flags {flags:#04x}; a request sets only 0x01 (compressed)")
            start = pos + _PREFIX
            if start + length > len(body):
                raise InvalidArgumentError(f"an envelope announces {length} bytes, but only {len(body) - start} follow")
            data = body[start : start + length]
            pos = start + length
            if flags & _COMPRESSED:
                if encoding == "identity":
                    raise InvalidArgumentError(
                        "an envelope is compressed, but connect-content-encoding names no compression"
                    )
                data = self._inflate(data, encoding)
            total += len(data)
            if total > self.max_bytes:
                raise self._too_large("the request uncompressed")
            found.append(data)
        return found

    def _too_large(self, what: str) -> TooLargeError:
        return TooLargeError(f"{what} is larger than the limit of {self.max_bytes} bytes", limit=self.max_bytes)

    def _inflate(self, data: bytes, encoding: str) -> bytes:
        """Gzip data uncompressed, refused as soon as it passes the limit (a small bomb stays small)."""
        if encoding == "identity" or not data:
            return data
        inflater = zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(data, self.max_bytes + 1)
        except zlib.error:
            raise InvalidArgumentError("the body is not valid gzip data") from None
        if len(out) > self.max_bytes:
            raise self._too_large("the body uncompressed")
        if not inflater.eof or inflater.unused_data:
            raise InvalidArgumentError("the gzip data is cut short or followed by other data")
        return out


def _headers(scope: Scope) -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        try:
            out[bytes(name).lower()] = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgumentError(f"header {bytes(name).decode('latin-1')} is not UTF-8") from None
    return out


def _codec(content_type: str, method: _Method) -> str:
    """The codec ("json" or "proto") the request's content type names."""
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower()
    prefix = "application/connect+" if method.streaming else "application/"
    name = media[len(prefix) :] if media.startswith(prefix) else ""
    charset = ""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if name == "proto" or (name == "json" and charset in ("", "utf-8")):
        return name
    shown = content_type or "none"
    raise UnsupportedMediaTypeError(f"content-type {shown!r} is not one {method.name} accepts: use {_accepted(method)}")


def _accepted(method: _Method) -> str:
    prefix = "application/connect+" if method.streaming else "application/"
    return f"{prefix}json, {prefix}proto"


def _check_encoding(header: str, encoding: str) -> None:
    if encoding not in ("identity", "gzip"):
        raise InvalidArgumentError(f"{header} {encoding!r} is not supported: use gzip or identity")


def _encode(message: Message, codec: str) -> bytes:
    if codec == "json":
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


def _forwarded_headers(scope: Scope, method: _Method, codec: str, length: int) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in scope.get("headers", ()) if bytes(n).lower() not in _DROPPED_HEADERS]
    prefix = "application/connect+" if method.streaming else "application/"
    return [*kept, (b"content-type", f"{prefix}{codec}".encode()), (b"content-length", str(length).encode())]


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over `body` once, then listens to the client (for its disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _error_doc(exc: ApiError) -> dict[str, str]:
    return {"code": exc.code.value, "message": exc.message}


async def _refuse(send: Send, exc: ApiError, method: _Method, codec: str) -> None:
    """A unary call gets the error as its JSON body; a streaming call gets HTTP 200 and the error in
    the end-of-stream envelope, as the Connect protocol has it."""
    if not method.streaming:
        await _respond(send, int(HTTP_STATUS.get(exc.code, 400)), _error_doc(exc))
        return
    end = json.dumps({"error": _error_doc(exc)}).encode()
    body = struct.pack(">BI", 0x02, len(end)) + end
    content_type = f"application/connect+{codec}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _respond(send: Send, status: int, doc: dict[str, str], extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps(doc).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
