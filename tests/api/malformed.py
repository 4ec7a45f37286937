"""A generated corpus of malformed ConnectRPC requests for every RPC of every service, built from the
generated service descriptors (so a new RPC or field is covered without touching the tests)."""

from __future__ import annotations

import functools
import gzip
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor, ServiceDescriptor

from reliant.wire.v1 import chat_pb2, control_pb2, settings_pb2, system_pb2, workflow_pb2, workspace_pb2

# What the api must answer.
INVALID = "invalid_argument"
UNSUPPORTED = "unsupported_media_type"  # HTTP 415
TOO_LARGE = "resource_exhausted"
DECODES = "decodes"  # a well-formed request: whatever the RPC says, but never 5xx, unknown or internal

F = FieldDescriptor
STRINGS = {F.TYPE_STRING}
BYTES = {F.TYPE_BYTES}
INTS = {
    F.TYPE_INT32,
    F.TYPE_INT64,
    F.TYPE_UINT32,
    F.TYPE_UINT64,
    F.TYPE_SINT32,
    F.TYPE_SINT64,
    F.TYPE_FIXED32,
    F.TYPE_FIXED64,
    F.TYPE_SFIXED32,
    F.TYPE_SFIXED64,
}
FLOATS = {F.TYPE_DOUBLE, F.TYPE_FLOAT}
# RPCs whose empty request is a valid one that runs a workflow: the api fixture has no worker.
NEEDS_A_WORKER = {"RunDoctor"}


def services() -> list[ServiceDescriptor]:
    return [
        service
        for module in (chat_pb2, control_pb2, system_pb2, settings_pb2, workspace_pb2, workflow_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
    ]


def methods() -> list[MethodDescriptor]:
    return [method for service in services() for method in service.methods]


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def streaming(method: MethodDescriptor) -> bool:
    return bool(method.server_streaming or method.client_streaming)


@dataclass
class Case:
    method: MethodDescriptor
    name: str
    body: bytes
    content_type: str
    expect: str
    field_name: str = ""  # the field the answer must name
    headers: dict[str, str] = field(default_factory=dict)
    envelope: bool = True  # for streaming methods: wrap the body in one Connect envelope

    @property
    def path(self) -> str:
        return path_of(self.method)

    def request_body(self) -> bytes:
        if streaming(self.method) and self.envelope:
            return envelope(self.body)
        return self.body


def envelope(data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(data)) + data


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _wrong_json_values(f: FieldDescriptor) -> Iterator[tuple[str, bytes]]:
    """Raw JSON values of the wrong type (or out of range) for field `f`."""
    if f.is_repeated and not _is_map(f):
        yield "a string for a list", b'"x"'
        yield "an object for a list", b"{}"
        yield "null in a list", b"[null]"
        yield "nesting in a list", b"[" * 200 + b"]" * 200
        element = next(_wrong_scalar(f), None)
        if element is not None:
            yield f"a list of {element[0]}", b"[" + element[1] + b"]"
        return
    if _is_map(f):
        yield "a list for a map", b"[]"
        yield "a string for a map", b'"x"'
        return
    yield from _wrong_scalar(f)
    yield "nesting", b"[" * 200 + b"]" * 200


def _wrong_scalar(f: FieldDescriptor) -> Iterator[tuple[str, bytes]]:
    if f.type in STRINGS:
        yield "a number for a string", b"123"
        yield "a bool for a string", b"true"
        yield "an object for a string", b'{"a": 1}'
        yield "a NUL character", b'"a\\u0000b"'
        yield "a lone surrogate", b'"\\ud800"'
        yield "bad UTF-8", b'"\xff\xfe"'
    elif f.type in BYTES:
        yield "a number for bytes", b"5"
        yield "not base64", b'"!!!not base64!!!"'
        yield "a truncated base64", b'"a"'
    elif f.type == F.TYPE_BOOL:
        yield "a string for a bool", b'"yes"'
        yield "a number for a bool", b"1"
    elif f.type in INTS:
        yield "letters for a number", b'"abc"'
        yield "a fraction for an integer", b"1.5"
        yield "an integer too large", b"1e30"
        yield "an integer string too large", b'"' + b"9" * 30 + b'"'
        yield "a bool for a number", b"true"
        yield "an object for a number", b"{}"
    elif f.type in FLOATS:
        yield "letters for a number", b'"abc"'
        yield "a bool for a number", b"true"
        yield "a list for a number", b"[]"
    elif f.type == F.TYPE_MESSAGE:
        yield "a string for a message", b'"x"'
        yield "a number for a message", b"5"
        yield "a list for a message", b"[]"
        inner = f.message_type.fields[0] if f.message_type.fields else None
        if inner is not None and inner.type in STRINGS and not inner.is_repeated:
            yield "a nested field of the wrong type", b'{"' + inner.name.encode() + b'": 5}'


def _is_map(f: FieldDescriptor) -> bool:
    return f.type == F.TYPE_MESSAGE and f.message_type.GetOptions().map_entry


def json_cases(method: MethodDescriptor) -> Iterator[Case]:
    ctype = "application/connect+json" if streaming(method) else "application/json"

    def case(name: str, body: bytes, expect: str = INVALID, field_name: str = "") -> Case:
        return Case(method, f"json: {name}", body, ctype, expect, field_name)

    yield case("truncated", b'{"a": ')
    yield case("not JSON", b"not json")
    yield case("a list", b"[]")
    yield case("a string", b'"text"')
    yield case("a number", b"42")
    yield case("null", b"null")
    yield case("a byte order mark", b"\xef\xbb\xbf{}")
    yield case("bad UTF-8 outside any field", b'{"unknownField": "\xff\xfe"}')
    yield case("deeply nested lists", b"[" * 100_000 + b"]" * 100_000)
    yield case("deeply nested objects", b'{"a":' * 20_000 + b"1" + b"}" * 20_000)
    yield case("a number with 5,000 digits", b'{"unknownField": ' + b"9" * 5000 + b"}")
    if method.name not in NEEDS_A_WORKER:
        yield case("an empty body", b"", DECODES)
        yield case("an empty object", b"{}", DECODES)
        yield case("unknown fields", b'{"someNewField": {"deep": [1, 2, {"x": null}]}, "other": 1}', DECODES)
    for f in method.input_type.fields:
        # Nesting past what JSON parsers take defeats the parse before any field is looked at.
        yield case(f"{f.name}: deep nesting", b'{"' + f.json_name.encode() + b'": ' + b"[" * 5000 + b"]" * 5000 + b"}")
        for what, value in _wrong_json_values(f):
            yield case(
                f"{f.name}: {what}", b'{"' + f.json_name.encode() + b'": ' + value + b"}", field_name=f.json_name
            )


def binary_cases(method: MethodDescriptor) -> Iterator[Case]:
    ctype = "application/connect+proto" if streaming(method) else "application/proto"

    def case(name: str, body: bytes, expect: str = INVALID, field_name: str = "") -> Case:
        return Case(method, f"proto: {name}", body, ctype, expect, field_name)

    yield case("garbage", b"\xff\xff\xff\xff\xff")
    yield case("an invalid wire type", tag(1, 7) + b"\x00")
    yield case("a group", tag(1, 3) + tag(1, 4))
    yield case("field number 0", b"\x00\x01")
    yield case("a length past the end", tag(15, 2) + varint(1 << 40))
    yield case("a truncated varint", tag(15, 0) + b"\xff\xff")
    if method.name not in NEEDS_A_WORKER:
        yield case("an empty body", b"", DECODES)
        yield case("an unknown field", tag(999, 2) + varint(3) + b"abc", DECODES)
    for f in method.input_type.fields:
        if f.type in STRINGS:
            yield case(f"{f.name}: bad UTF-8", tag(f.number, 2) + varint(2) + b"\xff\xfe", field_name=f.name)
            yield case(f"{f.name}: a NUL character", tag(f.number, 2) + varint(3) + b"a\x00b", field_name=f.name)
        if f.type in STRINGS | BYTES or f.type == F.TYPE_MESSAGE:
            yield case(f"{f.name}: truncated", tag(f.number, 2) + varint(10) + b"abc", field_name=f.name)
        if f.type == F.TYPE_MESSAGE:
            yield case(f"{f.name}: garbage inside", tag(f.number, 2) + varint(2) + b"\xff\xff", field_name=f.name)


def envelope_cases(method: MethodDescriptor) -> Iterator[Case]:
    if not streaming(method):
        return
    ctype = "application/connect+json"

    def case(name: str, body: bytes) -> Case:
        return Case(method, f"envelope: {name}", body, ctype, INVALID, envelope=False)

    yield case("no message", b"")
    yield case("half a prefix", b"\x00\x00")
    yield case("a length past the end", struct.pack(">BI", 0, 100) + b"{}")
    yield case("two messages", envelope(b"{}") + envelope(b"{}"))
    yield case("an end-of-stream flag", envelope(b"{}", flags=2))
    yield case("unknown flags", envelope(b"{}", flags=0x40))
    yield case("a compressed flag without an encoding", envelope(gzip.compress(b"{}"), flags=1))


def header_cases(method: MethodDescriptor) -> Iterator[Case]:
    unary = not streaming(method)
    ctype = "application/json" if unary else "application/connect+json"
    for wrong in (
        "",
        "text/plain",
        "application/xml",
        "application/json; charset=utf-16",
        "application/grpc",
        "application/grpc+proto",
        "application/grpc-web+proto",
        "application/connect+json" if unary else "application/json",
        "application/x-www-form-urlencoded",
    ):
        yield Case(method, f"content-type {wrong!r}", b"{}", wrong, UNSUPPORTED)
    encoding = "content-encoding" if unary else "connect-content-encoding"
    yield Case(method, "an unknown compression", b"{}", ctype, INVALID, headers={encoding: "br"})
    broken = b"\x1f\x8b\x08\x00not really gzip"
    gz = {encoding: "gzip"}
    if unary:
        yield Case(method, "broken gzip", broken, ctype, INVALID, headers=gz)
        yield Case(method, "a gzip bomb", gzip_bomb(), ctype, TOO_LARGE, headers=gz)
    else:
        yield Case(method, "broken gzip", envelope(broken, 1), ctype, INVALID, headers=gz, envelope=False)
        yield Case(method, "a gzip bomb", envelope(gzip_bomb(), 1), ctype, TOO_LARGE, headers=gz, envelope=False)


@functools.cache
def gzip_bomb() -> bytes:
    """About 30 KB that inflate to 30 MB, three times the body limit."""
    return gzip.compress(b'{"unknownField": "' + b"0" * 30_000_000 + b'"}')


def corpus() -> list[Case]:
    return [
        case
        for method in methods()
        for cases in (json_cases, binary_cases, envelope_cases, header_cases)
        for case in cases(method)
    ]
