"""Recovery in a second after a worker dies: the attempts it was running are failed at once by
the next worker to start, instead of waiting out their heartbeat (or start-to-close) timeouts.

Every activity attempt is recorded in Postgres by task token under the worker's incarnation, an id
that also names each of its database sessions (application_name). A worker starting up fails the
attempts of incarnations that have no open session left — their process is gone — with WORKER_LOST
and a near-zero retry delay, so Temporal retries them right away, and resets the stickiness of
their workflows so the next workflow task is not held for the dead worker's sticky queue.

Recording costs the activity nothing: it runs beside it (only for attempts still running after
RECORD_AFTER, and tool calls from their start), and the row is removed after it. An attempt whose
row was never written (a worker dying in its first RECORD_AFTER, or before the write committed) has
the slower, timeout-bound recovery.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from reliant.db import Database
from reliant.db import attempts as attempts_db
from reliant.worker.activities.types import WORKER_LOST

logger = logging.getLogger(__name__)

RETRY_AT_ONCE = timedelta(milliseconds=1)
# Attempts that end sooner are never written down: most steps are that quick, and a worker dying
# within those milliseconds of one is rare enough to leave to the timeout.
RECORD_AFTER = 0.05
# Recorded from their start: a tool call is seldom that quick, and it is the step whose recovery a
# user waits on (the running command is reported at once, instead of after the heartbeat timeout).
RECORD_AT_ONCE = frozenset({"execute_tool"})


def new_incarnation() -> str:
    return uuid.uuid4().hex[:16]


class AttemptLedger(Interceptor):
    """Records the attempts this worker incarnation runs (not local activities: those live and
    die with their workflow task)."""

    def __init__(self, db: Database, incarnation: str) -> None:
        self.db = db
        self.incarnation = incarnation
        self._writes: set[asyncio.Task[None]] = set()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Recorded(next, self)

    def write(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._quietly(coro), name="attempt-ledger")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task

    @staticmethod
    async def _quietly(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - an optimisation: without the row, recovery is only slower
            logger.debug("attempt ledger write failed: %s", exc)

    async def record_later(self, entry: _Entry, attempt: attempts_db.Attempt) -> None:
        if attempt.activity_type not in RECORD_AT_ONCE:
            await asyncio.sleep(RECORD_AFTER)
        entry.writing = True
        await attempts_db.record(self.db, attempt)

    async def forget_after(self, recorded: asyncio.Task[None], task_token: bytes) -> None:
        await recorded
        await attempts_db.forget(self.db, task_token)

    async def shutdown(self) -> None:
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=2.0)


class _Recorded(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, ledger: AttemptLedger) -> None:
        super().__init__(next)
        self.ledger = ledger

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.is_local:
            return await self.next.execute_activity(input)
        attempt = attempts_db.Attempt(
            info.task_token,
            self.ledger.incarnation,
            info.workflow_id or "",
            info.workflow_run_id or "",
            info.activity_type,
        )
        entry = _Entry()
        recorded = self.ledger.write(self.ledger.record_later(entry, attempt))
        try:
            return await self.next.execute_activity(input)
        finally:
            if entry.writing:
                self.ledger.write(self.ledger.forget_after(recorded, info.task_token))
            else:
                recorded.cancel()  # done before it was worth recording


class _Entry:
    def __init__(self) -> None:
        self.writing = False


async def fail_attempts_of_dead_workers(db: Database, client: Client, incarnation: str) -> int:
    """Fail the recorded attempts of worker incarnations that are gone; returns how many."""
    dead = await attempts_db.of_dead_workers(db, incarnation)
    if not dead:
        return 0
    await asyncio.gather(*(_fail(db, client, attempt) for attempt in dead))
    logger.info("retrying %d activity attempts of a worker that died", len(dead))
    return len(dead)


async def _fail(db: Database, client: Client, attempt: attempts_db.Attempt) -> None:
    try:
        await client.workflow_service.reset_sticky_task_queue(
            ResetStickyTaskQueueRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=attempt.workflow_id, run_id=attempt.run_id),
            )
        )
    except RPCError as exc:
        logger.debug("reset stickiness of %s: %s", attempt.workflow_id, exc)
    try:
        await client.get_async_activity_handle(task_token=attempt.task_token).fail(
            ApplicationError(
                f"the worker running this {attempt.activity_type} attempt died",
                type=WORKER_LOST,
                next_retry_delay=RETRY_AT_ONCE,
            )
        )
    except RPCError as exc:
        # Already finished, timed out or retried: nothing is left to recover.
        logger.debug("attempt of %s was no longer running: %s", attempt.workflow_id, exc)
    await attempts_db.forget(db, attempt.task_token)
