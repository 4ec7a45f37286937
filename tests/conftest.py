"""Shared fixtures: real embedded Postgres, NATS and Temporal, started once per test session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import embedded
from embedded.ports import server_port
from tests.support import eventually

__all__ = ["eventually"]


# The Temporal codec key of every test's roles and clients (test data, not a secret).
TEST_CODEC_KEY = "cmVsaWFudC10ZXN0cy1jb2RlYy1rZXktMzItYnl0ZXM"


@dataclass(frozen=True)
class Infra:
    services: embedded.Services
    nats_token: str
    codec_key: str = TEST_CODEC_KEY

    @property
    def database_url(self) -> str:
        return self.services.postgres.url

    @property
    def nats_url(self) -> str:
        return self.services.nats.url

    @property
    def temporal_address(self) -> str:
        return self.services.temporal.address


def service_configs(
    root: Path, *, token: str = "test-nats-token", password: str = "test-pg-password"
) -> tuple[embedded.PostgresConfig, embedded.NatsConfig, embedded.TemporalConfig]:
    logs = root / "logs"
    return (
        embedded.PostgresConfig(
            cluster_dir=root / "postgres", log_path=logs / "postgres.log", port=server_port(), password=password
        ),
        embedded.NatsConfig(
            store_dir=root / "nats",
            config_path=root / "nats.conf",
            log_path=logs / "nats.log",
            port=server_port(),
            token=token,
        ),
        embedded.TemporalConfig(
            db_path=root / "temporal.db",
            log_path=logs / "temporal.log",
            port=server_port(),
            http_port=server_port(),
            metrics_port=server_port(),
        ),
    )


@pytest.fixture(scope="session")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    root = tmp_path_factory.mktemp("infra")
    pg, nats, temporal = service_configs(root)
    services = await embedded.start_services(pg, nats, temporal)
    try:
        yield Infra(services, nats.token)
    finally:
        await services.stop()


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("RELIANT_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
async def migrated_db(infra: Infra) -> AsyncIterator[object]:
    """The shared test database, migrated once."""
    from reliant.db import Database, migrate

    db = await Database.open(infra.database_url, min_size=1)
    await migrate(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def fresh_database_url(infra: Infra, migrated_db: object) -> AsyncIterator[str]:
    """An empty database of its own on the shared server: for roles whose codec key is not the one
    the shared database remembers (TEST_CODEC_KEY)."""
    from reliant.db import Database

    assert isinstance(migrated_db, Database)
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    await migrated_db.execute(f"CREATE DATABASE {name}")
    try:
        yield infra.database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await migrated_db.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
async def session_bus(infra: Infra) -> AsyncIterator[object]:
    from reliant.bus import Bus

    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    try:
        yield bus
    finally:
        await bus.close()
