"""/health and /ready for load balancers and Kubernetes: no token needed, no detail without it; an
api started before the migrations (a worker runs them) says "not ready" instead of failing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.db import Database, migrate
from tests.conftest import Infra
from tests.e2e.harness import http_json
from tests.support import RoleRunner, eventually


async def test_an_api_before_the_migrations_is_not_ready_and_says_why(infra: Infra, tmp_path: Path) -> None:
    admin = await Database.open(infra.database_url, min_size=1)
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE DATABASE {name}")
    url = infra.database_url.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        api_port=port,
        api_token="probe-token",
    )

    def get(path: str, token: str) -> tuple[int, Any]:
        return http_json("GET", f"http://127.0.0.1:{port}{path}", token=token)

    fresh = await Database.open(url, min_size=1)
    try:
        async with RoleRunner(ApiRole(settings)):
            assert await asyncio.to_thread(get, "/health", "") == (200, {"status": "ok"})
            # Without the token (or with a wrong one): ready or not, nothing more.
            assert await asyncio.to_thread(get, "/ready", "") == (503, {"ready": False})
            assert await asyncio.to_thread(get, "/ready", "wrong") == (503, {"ready": False})
            status, detail = await asyncio.to_thread(get, "/ready", settings.api_token)
            assert status == 503 and detail["failing"] == ["postgres"]
            assert "waiting for migrations" in detail["checks"]["postgres"]["error"]
            # A data call is 503 with the reason, never a 500 about a missing table.
            status, body = await asyncio.to_thread(get, "/api/chats", settings.api_token)
            assert status == 503 and "waiting for the migrations" in body["detail"], body
            assert (await asyncio.to_thread(get, "/api/chats", ""))[0] == 401, "the token still comes first"

            await migrate(fresh)  # as a worker does at start
            await eventually(lambda: asyncio.to_thread(lambda: get("/ready", "")[0] == 200))
            assert await asyncio.to_thread(get, "/ready", "") == (200, {"ready": True})
            await eventually(lambda: asyncio.to_thread(lambda: get("/api/chats", settings.api_token) == (200, [])))
    finally:
        await fresh.close()
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()
