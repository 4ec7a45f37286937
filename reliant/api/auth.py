"""Every request but /health needs the api token: a Bearer header, the session cookie, or ?token=."""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from reliant.api.asgi import ASGIApp, Receive, Scope, Send

COOKIE = "reliant_token"
PUBLIC_PATHS = frozenset({"/health"})


def request_token(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return str(text[7:].strip())
        elif name == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(COOKIE)
            if morsel is not None:
                return str(morsel.value)
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    return query.get("token", [""])[0]


class TokenAuth:
    """ASGI middleware in front of both the REST app and the ConnectRPC services."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PUBLIC_PATHS:
            given = request_token(scope).encode()
            if not given or not hmac.compare_digest(given, self._token):
                await _unauthorized(send, connect=scope["path"].startswith("/reliant."))
                return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, *, connect: bool) -> None:
    message = "missing or wrong api token; use the URL printed by `reliant up` or send 'Authorization: Bearer <token>'"
    doc = {"code": "unauthenticated", "message": message} if connect else {"status_code": 401, "detail": message}
    body = json.dumps(doc).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
