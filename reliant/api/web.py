"""The web UI: index.html for every page of the app, and its static assets from reliant/web/.

Assets are served under /static/<version>/, where <version> is a digest of every file: their URLs
change whenever any file does, so they are cached as immutable while index.html is never cached.
ES modules import each other by relative URL, so the version prefix carries through every import.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from reliant.api.asgi import Receive, Scope, Send

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
STATIC_PREFIX = "/static/"
# Not module-preloaded: a classic script, and a library the UI imports only when it needs it.
NOT_PRELOADED = frozenset({"app/boot.js", "vendor/highlight/highlight.min.js"})
# Nor the side panel's tabs and xterm.js: imported when the panel opens (its dock belongs to the shell).
LAZY_PREFIXES = ("app/panels/", "vendor/xterm/")
EAGER = frozenset({"app/panels/dock.js"})
INDEX = "index.html"
# Paths the single-page app routes itself: a reload on any of them gets index.html.
PAGE = re.compile(r"^/(?:|index\.html|settings|projects(?:/[^/]*)?|chats/[^/]+(?:/agents/[^/]+)?)$")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".md": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE files
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".svg", ".json", ".md", ".txt", "")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

# The UI loads nothing from elsewhere; API calls go to this origin only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the first URL carries the token
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def is_page(path: str) -> bool:
    return bool(PAGE.match(path))


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str


def _content_type(path: str) -> str:
    return CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream")


def load_assets(root: Path) -> tuple[dict[str, Asset], str]:
    """Every file under `root` by its relative path, and a digest of them all."""
    digest = hashlib.sha256()
    assets: dict[str, Asset] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = file.relative_to(root).as_posix()
        body = file.read_bytes()
        digest.update(rel.encode() + b"\0" + body + b"\0")
        suffix = file.suffix
        packed = gzip.compress(body, 6, mtime=0) if suffix in COMPRESSIBLE and len(body) > 1024 else None
        assets[rel] = Asset(body, packed if packed and len(packed) < len(body) else None, _content_type(rel))
    return assets, digest.hexdigest()[:16]


class WebUi:
    """ASGI app for the UI's pages and assets (behind TokenAuth, like everything but /health)."""

    def __init__(self, root: Path = WEB_ROOT) -> None:
        self.assets, self.version = load_assets(root)
        self.base = f"{STATIC_PREFIX}{self.version}/"
        index = self.assets[INDEX].body.decode()
        preload = "\n".join(
            f'<link rel="modulepreload" href="{self.base}{rel}">'
            for rel in sorted(self.assets)
            if rel.startswith(("app/", "vendor/"))
            and rel.endswith(".js")
            and rel not in NOT_PRELOADED
            and (rel in EAGER or not rel.startswith(LAZY_PREFIXES))
        )
        page = index.replace("{{base}}", self.base).replace("{{preload}}", preload)
        self.index = Asset(page.encode(), gzip.compress(page.encode(), 6, mtime=0), CONTENT_TYPES[".html"])

    def handles(self, path: str) -> bool:
        return path.startswith(STATIC_PREFIX) or is_page(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await respond(send, 405, b"method not allowed\n", "text/plain", [(b"allow", b"GET, HEAD")])
            return
        path: str = scope["path"]
        if is_page(path):
            await self._asset(scope, send, self.index, NO_CACHE)
            return
        version, _, rel = path[len(STATIC_PREFIX) :].partition("/")
        asset = self.assets.get(rel) if rel != INDEX else None
        if asset is None:
            await respond(send, 404, b"not found\n", "text/plain")
            return
        # An old page asking for an old version gets today's file, uncached, rather than a 404.
        await self._asset(scope, send, asset, IMMUTABLE if version == self.version else NO_CACHE)

    async def _asset(self, scope: Scope, send: Send, asset: Asset, cache: str) -> None:
        headers = [(b"cache-control", cache.encode()), (b"vary", b"accept-encoding")]
        body = asset.body
        if asset.gzipped is not None and _accepts_gzip(scope):
            body = asset.gzipped
            headers.append((b"content-encoding", b"gzip"))
        if asset.content_type.startswith("text/html"):
            headers.append((b"content-security-policy", CSP.encode()))
        head = scope["method"] == "HEAD"
        await respond(send, 200, b"" if head else body, asset.content_type, headers, length=len(body))


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    length: int | None = None,
) -> None:
    all_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body) if length is None else length).encode()),
        *SECURITY_HEADERS,
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


UNAUTHORIZED_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Sign-in needed · reliant</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 12vh auto; padding: 0 1.5rem; }}
h1 {{ font-size: 1.5rem; margin-bottom: .25rem; }}
code {{ font: .9em ui-monospace, monospace; background: rgba(127,127,127,.15); padding: .1em .35em;
        border-radius: 4px; }}
.status {{ color: #888; font-size: .9rem; margin-top: 0; }}
</style>
</head>
<body>
<main>
<h1>reliant needs its access token</h1>
<p class="status">401 Unauthorized</p>
<p>{reason}</p>
<p>Open the link that <code>reliant up</code> printed when it started: it ends in
<code>/?token=…</code> and signs this tab in.</p>
<p>Lost it? The token is in <code>&lt;data dir&gt;/secrets/api_token</code>
(the data dir is <code>~/.reliant</code> unless <code>--data-dir</code> was given); open
<code>{origin}/?token=&lt;that token&gt;</code>.</p>
</main>
</body>
</html>
"""
UNAUTHORIZED_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def unauthorized_page(*, wrong_token: bool, origin: str) -> bytes:
    reason = (
        "The token in this link is not the token of this reliant. It may come from another data dir, "
        "or the token was changed."
        if wrong_token
        else "This browser is not signed in to this reliant, or its session has ended."
    )
    return UNAUTHORIZED_PAGE.format(reason=html.escape(reason), origin=html.escape(origin)).encode()
