"""An api role (plus gateway and daemon) on the shared services, reached over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
from tests.support import RoleRunner


@dataclass
class ApiEnv:
    settings: Settings
    url: str
    token: str
    workspace: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
async def api_env(infra: Infra, migrated_db: object, tmp_path: Path) -> AsyncIterator[ApiEnv]:
    api_port, gateway_port = free_port(), free_port()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        temporal_task_queue=f"api-{uuid.uuid4().hex[:8]}",
        api_port=api_port,
        api_token="test-api-token",
        gateway_port=gateway_port,
        gateway_address=f"127.0.0.1:{gateway_port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(RoleRunner(GatewayRole(settings)))
        await stack.enter_async_context(RoleRunner(DaemonRole(settings)))
        await stack.enter_async_context(RoleRunner(ApiRole(settings)))
        try:
            yield ApiEnv(settings, f"http://127.0.0.1:{api_port}", settings.api_token, workspace)
        finally:
            # Settings written through the api live in the shared database: a key or model left
            # behind would become every later test's provider configuration.
            assert isinstance(migrated_db, Database)
            await migrated_db.execute("DELETE FROM settings")
