"""Every door of the api, as a careless third-party client finds it: each REST route of the Litestar
app (enumerated from the app itself, with its methods, path and query parameters and body fields)
and each ConnectRPC method (from the service descriptors). Each is sent no token, a body that is not
JSON or not an object, every field with a value of every other JSON type, numbers out of range,
1 MB strings, unknown names, bad ids in the path and bad query parameters. None gets a 5xx or
hangs; the unauthenticated get 401 before anything is read; and a 4xx names the field at fault (or
says the body is not JSON) without sending a huge value back."""

from __future__ import annotations

import asyncio
import json
import types
import typing
import uuid
from collections.abc import Container, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import quote

import httpx
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from litestar.routes import HTTPRoute

from reliant.api.app import rest_app
from reliant.api.auth import PUBLIC_PATHS
from reliant.wire.v1 import settings_pb2
from tests.api.conftest import ApiEnv
from tests.api.malformed import BYTES, DECODES, FLOATS, INTS, INVALID, NEEDS_A_WORKER, STRINGS, Case, methods, path_of
from tests.api.test_malformed_requests import send, wrong

F = FieldDescriptor
ANSWER_WITHIN = 15.0  # seconds: every answer here is a refusal or a small write
MEGABYTE = "x" * 1_000_000
# A refusal names what is wrong; it need not send a 1 MB value back. (Litestar's own refusal of a
# query parameter repeats the URL, which the HTTP server bounds.)
MAX_REFUSAL_BYTES = 16_384
OTHER_TYPES: dict[str, Any] = {
    "a string": "x",
    "a number": 5,
    "a boolean": True,
    "an object": {"a": 1},
    "a list": [1],
    "null": None,
}
NUMBERS: dict[str, Any] = {"-1": -1, "1e308": 1e308, "2**63": 2**63, "-2**63-1": -(2**63) - 1}
ONE_QUERY_VALUE = {"int": "1", "bool": "false", "str": "x"}
# Handlers that read their body themselves, as this protobuf message.
RAW_BODIES = {("PATCH", "/api/settings"): settings_pb2.UpdateSettingsRequest}
# The machinery, not a door of reliant's: the auto-generated OPTIONS answers and the schema.
SKIPPED_METHODS = {"OPTIONS", "HEAD"}


# -- the doors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Door:
    """One REST route and method: its parameters, and its JSON body's fields by kind (None: no body)."""

    method: str
    template: str
    path_params: tuple[str, ...]
    query: dict[str, str]
    body: dict[str, str] | None

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def _kind(annotation: Any) -> str:
    """A Python annotation as a JSON kind: str, int, float, bool, list or object."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(inner)
    origin = typing.get_origin(annotation) or annotation
    kinds = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "object"}
    return kinds.get(origin, "object")


def _proto_kind(f: FieldDescriptor) -> str:
    if f.type == F.TYPE_MESSAGE and f.message_type.GetOptions().map_entry:
        return "object"
    if f.is_repeated:
        return "list"
    if f.type in STRINGS:
        return "str"
    if f.type in INTS:
        return "int"
    if f.type in FLOATS:
        return "float"
    if f.type == F.TYPE_BOOL:
        return "bool"
    if f.type in BYTES:
        return "bytes"
    return "object"


def rest_doors() -> list[Door]:
    """Every route of the REST app with its methods, read off the app and its handlers' signatures."""
    unused: Any = None  # the app is built to be read, never served: its services are not called
    app = rest_app(unused, cast(Any, SimpleNamespace(db=None)), unused, unused, unused)
    doors = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - SKIPPED_METHODS):
                params = handler.parsed_fn_signature.parameters
                path_params = tuple(route.path_parameters)
                query = {
                    name: _kind(p.annotation)
                    for name, p in params.items()
                    if name not in path_params and p.annotation in (str, int, float, bool)
                }
                body: dict[str, str] | None = None
                if "data" in params and is_dataclass(params["data"].annotation):
                    hints = typing.get_type_hints(params["data"].annotation)
                    body = {f.name: _kind(hints[f.name]) for f in fields(params["data"].annotation)}
                elif (method, route.path) in RAW_BODIES:
                    descriptor = RAW_BODIES[(method, route.path)].DESCRIPTOR
                    body = {f.name: _proto_kind(f) for f in descriptor.fields}
                doors.append(Door(method, route.path, path_params, query, body))
    return doors


# -- what a careless client sends ----------------------------------------------------------------


@dataclass
class Ids:
    """Real ids, so that a request with one careless part reaches past the others."""

    project_id: str
    chat_id: str
    workspace: str

    def path_value(self, name: str) -> str:
        return {"project_id": self.project_id, "chat_id": self.chat_id, "name": "agent"}.get(name, str(uuid.uuid4()))

    def body(self, door: Door) -> dict[str, Any]:
        """A body that passes: the fields a door needs, with values it accepts."""
        assert door.body is not None
        sensible = {
            "path": self.workspace,
            "project_id": self.project_id,
            "fingerprint": "0" * 64,
            "title": "careless",
            "text": "hello" if "messages" in door.template else "name: careless\n",
            "usd": 1.0,
            "action": "keep",
        }
        return {name: sensible[name] for name in door.body if name in sensible}


@dataclass
class Request:
    door: str
    name: str
    method: str
    url: str
    body: bytes | None = None
    token: bool = True
    names: tuple[str, ...] = ()  # a 4xx must name one of these
    status: Container[int] = range(0, 500)  # what the answer's status must be
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def acceptable(kind: str, value: Any) -> bool:
    """Whether a JSON value is of the kind a field asks for (null: the default, always)."""
    if value is None:
        return True
    return {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, list),
        "object": isinstance(value, dict),
        "bytes": False,  # "x" is not base64
    }[kind]


def field_values(kind: str, name: str = "") -> Iterator[tuple[str, Any]]:
    """Values of every other JSON type for a field of `kind`, then the out-of-range and the huge."""
    for what, value in OTHER_TYPES.items():
        if not (acceptable(kind, value) and value is not None):
            yield what, value
    if kind in ("int", "float"):
        yield from NUMBERS.items()
    if kind == "str":
        yield "1 MB", MEGABYTE
        yield "a NUL character", "a\x00b"
        if not name.endswith("_api_key"):  # a key of any shape is one, and would send the api to the network
            yield "an unknown name", "no-such-thing-9"
    if kind == "object":
        yield "a NUL character inside", {"a": "b\x00"}
        yield "a lone surrogate inside", {"a": "\ud800"}


def rest_requests(doors: list[Door], ids: Ids, base: str) -> Iterator[Request]:
    for door in doors:
        yield from _door_requests(door, ids, base)


def _url(door: Door, base: str, values: dict[str, str], query: dict[str, str] | None = None) -> str:
    path = door.template
    for name in door.path_params:
        path = path.replace(f"{{{name}:str}}", quote(values[name], safe=""))
    if query:
        path += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return base + path


def _door_requests(door: Door, ids: Ids, base: str) -> Iterator[Request]:
    real = {name: ids.path_value(name) for name in door.path_params}
    url = _url(door, base, real)
    writes = door.method in ("POST", "PUT", "PATCH")
    unauth = (200, 503) if door.template in PUBLIC_PATHS else (401,)  # the probes need no token
    baseline = ids.body(door) if door.body is not None else None
    body = json.dumps(baseline).encode() if baseline is not None else None

    def req(name: str, **kwargs: Any) -> Request:
        return Request(door.name, name, door.method, kwargs.pop("url", url), **kwargs)

    yield req("no token", token=False, status=unauth)
    yield req("a wrong token", token=False, headers={"authorization": "Bearer wrong"}, status=unauth)
    if writes:
        yield req("no token, a body not JSON", token=False, body=b"{not json", status=unauth)
    for name, kind in door.query.items():
        for what, raw in _query_values(kind):
            yield req(f"?{name}: {what}", url=_url(door, base, real, {name: raw}), body=body, names=_names(name))
        twice = _url(door, base, real) + f"?{name}={ONE_QUERY_VALUE[kind]}&{name}={ONE_QUERY_VALUE[kind]}"
        yield req(f"?{name}: twice", url=twice, body=body, names=_names(name))
    for name in door.path_params:
        for what, raw in (
            ("not an id", "not-a-uuid"),
            ("an unknown uuid", str(uuid.uuid4())),
            ("10 KB", "x" * 10_000),
            ("a NUL character", "a\x00b"),
        ):
            bad = {**real, name: raw}
            names = (*_names(name), _resource(door, name))
            yield req(f"{{{name}}}: {what}", url=_url(door, base, bad), body=body, names=names, status=range(400, 500))
    if not writes:
        return
    not_json = ("JSON", "json", "body")
    for what, raw in (
        ("empty", b""),
        ("not JSON", b"{not json"),
        ("truncated", b'{"a": '),
        ("bad UTF-8", b'{"a": "\xff"}'),
        ("a list", b"[]"),
        ("a string", b'"x"'),
        ("a number", b"1"),
        ("null", b"null"),
    ):
        if door.body is not None and raw:  # an empty body may read as an empty object, as in ConnectRPC
            yield req(f"body: {what}", body=raw, names=not_json, status=range(400, 500))
        elif door.body is not None:
            yield req(f"body: {what}", body=raw, names=not_json)
        else:
            yield req(f"body: {what}", body=raw)
    if door.body is None or baseline is None:
        return
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        yield req(f"content-type {ctype}", body=body, content_type=ctype)
    for name, kind in door.body.items():
        for what, value in field_values(kind, name):
            wrong_body = json.dumps({**baseline, name: value}).encode()
            status = range(0, 500) if acceptable(kind, value) else range(400, 500)
            yield req(f"{name}: {what}", body=wrong_body, names=_names(name), status=status)


def _resource(door: Door, name: str) -> str:
    """What a path parameter picks: `chat` for /api/chats/{chat_id}, `workflow` for /workflows/{name}."""
    before = door.template.split(f"/{{{name}:str}}")[0].rsplit("/", 1)[-1]
    return before.removesuffix("s")


def _names(name: str) -> tuple[str, ...]:
    """How an answer may name a parameter or field: `project_id` also as "project id" (the
    message for any malformed id) or "project" (unknown project ...)."""
    if name.endswith("_id"):
        return (name, name.replace("_", " "), name.removesuffix("_id"))
    return (name,)


def _query_values(kind: str) -> Iterator[tuple[str, str]]:
    if kind == "int":
        yield from [("letters", "abc"), ("a fraction", "1.5"), ("1e308", "1e308"), ("-1", "-1")]
        yield from [("2**63", str(2**63)), ("5,000 digits", "9" * 5000), ("empty", "")]
    elif kind == "bool":
        yield from [("not a bool", "maybe"), ("a number", "2")]
    else:
        yield from [("not an id", "not-a-uuid"), ("10 KB", "x" * 10_000), ("a NUL character", "a\x00b")]


def connect_cases() -> Iterator[Case]:
    """For every ConnectRPC method: the body of every wrong top-level type, and each field with a
    value of every other JSON type and numbers out of range. (No request has a protobuf enum: a
    kind is a string, and an unknown one is among test_careless_requests' unknown names.)"""
    for method in methods():
        stream = method.server_streaming or method.client_streaming
        ctype = "application/connect+json" if stream else "application/json"
        for what, raw in (("not JSON", b"{not json"), ("a list", b"[]"), ("a string", b'"x"'), ("a number", b"1")):
            yield Case(method, f"body: {what}", raw, ctype, INVALID)
        descriptor: Descriptor = method.input_type
        for f in descriptor.fields:
            kind = _proto_kind(f)
            # null, 1 MB strings and unknown names decode, and reach the service: test_careless_requests
            # sends those on top of real ids, which reaches further than here.
            values = {what: v for what, v in field_values(kind) if what in NUMBERS or what in OTHER_TYPES}
            values.pop("null", None)
            for what, value in values.items():
                if method.name in NEEDS_A_WORKER and acceptable(kind, value):
                    continue  # a request that decodes would start a workflow: the fixture has no worker
                expect = DECODES if acceptable(kind, value) or _in_range(f, value) else INVALID
                body = json.dumps({f.json_name: value}).encode()
                yield Case(method, f"{f.name}: {what}", body, ctype, expect, f.json_name)


def _in_range(f: FieldDescriptor, value: Any) -> bool:
    """Whether a number fits a numeric field (a float field takes 1e308; -1 fits a signed one)."""
    if f.type in FLOATS and isinstance(value, float):
        return True
    signed = f.type in (F.TYPE_INT32, F.TYPE_INT64, F.TYPE_SINT32, F.TYPE_SINT64, F.TYPE_SFIXED32, F.TYPE_SFIXED64)
    return signed and value == -1 and not f.is_repeated


# -- the sweep -------------------------------------------------------------------------------------


async def answer(client: httpx.AsyncClient, env: ApiEnv, request: Request) -> str:
    """What is wrong with the answer to `request` ("" if nothing)."""
    headers = {"content-type": request.content_type, **(env.headers if request.token else {}), **request.headers}
    try:
        response = await client.request(request.method, request.url, content=request.body, headers=headers)
    except httpx.TimeoutException:
        return f"no answer within {ANSWER_WITHIN:.0f}s"
    status, text = response.status_code, response.text
    if status not in request.status:
        return f"got {status} {text[:200]!r}"
    if 400 <= status < 500 and request.names and not any(name in text for name in request.names):
        return f"the {status} does not name {' or '.join(request.names)}: {text[:200]!r}"
    if 400 <= status < 500 and len(response.content) > MAX_REFUSAL_BYTES:
        return f"the {status} is {len(response.content):,} bytes: it repeats the input: {text[:120]!r}"
    return ""


async def sweep_ids(env: ApiEnv, client: httpx.AsyncClient) -> Ids:
    project = await client.post(
        env.url + "/api/projects",
        json={"path": str(env.workspace), "daemon_id": env.settings.daemon_id},
        headers=env.headers,
    )
    assert project.status_code == 201, project.text
    chat = await client.post(env.url + "/api/chats", json={"project_id": project.json()["id"]}, headers=env.headers)
    assert chat.status_code == 201, chat.text
    return Ids(project.json()["id"], chat.json()["id"], str(env.workspace))


@pytest.mark.timeout(300)
async def test_every_door_answers_malformed_input_with_a_4xx_naming_the_field(api_env: ApiEnv) -> None:
    doors = rest_doors()
    assert len(doors) >= 30 and all(d.method not in SKIPPED_METHODS for d in doors)
    failures: list[str] = []
    gate = asyncio.Semaphore(6)
    limits = httpx.Limits(max_connections=6)
    async with httpx.AsyncClient(timeout=ANSWER_WITHIN, limits=limits) as client:
        ids = await sweep_ids(api_env, client)
        rest = list(rest_requests(doors, ids, api_env.url))
        connect = list(connect_cases())
        assert {c.path for c in connect} == {path_of(m) for m in methods()}

        async def check_rest(request: Request) -> None:
            async with gate:
                problem = await answer(client, api_env, request)
            if problem:
                failures.append(f"{request.door} [{request.name}]: {problem}")

        async def check_connect(case: Case) -> None:
            async with gate:
                try:
                    got = await send(client, api_env, case)
                except httpx.TimeoutException:
                    failures.append(f"{case.path} [{case.name}]: no answer within {ANSWER_WITHIN:.0f}s")
                    return
            problem = wrong(case, got)
            if problem:
                failures.append(f"{case.path} [{case.name}]: {problem}; got {got.status} {got.message[:150]!r}")

        async def check_unauthenticated(method: MethodDescriptor) -> None:
            async with gate:
                response = await client.post(
                    api_env.url + path_of(method), content=b"{not json", headers={"content-type": "application/json"}
                )
            if response.status_code != 401 or response.json().get("code") != "unauthenticated":
                failures.append(f"{path_of(method)} [no token]: got {response.status_code} {response.text[:150]!r}")

        await asyncio.gather(
            *(check_rest(r) for r in rest),
            *(check_connect(c) for c in connect),
            *(check_unauthenticated(m) for m in methods()),
        )
    summary = "\n".join(sorted(failures)[:80])
    total = len(rest) + len(connect) + len(methods())
    assert not failures, f"{len(failures)} of {total} requests were answered wrongly:\n{summary}"
