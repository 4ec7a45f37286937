"""A worker that dies mid-activity: the next worker to start fails the attempt the dead one was
running (WorkerLost) so that Temporal retries it at once, not after the heartbeat timeout (a
minute here, longer than this test is allowed to run)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from reliant.db import Database
from reliant.db import attempts as attempts_db
from reliant.worker.attempts import AttemptLedger, fail_attempts_of_dead_workers, new_incarnation
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.dying_worker import DyingWorkerWorkflow, dying_step

ROOT = Path(__file__).resolve().parents[2]


async def test_the_attempt_of_a_dead_worker_is_failed_and_retried_at_once(
    infra: Infra, migrated_db: Database, tmp_path: Path
) -> None:
    queue = f"dying-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "attempts.txt"
    marker.touch()
    dead = new_incarnation()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.worker.dying_worker",
                infra.database_url,
                infra.temporal_address,
                queue,
                dead,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await eventually(lambda: "ready" in log.read_text(), timeout=30)
        client = await Client.connect(infra.temporal_address)
        handle = await client.start_workflow(
            DyingWorkerWorkflow.run, str(marker), id=f"dying-{queue}", task_queue=queue
        )
        await eventually(lambda: marker.read_text().split() == ["1"], timeout=30)

        async def recorded() -> bool:
            rows = await migrated_db.fetch("SELECT worker FROM activity_attempts WHERE worker = %s", (dead,))
            return bool(rows)

        await eventually(recorded, timeout=10)
        alive = new_incarnation()
        assert await fail_attempts_of_dead_workers(migrated_db, client, alive) == 0, "its sessions are still open"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        async def failed_over() -> bool:
            return await fail_attempts_of_dead_workers(migrated_db, client, alive) == 1

        await eventually(failed_over, timeout=10)  # once Postgres has closed the dead sessions
        assert await attempts_db.of_dead_workers(migrated_db, alive) == []
        async with Worker(client, task_queue=queue, workflows=[DyingWorkerWorkflow], activities=[dying_step]):
            await eventually(lambda: marker.read_text().split() == ["1", "2"], timeout=20)
            description = await handle.describe()
            assert description.raw_description.pending_activities[0].last_failure.application_failure_info.type == (
                "WorkerLost"
            )
            await handle.terminate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_an_attempt_is_recorded_while_it_runs_and_forgotten_after(
    infra: Infra, migrated_db: Database, tmp_path: Path
) -> None:
    from temporalio import activity

    incarnation = new_incarnation()
    queue = f"ledger-{uuid.uuid4().hex[:8]}"
    ledger = AttemptLedger(migrated_db, incarnation)
    seen: list[int] = []

    @activity.defn(name="dying_step")
    async def quick(marker: str) -> int:
        await eventually(lambda: _count(migrated_db, incarnation), timeout=5)
        seen.append(1)
        return 1

    client = await Client.connect(infra.temporal_address)
    async with Worker(
        client, task_queue=queue, workflows=[DyingWorkerWorkflow], activities=[quick], interceptors=[ledger]
    ):
        assert await client.execute_workflow(DyingWorkerWorkflow.run, "", id=f"ledger-{queue}", task_queue=queue) == 1
    await ledger.shutdown()
    assert seen == [1]
    assert not await _count(migrated_db, incarnation)


async def _count(db: Database, incarnation: str) -> int:
    rows = await db.fetch("SELECT 1 FROM activity_attempts WHERE worker = %s", (incarnation,))
    await asyncio.sleep(0)
    return len(rows)
