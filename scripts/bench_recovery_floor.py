"""The floor for scripts/bench_recovery.py: a bare Temporal workflow whose one activity heartbeats
(with reliant's heartbeat timeout and LLM retry interval) while its worker is SIGKILLed; a new
worker then picks the retry up when Temporal notices. Run as a worker process:

    python scripts/bench_recovery_floor.py TEMPORAL_ADDRESS NAMESPACE TASK_QUEUE MARKER_FILE

Every attempt appends "<attempt> <unix time>" to MARKER_FILE; "ready" is printed once polling.
Workflows must live in an importable module (not __main__) to pass Temporal's sandbox checks."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

HEARTBEAT_TIMEOUT = timedelta(seconds=3)  # reliant's HEARTBEAT_TIMEOUT
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1))  # reliant's LLM_RETRY starts there


class FloorActivities:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    @activity.defn(name="floor_long_step")
    async def long_step(self, seconds: float) -> None:
        with self.marker.open("a") as f:
            f.write(f"{activity.info().attempt} {time.time()}\n")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            activity.heartbeat()
            await asyncio.sleep(0.5)


@workflow.defn(name="RecoveryFloor")
class RecoveryFloor:
    @workflow.run
    async def run(self, seconds: float) -> None:
        await workflow.execute_activity(
            "floor_long_step",
            seconds,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY,
        )


async def _work(address: str, namespace: str, queue: str, marker: Path) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address, namespace=namespace)
    activities = FloorActivities(marker)
    async with Worker(client, task_queue=queue, workflows=[RecoveryFloor], activities=[activities.long_step]):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_recovery_floor import _work as work  # the workflow class must come from the module

    asyncio.run(work(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
