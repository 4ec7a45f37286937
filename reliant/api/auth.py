"""Every request but /health needs the api token: a Bearer header, the session cookie, or ?token=.

Browsers sign in by opening the URL `reliant up` prints (`/?token=T`): the answer sets an HttpOnly,
SameSite=Strict session cookie and redirects to the same page without the token, so the token does
not stay in the address bar or the history. A page opened without a valid token gets a 401 page that
says what to do; API calls get a 401 in their own format (ConnectRPC or REST JSON).

Cross-origin requests are refused outright (403, no CORS headers): the UI is served from the api's
own origin and needs none.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from reliant.api.asgi import ASGIApp, Receive, Scope, Send
from reliant.api.web import UNAUTHORIZED_CSP, is_page, respond, unauthorized_page

COOKIE = "reliant_token"
PUBLIC_PATHS = frozenset({"/health"})


def _headers(scope: Scope) -> dict[bytes, str]:
    """Request headers by lower-case name; repeated cookie headers are joined."""
    out: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        text = value.decode("latin-1")
        out[name] = f"{out[name]}; {text}" if name == b"cookie" and name in out else text
    return out


def cookie_name(scope: Scope) -> str:
    """Cookies are per host, not per port: two reliants on one machine each get their own name."""
    host = _headers(scope).get(b"host", "")
    port = urlsplit(f"//{host}").port if host else None
    if port is None:
        server = scope.get("server")
        port = server[1] if server else None
    return f"{COOKIE}_{port}" if port else COOKIE


def request_tokens(scope: Scope) -> list[str]:
    """Every token the request offers: Bearer header, reliant_token* cookies, ?token=."""
    headers = _headers(scope)
    found = []
    auth = headers.get(b"authorization", "")
    if auth.lower().startswith("bearer "):
        found.append(auth[7:].strip())
    if b"cookie" in headers:
        jar = SimpleCookie()
        try:
            jar.load(headers[b"cookie"])
        except Exception:  # noqa: BLE001 - a malformed cookie header only means no cookie
            jar = SimpleCookie()
        found += [m.value for name, m in jar.items() if name == COOKIE or name.startswith(COOKIE + "_")]
    query = _query_token(scope)
    if query:
        found.append(query)
    return [t for t in found if t]


def _query_token(scope: Scope) -> str:
    pairs = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"))
    return next((v for k, v in pairs if k == "token"), "")


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
        path: str = scope["path"]
        page = scope["method"] in ("GET", "HEAD") and is_page(path)
        query_token = _query_token(scope)
        if page and query_token:
            await self._sign_in(scope, send, query_token)
            return
        if not any(self._valid(t) for t in request_tokens(scope)):
            if page:
                await _unauthorized_page(scope, send, wrong_token=False)
            else:
                await _unauthorized(send, connect=path.startswith("/reliant."))
            return
        await self.app(scope, receive, send)

    async def _sign_in(self, scope: Scope, send: Send, token: str) -> None:
        """`/?token=T`: set the session cookie and redirect to the same page without the token."""
        if not self._valid(token):
            await _unauthorized_page(scope, send, wrong_token=True)
            return
        rest = [(k, v) for k, v in parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1")) if k != "token"]
        location = scope["path"] + (f"?{urlencode(rest)}" if rest else "")
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{cookie_name(scope)}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
        headers = [
            (b"location", location.encode()),
            (b"set-cookie", cookie.encode()),
            (b"cache-control", b"no-store"),
        ]
        await respond(send, 303, b"", "text/plain", headers)


async def _unauthorized_page(scope: Scope, send: Send, *, wrong_token: bool) -> None:
    host = _headers(scope).get(b"host", "127.0.0.1")
    body = unauthorized_page(wrong_token=wrong_token, origin=f"{scope.get('scheme', 'http')}://{host}")
    headers = [(b"cache-control", b"no-store"), (b"content-security-policy", UNAUTHORIZED_CSP.encode())]
    await respond(send, 401, body, "text/html; charset=utf-8", headers)


async def _unauthorized(send: Send, *, connect: bool) -> None:
    message = "missing or wrong api token; use the URL printed by `reliant up` or send 'Authorization: Bearer <token>'"
    doc = {"code": "unauthenticated", "message": message} if connect else {"status_code": 401, "detail": message}
    await respond(send, 401, json.dumps(doc).encode(), "application/json")


async def _forbidden(send: Send) -> None:
    doc = {"code": "permission_denied", "message": "cross-origin requests are not allowed"}
    await respond(send, 403, json.dumps(doc).encode(), "application/json")
