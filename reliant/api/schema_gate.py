"""Until the database schema is complete (a worker runs the migrations), the api answers every data
call with 503 "not ready" instead of failing on missing tables with a 500. Pages, assets, /health
and /ready go through: they need no table, and /ready says what is missing."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from reliant.api.asgi import ASGIApp, Receive, Scope, Send
from reliant.api.web import STATIC_PREFIX, is_page, respond
from reliant.db import Database, DatabaseUnavailableError, current_version, latest_version

logger = logging.getLogger(__name__)

RECHECK_EVERY = 0.5  # seconds between two looks at the schema while it is incomplete
ALWAYS_OPEN = frozenset({"/health", "/ready"})


class SchemaGate:
    """ASGI middleware: 503 for data calls until the schema reaches the version this code needs."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db
        self.want = latest_version()
        self.have = -1
        self._checked = 0.0
        self._looking = asyncio.Lock()

    async def ready(self) -> bool:
        if self.have >= self.want:
            return True  # a schema never goes back: no look once it is complete
        async with self._looking:  # calls arriving during a look wait for its answer
            if self.have >= self.want:
                return True
            now = time.monotonic()
            if now - self._checked >= RECHECK_EVERY:
                try:
                    self.have = await current_version(self.db)
                except DatabaseUnavailableError:
                    # Not a verdict on the schema: the call goes on, and answers for Postgres
                    # itself (503 naming it) if it is really away; the next call looks again.
                    return True
                self._checked = now
                if self.have >= self.want:
                    logger.info("database schema at version %d: serving", self.have)
            return self.have >= self.want

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in ALWAYS_OPEN
            or is_page(path)
            or path.startswith(STATIC_PREFIX)
            or await self.ready()
        ):
            await self.app(scope, receive, send)
            return
        message = (
            f"not ready: the database schema is at version {max(self.have, 0)}, waiting for the migrations "
            f"to {self.want} (a worker runs them at start)"
        )
        connect = path.startswith("/reliant.")
        doc = {"code": "unavailable", "message": message} if connect else {"status_code": 503, "detail": message}
        await respond(send, 503, json.dumps(doc).encode(), "application/json", [(b"retry-after", b"1")])
