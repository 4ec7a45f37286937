"""Which service an activity failure waited for: Postgres when the database was unreachable, NATS
when it failed while the connection to NATS was lost; never the activity's own verdicts. An attempt
that waits on a slow Postgres is not taken for dead."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
from temporalio.exceptions import ApplicationError

import embedded
from reliant.bus import Bus, RequestTimeoutError
from reliant.clients.update_log import UpdateLog
from reliant.db import Database, DatabaseUnavailableError
from reliant.db import messages as messages_db
from reliant.db import updates as updates_db
from reliant.domain.chat import Role
from reliant.worker.activities.types import CHAT_GONE, DAEMON_OFFLINE, FATAL_LLM
from reliant.worker.failures import infrastructure_wait
from reliant.worker.infrastructure import WAITING_FOR, InfrastructureErrors
from reliant.worker.workflows import HEARTBEAT_TIMEOUT
from tests.conftest import Infra, service_configs
from tests.support import eventually
from tests.worker.agent_env import agent_env, calls_in


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


async def test_an_answer_whose_storing_waits_on_postgres_is_not_asked_of_the_model_again(
    infra: Infra, tmp_path: Path
) -> None:
    """Postgres makes the store of a finished answer wait (here: another transaction holds the chat's
    row, as a frozen or overloaded Postgres does) for longer than the heartbeat timeout. The attempt
    is still alive and will store the answer: Temporal must not take it for dead and start a second
    attempt that pays the model for the same turn."""
    async with agent_env(infra, tmp_path) as env:
        (env.workspace / "notes.txt").write_text("alpha\n")
        log = env.scripts / "calls.jsonl"
        words = "one two three four five six"
        model = env.script(
            [{"tools": [{"name": "view", "input": {"path": "notes.txt"}}]}, {"text": words, "delay_ms": 150}],
            call_log=str(log),
        )
        chat = await env.new_chat(model)
        await env.chats.send(chat.id, "read it")
        await eventually(lambda: any(c["turn"] == 1 for c in calls_in(log)), interval=0.02)
        hold = 3 * HEARTBEAT_TIMEOUT.total_seconds()  # a dead attempt is retried well within this
        async with await psycopg.AsyncConnection.connect(infra.database_url) as blocker, blocker.transaction():
            await blocker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat.id,))
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline and [c["turn"] for c in calls_in(log)].count(1) < 2:
                await asyncio.sleep(0.05)
        await env.finished(chat.id)
        assert [c["turn"] for c in calls_in(log)] == [0, 1], "the model was asked for turn 1 again"
        [_, answer] = [m for m in await messages_db.transcript(env.db, chat.id) if m.role is Role.ASSISTANT]
        assert answer.text() == words
