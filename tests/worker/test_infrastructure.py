"""Which service an activity failure waited for: Postgres when the database was unreachable, NATS
when it failed while the connection to NATS was lost; never the activity's own verdicts."""

from __future__ import annotations

from pathlib import Path

from temporalio.exceptions import ApplicationError

import embedded
from reliant.bus import Bus, RequestTimeoutError
from reliant.clients.update_log import UpdateLog
from reliant.db import Database, DatabaseUnavailableError
from reliant.db import updates as updates_db
from reliant.worker.activities.types import CHAT_GONE, DAEMON_OFFLINE, FATAL_LLM
from reliant.worker.failures import infrastructure_wait
from reliant.worker.infrastructure import WAITING_FOR, InfrastructureErrors
from tests.conftest import Infra, service_configs
from tests.support import eventually


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


async def test_a_failure_while_nats_was_away_waits_for_nats(tmp_path: Path, migrated_db: Database) -> None:
    _, cfg, _ = service_configs(tmp_path)
    server = await embedded.start_nats(cfg)
    bus = await Bus.connect(server.url, cfg.token)
    try:
        errors = InfrastructureErrors(bus, UpdateLog(migrated_db, bus), {})
        before = bus.losses
        timeout = RequestTimeoutError("reliant.daemon.d.tools", 5)
        assert errors.unreachable(timeout, before) == ""
        await server.stop()
        await eventually(lambda: not bus.connected, timeout=10)
        assert errors.unreachable(timeout, before) == "nats"
        assert errors.unreachable(ApplicationError("no daemon", type=DAEMON_OFFLINE), before) == "nats"
        assert errors.unreachable(ApplicationError("bad key", type=FATAL_LLM), before) == ""
        assert errors.unreachable(ApplicationError("deleted", type=CHAT_GONE), before) == ""

        server = await embedded.start_nats(cfg)  # same port: the client reconnects
        await eventually(lambda: bus.connected, timeout=10)
        assert errors.unreachable(timeout, before) == "nats", "it failed across the outage"
        assert errors.unreachable(timeout, bus.losses) == "", "a failure after it is the activity's own"
    finally:
        await bus.close()
        await server.stop()


async def test_an_unreachable_postgres_is_named_and_the_wait_shown(
    infra: Infra, migrated_db: Database, session_bus: Bus
) -> None:
    from reliant.db import chats as chats_db
    from reliant.db import projects as projects_db

    presence: dict[str, str] = {}
    errors = InfrastructureErrors(session_bus, UpdateLog(migrated_db, session_bus), presence)
    down = _chained(RuntimeError("during a query"), DatabaseUnavailableError("postgres is unreachable"))
    assert errors.unreachable(down, session_bus.losses) == "postgres"
    assert errors.unreachable(KeyError("x"), session_bus.losses) == ""

    project = await projects_db.create(migrated_db, name="outage", daemon_id="d-1", path="/tmp/outage-project")
    chat = await chats_db.create(migrated_db, project_id=project.id, model="scripted:demo")
    await errors.show_wait(chat.id, "postgres", infrastructure_wait(2), attempt=2)
    assert presence[WAITING_FOR] == "postgres"
    shown = [u for u in await updates_db.since(migrated_db, chat.id, 0) if u.kind == "retry_wait"]
    assert [(u.payload["reason"], u.payload["seconds"]) for u in shown] == [("waiting for postgres", 2.0)]
    errors.succeeded()
    assert WAITING_FOR not in presence
