"""The web UI over real HTTP: the printed URL, the 401 page, no cookie, same-origin only, and how
pages and assets are served and cached."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import http.client
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from tests.api.conftest import ApiEnv
from tests.support import RoleRunner, eventually


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def text(self) -> str:
        raw = gzip.decompress(self.body) if self.header("content-encoding") == "gzip" else self.body
        return raw.decode()


async def request(
    env: ApiEnv, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> Reply:
    """One request, redirects not followed (the api runs on this test's loop: ask from a thread)."""

    def go() -> Reply:
        parts = urlsplit(env.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    return await asyncio.to_thread(go)


async def test_the_printed_url_serves_the_page_and_sets_no_cookie(api_env: ApiEnv) -> None:
    """The page takes the token into the tab's sessionStorage itself (session.js): the server sets
    no cookie, since a cookie would reach every other server on 127.0.0.1."""
    reply = await request(api_env, "GET", f"/?token={api_env.token}", {"Accept-Encoding": "identity"})
    assert reply.status == 200 and reply.header("content-type") == "text/html; charset=utf-8"
    assert "set-cookie" not in reply.headers and reply.header("cache-control") == "no-cache"
    assert reply.header("referrer-policy") == "no-referrer"
    deep = await request(api_env, "GET", f"/chats/abc?token={api_env.token}&x=1")
    assert deep.status == 200 and "set-cookie" not in deep.headers

    # Pages and assets hold no data: a reload, which sends no header, gets them.
    for path in ("/", "/settings", "/chats/x"):
        page = await request(api_env, "GET", path, {"Accept-Encoding": "identity"})
        assert page.status == 200 and 'type="module"' in page.text, path
    base = re.search(r'src="(/static/[0-9a-f]+/)app/main\.js"', page.text)
    assert base
    for rel in ("app/main.js", "app/session.js"):
        assert (await request(api_env, "GET", base.group(1) + rel)).status == 200, rel

    # API calls need the header; the session cookie of earlier versions is no credential any more,
    # and it is cleared.
    port = urlsplit(api_env.url).port
    old = {"Cookie": f"reliant_token_{port}={api_env.token}; other=1", "Content-Type": "application/json"}
    call = await request(api_env, "POST", "/reliant.v1.ChatService/ListModels", old, b"{}")
    assert call.status == 401 and json.loads(call.body)["code"] == "unauthenticated"
    cleared = call.headers.get_all("set-cookie") or []
    assert cleared == [f"reliant_token_{port}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"]
    bearer = {"Authorization": f"Bearer {api_env.token}", "Content-Type": "application/json"}
    call = await request(api_env, "POST", "/reliant.v1.ChatService/ListModels", bearer, b"{}")
    assert call.status == 200 and "scripted:demo" in json.loads(call.body)["models"]
    assert "set-cookie" not in call.headers


async def test_a_wrong_token_gets_a_401_page_that_says_what_to_do(api_env: ApiEnv) -> None:
    for path in ("/?token=wrong", "/settings?token=wrong"):
        reply = await request(api_env, "GET", path)
        assert reply.status == 401, path
        assert reply.header("content-type") == "text/html; charset=utf-8"
        assert "set-cookie" not in reply.headers
        assert "not the token" in reply.text
        assert "reliant up" in reply.text and "secrets/api_token" in reply.text
        assert "frame-ancestors 'none'" in reply.header("content-security-policy")
    # API calls without a token get a 401 in their own format; /health needs none.
    rest = await request(api_env, "GET", "/api/chats")
    assert rest.status == 401 and json.loads(rest.body)["status_code"] == 401
    rpc = await request(
        api_env, "POST", "/reliant.v1.ChatService/ListChats", {"Content-Type": "application/json"}, b"{}"
    )
    assert rpc.status == 401 and json.loads(rpc.body)["code"] == "unauthenticated"
    assert (await request(api_env, "GET", "/health")).status == 200


async def test_cross_origin_requests_are_refused_without_cors_headers(api_env: ApiEnv) -> None:
    auth = {"Authorization": f"Bearer {api_env.token}", "Content-Type": "application/json"}
    foreign = await request(
        api_env, "POST", "/reliant.v1.ChatService/ListChats", {**auth, "Origin": "http://evil.example"}, b"{}"
    )
    assert foreign.status == 403
    assert not [h for h in foreign.headers if h.lower().startswith("access-control-")]
    preflight = await request(
        api_env,
        "OPTIONS",
        "/reliant.v1.ChatService/ListChats",
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 403
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    host = urlsplit(api_env.url).netloc
    own = await request(
        api_env, "POST", "/reliant.v1.ChatService/ListChats", {**auth, "Origin": f"http://{host}"}, b"{}"
    )
    assert own.status == 200


async def test_assets_are_immutable_under_a_versioned_path_and_pages_are_not_cached(api_env: ApiEnv) -> None:
    auth = {"Authorization": f"Bearer {api_env.token}"}
    page = await request(api_env, "GET", "/settings", {**auth, "Accept-Encoding": "gzip"})
    assert page.status == 200 and page.header("cache-control") == "no-cache"
    assert page.header("content-encoding") == "gzip"
    assert "default-src 'self'" in page.header("content-security-policy")
    assert page.header("referrer-policy") == "no-referrer"
    html = page.text
    base = re.search(r'src="(/static/[0-9a-f]+/)app/main\.js"', html)
    assert base, html
    prefix = base.group(1)
    assert f'<link rel="modulepreload" href="{prefix}vendor/marked/marked.esm.js">' in html

    expected = {
        "app/main.js": "text/javascript; charset=utf-8",
        "app/app.css": "text/css; charset=utf-8",
        "icon.svg": "image/svg+xml",
        "vendor/dompurify/LICENSE": "text/plain; charset=utf-8",
    }
    for rel, content_type in expected.items():
        asset = await request(api_env, "GET", prefix + rel, {**auth, "Accept-Encoding": "identity"})
        assert asset.status == 200, rel
        assert asset.header("content-type") == content_type, rel
        assert asset.header("cache-control") == "public, max-age=31536000, immutable", rel
        assert asset.header("x-content-type-options") == "nosniff"
        assert int(asset.header("content-length")) == len(asset.body) > 0

    # A page from before an upgrade asks for an older version: it gets today's file, uncached.
    stale = await request(api_env, "GET", "/static/0000000000000000/app/main.js", auth)
    assert stale.status == 200 and stale.header("cache-control") == "no-cache"
    assert (await request(api_env, "GET", prefix + "app/nope.js", auth)).status == 404
    assert (await request(api_env, "GET", prefix + "../reliant/api/auth.py", auth)).status == 404
    assert (await request(api_env, "POST", prefix + "app/main.js", auth, b"")).status == 405
    head = await request(api_env, "HEAD", prefix + "app/main.js", {**auth, "Accept-Encoding": "identity"})
    assert head.status == 200 and head.body == b"" and int(head.header("content-length")) > 0


async def test_shutting_down_ends_open_update_streams_at_once(api_env: ApiEnv) -> None:
    """A browser keeps a StreamUpdates call open all the time: stopping the api must end it
    cleanly (the UI reconnects) rather than wait out the server's graceful-shutdown timeout."""
    headers = api_env.headers
    async with ProjectServiceClient(api_env.url) as projects, ChatServiceClient(api_env.url) as chats:
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id),
            headers=headers,
        )
        chat = await chats.create_chat(chat_pb2.CreateChatRequest(project_id=project.id), headers=headers)

    port = free_port()
    role = RoleRunner(ApiRole(dataclasses.replace(api_env.settings, api_port=port)))
    async with role:
        async with ChatServiceClient(f"http://127.0.0.1:{port}") as client:
            kinds: list[str] = []
            stream = client.stream_updates(chat_pb2.StreamUpdatesRequest(chat_id=chat.id), headers=headers)

            async def follow() -> None:
                async for update in stream:
                    kinds.append(update.kind)

            following = asyncio.create_task(follow())
            await eventually(lambda: kinds == ["stream_ready"])
            started = time.perf_counter()
            await role.stop()
            await asyncio.wait_for(following, 5)  # ends without an error
            assert time.perf_counter() - started < 1.0


async def test_no_schema_page_loads_outside_resources_only_the_openapi_json_is_served(api_env: ApiEnv) -> None:
    auth = {"Authorization": f"Bearer {api_env.token}", "Accept-Encoding": "identity"}
    for page in ("swagger", "redoc", "elements", "rapidoc", "scalar", "openapi.yaml", "openapi.yml"):
        reply = await request(api_env, "GET", f"/schema/{page}", auth)
        assert reply.status == 404, (page, reply.status)
    for path in ("/schema", "/schema/openapi.json"):
        reply = await request(api_env, "GET", path, auth)
        assert reply.status == 200 and reply.header("content-type").startswith("application/vnd.oai.openapi+json")
        assert "<script" not in reply.text and json.loads(reply.body)["info"]["title"] == "reliant"
        assert "/api/chats" in json.loads(reply.body)["paths"]
        assert (await request(api_env, "GET", path)).status == 401
