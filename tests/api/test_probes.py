"""/health and /ready for load balancers and Kubernetes: no token needed, no detail without it; an
api started before the migrations (a worker runs them), or while NATS or Temporal is down, says
"not ready" instead of failing, and "ready" again once they are back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import embedded
from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.db import Database, migrate
from tests.conftest import Infra, service_configs
from tests.e2e.harness import http_json
from tests.support import RoleRunner, eventually


def _api_settings(infra: Infra, tmp_path: Path, **services: str) -> Settings:
    """An api on a free port against the test services, or those given (database_url, nats_url...)."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        api_port=free_port(),
        api_token="probe-token",
    ).with_overrides(**services)


def _getter(settings: Settings) -> Callable[[str, str], tuple[int, Any]]:
    def get(path: str, token: str) -> tuple[int, Any]:
        return http_json("GET", f"http://127.0.0.1:{settings.api_port}{path}", token=token)

    return get


async def test_an_api_before_the_migrations_is_not_ready_and_says_why(infra: Infra, tmp_path: Path) -> None:
    admin = await Database.open(infra.database_url, min_size=1)
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE DATABASE {name}")
    url = infra.database_url.rsplit("/", 1)[0] + "/" + name
    settings = _api_settings(infra, tmp_path, database_url=url)
    get = _getter(settings)
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


async def test_ready_turns_false_while_nats_or_temporal_is_down_and_true_once_back(
    infra: Infra, migrated_db: object, tmp_path: Path
) -> None:
    _, nats_config, temporal_config = service_configs(tmp_path / "services", token="probe-nats-token")
    nats = await embedded.start_nats(nats_config)
    temporal = await embedded.start_temporal(temporal_config)
    settings = _api_settings(
        infra, tmp_path, nats_url=nats.url, nats_token=nats_config.token, temporal_address=temporal.address
    )
    get = _getter(settings)

    async def ready_is(expected: bool) -> None:
        want = (200 if expected else 503, {"ready": expected})
        await eventually(lambda: asyncio.to_thread(lambda: get("/ready", "") == want), timeout=30)

    try:
        async with RoleRunner(ApiRole(settings)):
            await ready_is(True)
            for name in ("nats", "temporal"):
                down = nats if name == "nats" else temporal
                await down.stop()
                await ready_is(False)
                # Without the token: not ready, and nothing more (no service, address or error).
                assert await asyncio.to_thread(get, "/ready", "") == (503, {"ready": False})
                status, detail = await asyncio.to_thread(get, "/ready", settings.api_token)
                assert status == 503 and detail["failing"] == [name], detail
                assert nats_config.token not in json.dumps(detail) and "probe-token" not in json.dumps(detail)
                if name == "nats":
                    nats = await embedded.start_nats(nats_config)
                else:
                    temporal = await embedded.start_temporal(temporal_config)
                await ready_is(True)
    finally:
        await nats.stop()
        await temporal.stop()


async def test_an_api_run_with_the_other_roles_is_ready_only_once_they_all_are(
    infra: Infra, migrated_db: Database, tmp_path: Path
) -> None:
    """In `reliant up` the api starts first: until the worker polls (and the gateway and daemon are
    up), a chat sent would wait, so /ready says no and, with the token, why."""
    settings = _api_settings(infra, tmp_path)
    get = _getter(settings)
    peers_ready = asyncio.Event()
    async with RoleRunner(ApiRole(settings, peers_ready=peers_ready)):
        assert await asyncio.to_thread(get, "/ready", "") == (503, {"ready": False})
        status, detail = await asyncio.to_thread(get, "/ready", settings.api_token)
        assert status == 503 and detail["failing"] == ["roles"], detail
        assert "still starting" in detail["checks"]["roles"]["error"]
        peers_ready.set()
        assert await asyncio.to_thread(get, "/ready", "") == (200, {"ready": True})
