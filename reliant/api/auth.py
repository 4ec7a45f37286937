"""Every API call needs the api token, as `Authorization: Bearer <token>` (or `?token=`, for scripts);
the probes /health and /ready are the exceptions (/ready shows its detail only with the token).

No cookie: cookies are not isolated by port, so a session cookie would reach every other server on
127.0.0.1 — the dev servers the agent starts among them. The UI's pages and assets hold no data and
are served to anyone who can reach the port; the page's script takes the token from the URL
`reliant up` prints (`/?token=T`), keeps it in the tab's sessionStorage, drops it from the address
bar and sends it as a header with every call (reliant/web/app/session.js). A page opened with a
wrong token gets a 401 page that says what to do. The session cookie of earlier versions is
ignored, and cleared wherever it still comes along.

Cross-origin requests are refused outright (403, no CORS headers): the UI is served from the api's
own origin and needs none.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlsplit

from reliant.api.asgi import ASGIApp, Message, Receive, Scope, Send
from reliant.api.web import STATIC_PREFIX, UNAUTHORIZED_CSP, is_page, respond, unauthorized_page

OLD_COOKIE = "reliant_token"  # and reliant_token_<port>: the session cookie of earlier versions
PUBLIC_PATHS = frozenset({"/health", "/ready"})


def _headers(scope: Scope) -> dict[bytes, str]:
    """Request headers by lower-case name; repeated cookie headers are joined."""
    out: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        text = value.decode("latin-1")
        out[name] = f"{out[name]}; {text}" if name == b"cookie" and name in out else text
    return out


def request_tokens(scope: Scope) -> list[str]:
    """Every token the request offers: the Bearer header and ?token=."""
    found = []
    auth = _headers(scope).get(b"authorization", "")
    if auth.lower().startswith("bearer "):
        found.append(auth[7:].strip())
    query = _query_token(scope)
    if query:
        found.append(query)
    return [t for t in found if t]


def offers_token(scope: Scope, token: str) -> bool:
    """Whether the request carries `token` (for the public paths that show more with it)."""
    return any(hmac.compare_digest(t.encode(), token.encode()) for t in request_tokens(scope))


def _query_token(scope: Scope) -> str:
    pairs = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"))
    return next((v for k, v in pairs if k == "token"), "")


def old_cookies(scope: Scope) -> list[str]:
    """Names of the session cookies an earlier version set, if the browser still sends any."""
    cookie = _headers(scope).get(b"cookie")
    if not cookie:
        return []
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie)
    except CookieError:
        return []
    return [name for name in jar if name == OLD_COOKIE or name.startswith(OLD_COOKIE + "_")]


def _foreign_origin(scope: Scope) -> bool:
    """True when a browser sent this request from a page of another origin."""
    headers = _headers(scope)
    origin = headers.get(b"origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != headers.get(b"host", "")


class TokenAuth:
    """ASGI middleware in front of the REST app, the ConnectRPC services and the UI."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def _valid(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if _foreign_origin(scope):
            await _forbidden(send)
            return
        send = _clearing(old_cookies(scope), send)
        path: str = scope["path"]
        if scope["method"] in ("GET", "HEAD") and (is_page(path) or path.startswith(STATIC_PREFIX)):
            given = _query_token(scope)
            if given and is_page(path) and not self._valid(given):
                await _unauthorized_page(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if not any(self._valid(t) for t in request_tokens(scope)):
            await _unauthorized(send, connect=path.startswith("/reliant."))
            return
        await self.app(scope, receive, send)


def _clearing(names: list[str], send: Send) -> Send:
    """`send`, adding to the response a Set-Cookie that clears each of `names`."""
    if not names:
        return send
    expired = [(b"set-cookie", f"{n}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict".encode()) for n in names]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *expired]}
        await send(message)

    return sending


async def _unauthorized_page(scope: Scope, send: Send) -> None:
    host = _headers(scope).get(b"host", "127.0.0.1")
    body = unauthorized_page(wrong_token=True, origin=f"{scope.get('scheme', 'http')}://{host}")
    headers = [(b"cache-control", b"no-store"), (b"content-security-policy", UNAUTHORIZED_CSP.encode())]
    await respond(send, 401, body, "text/html; charset=utf-8", headers)


async def _unauthorized(send: Send, *, connect: bool) -> None:
    message = "missing or wrong api token; use the URL printed by `reliant up` or send 'Authorization: Bearer <token>'"
    doc = {"code": "unauthenticated", "message": message} if connect else {"status_code": 401, "detail": message}
    await respond(send, 401, json.dumps(doc).encode(), "application/json")


async def _forbidden(send: Send) -> None:
    doc = {"code": "permission_denied", "message": "cross-origin requests are not allowed"}
    await respond(send, 403, json.dumps(doc).encode(), "application/json")
