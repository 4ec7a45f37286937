"""A worker process for tests/worker/test_attempts.py, tuned like the worker role
(reliant.worker.role.worker_tuning): it runs a workflow whose activity heartbeats for a minute and
one that waits for a signal, records its attempts with the AttemptLedger, and is SIGKILLed by the
test.

    python -m tests.worker.dying_worker DATABASE_URL TEMPORAL_ADDRESS TASK_QUEUE INCARNATION MARKER
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

LONG_HEARTBEAT_TIMEOUT = timedelta(seconds=60)  # far longer than the test may take


@activity.defn(name="dying_step")
async def dying_step(marker: str) -> int:
    with Path(marker).open("a") as f:
        f.write(f"{activity.info().attempt}\n")
    for _ in range(120):
        activity.heartbeat()
        await asyncio.sleep(0.5)
    return activity.info().attempt


@workflow.defn(name="DyingWorkerWorkflow")
class DyingWorkerWorkflow:
    @workflow.run
    async def run(self, marker: str) -> int:
        return await workflow.execute_activity(
            dying_step,
            marker,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=LONG_HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3),
        )


@workflow.defn(name="NamedStepWorkflow")
class NamedStepWorkflow:
    """Runs one activity of the type it is given (an activity registered under that name)."""

    @workflow.run
    async def run(self, activity_type: str) -> int:
        result: int = await workflow.execute_activity(activity_type, "", start_to_close_timeout=timedelta(seconds=30))
        return result


@workflow.defn(name="WaitingWorkflow")
class WaitingWorkflow:
    """Waits for `go`; between the signal and its end it is only workflow tasks (no activity)."""

    def __init__(self) -> None:
        self.went = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.went)
        return "went"

    @workflow.signal
    def go(self) -> None:
        self.went = True


async def main(database_url: str, temporal_address: str, queue: str, incarnation: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from reliant.db import Database
    from reliant.db.attempts import application_name
    from reliant.worker.attempts import AttemptLedger
    from reliant.worker.role import worker_tuning

    db = await Database.open(database_url, min_size=1, application_name=application_name(incarnation))
    client = await Client.connect(temporal_address)
    ledger = AttemptLedger(db, incarnation)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[DyingWorkerWorkflow, WaitingWorkflow],
        activities=[dying_step],
        interceptors=[ledger],
        **worker_tuning(),
    ):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    from tests.worker.dying_worker import main as run  # the workflow class must come from the module

    asyncio.run(run(*sys.argv[1:5]))
