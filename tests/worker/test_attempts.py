"""A worker that dies mid-activity: the next worker to start fails the attempt the dead one was
running (WorkerLost) so that Temporal retries it at once, not after the heartbeat timeout (a
minute here, longer than this test is allowed to run). A worker that dies between tasks: its
workflows' next tasks leave its queue for any worker within STICKY_FAILOVER."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client
from temporalio.worker import Worker

from reliant.db import Database
from reliant.db import attempts as attempts_db
from reliant.worker import attempts
from reliant.worker.attempts import AttemptLedger, fail_attempts_of_dead_workers, new_incarnation
from reliant.worker.role import STICKY_FAILOVER
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.dying_worker import DyingWorkerWorkflow, NamedStepWorkflow, WaitingWorkflow, dying_step

ROOT = Path(__file__).resolve().parents[2]


def _dying_worker(infra: Infra, queue: str, incarnation: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.worker.dying_worker",
                infra.database_url,
                infra.temporal_address,
                queue,
                incarnation,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_the_attempt_of_a_dead_worker_is_failed_and_retried_at_once(
    infra: Infra, migrated_db: Database, tmp_path: Path
) -> None:
    queue = f"dying-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "attempts.txt"
    marker.touch()
    dead = new_incarnation()
    log = tmp_path / "worker.log"
    proc = _dying_worker(infra, queue, dead, log)
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


async def test_a_workflow_left_on_a_dead_workers_queue_goes_on_elsewhere_within_the_sticky_failover(
    infra: Infra, tmp_path: Path
) -> None:
    """Killed between two tasks of a workflow, the worker leaves its next task on its own (sticky)
    queue: the SDK's default kept it there 10 s before another worker could take it."""
    queue = f"sticky-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    proc = _dying_worker(infra, queue, new_incarnation(), log)
    try:
        await eventually(lambda: "ready" in log.read_text(), timeout=30)
        client = await Client.connect(infra.temporal_address)
        handle = await client.start_workflow(WaitingWorkflow.run, id=f"waiting-{queue}", task_queue=queue)

        async def sticky() -> bool:  # its first task ran on the dying worker, whose cache now holds it
            events = [e.event_type async for e in handle.fetch_history_events()]
            return EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in events

        await eventually(sticky, timeout=20)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        async with Worker(client, task_queue=queue, workflows=[WaitingWorkflow]):
            began = time.monotonic()
            await handle.signal(WaitingWorkflow.go)
            assert await asyncio.wait_for(handle.result(), timeout=30) == "went"
            took = time.monotonic() - began
        assert took < STICKY_FAILOVER.total_seconds() + 3, f"the signal waited {took:.1f}s on the dead worker's queue"
        timed_out = [
            e.workflow_task_timed_out_event_attributes.timeout_type
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        ]
        assert timed_out == [TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]  # it left the sticky queue, once
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_a_tool_call_is_recorded_from_its_start_and_other_steps_only_once_they_run_a_while(
    infra: Infra, migrated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut in a tool call's first moments is recovered like a later one: its attempt is
    recorded at once, not after RECORD_AFTER like a quick step's. RECORD_AFTER is stretched far
    beyond the test's waits, so no timing of a loaded machine can blur the two."""
    from temporalio import activity

    monkeypatch.setattr(attempts, "RECORD_AFTER", 60.0)
    seen: dict[str, bool] = {}
    client = await Client.connect(infra.temporal_address)
    for activity_type, wait in (("execute_tool", 10.0), ("call_llm", 0.5)):
        incarnation = new_incarnation()
        ledger = AttemptLedger(migrated_db, incarnation)

        @activity.defn(name=activity_type)
        async def step(
            _: str, activity_type: str = activity_type, incarnation: str = incarnation, wait: float = wait
        ) -> int:
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not seen.get(activity_type):
                seen[activity_type] = bool(await _count(migrated_db, incarnation))
                await asyncio.sleep(0.01)
            return 1

        queue = f"ledger-{uuid.uuid4().hex[:8]}"
        async with Worker(
            client, task_queue=queue, workflows=[NamedStepWorkflow], activities=[step], interceptors=[ledger]
        ):
            await client.execute_workflow(NamedStepWorkflow.run, activity_type, id=f"step-{queue}", task_queue=queue)
        await ledger.shutdown()
    assert seen == {"execute_tool": True, "call_llm": False}
