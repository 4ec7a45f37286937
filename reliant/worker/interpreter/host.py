"""How a run's nodes do I/O and where they stop: one activity at a time through `step` (an
unreachable Postgres, NATS, Temporal or worker is waited out and the step started again; any other
failure pauses the run with the node and the reason, and the step is tried again once the user
resumes), and
`checkpoint` between steps, where a node stops for a cancel, waits while the user has paused the
run, or parks so the run can continue as new.

The exceptions say how a node ended early: Stop (cancelled), Park (at a safe point, to be started
again after continue-as-new, from its cursor), Gone (the chat was deleted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from reliant.domain.chat import ChatStatus
    from reliant.domain.workflows import LOCAL_STEPS_PATCH
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import FinishTurnInput
    from reliant.worker.failures import Failure, FailureKind, classify_failure, infrastructure_wait
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import NodeNote
    from reliant.worker.policies import STATUS_RETRY

T = TypeVar("T")
A = TypeVar("A")


def start_bookkeeping(
    method: Callable[[Any, A], Awaitable[T]], arg: A, *, start_to_close_timeout: timedelta, retry_policy: RetryPolicy
) -> workflow.ActivityHandle[T]:
    """Start a bookkeeping step (a run's opening and end, an agent tool's records: Postgres and a
    quick daemon read, idempotent, seconds at most): a local activity, run by the worker that runs
    the workflow with no round trip through the server's task queue. Runs recorded before replay
    it as the activity it was."""
    if workflow.patched(LOCAL_STEPS_PATCH):
        return workflow.start_local_activity_method(
            method, arg, start_to_close_timeout=start_to_close_timeout, retry_policy=retry_policy
        )
    return workflow.start_activity_method(
        method, arg, start_to_close_timeout=start_to_close_timeout, retry_policy=retry_policy
    )


class Stop(Exception):
    """The run is cancelled: the node stopped (its activity cancelled, if one was running)."""


class Park(Exception):
    """The node stopped at a safe point so the run can continue as new; it starts again after."""


class Gone(Exception):
    """The chat no longer exists."""


class Refused(Exception):
    """A step failed in a way its caller handles itself (`step(raising=...)`), instead of a pause."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class Failed(Exception):
    """A node cannot go on as it is (a template that does not evaluate, a child run that failed...):
    the run pauses with the reason, and the node is tried again once resumed."""


class Host:
    def __init__(self, control: Control, *, history_limit: int) -> None:
        self.control = control
        self.history_limit = history_limit
        self.gone = False
        self.aborted_steps: list[str] = []  # model calls cancelled in flight (their partial answers go)
        self.take_notes: Callable[[], list[NodeNote]] = list  # the interpreter hands its pending notes
        self._pause_shown = False

    @property
    def chat_id(self) -> str:
        return self.control.chat_id

    def should_drain(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self.history_limit

    async def checkpoint(self) -> None:
        """Between two steps: stop if cancelled, park if the run continues as new, wait while the
        user has paused the run."""
        control = self.control
        while True:
            if self.gone:
                raise Gone
            if control.cancel_requested:
                raise Stop
            if not control.draining and self.should_drain():
                control.draining = True
            if control.draining:
                raise Park
            if not control.paused:
                return
            if not self._pause_shown:
                self._pause_shown = True
                await self.set_status(ChatStatus.PAUSED, "paused by the user")
            await workflow.wait_condition(lambda: not control.paused or control.cancel_requested or control.draining)
            if not control.paused and not control.cancel_requested and self._pause_shown:
                self._pause_shown = False
                await self.set_status(ChatStatus.RUNNING)

    async def step(
        self,
        start: Callable[[], workflow.ActivityHandle[T]],
        *,
        label: str,
        model_step: str = "",
        raising: frozenset[str] = frozenset(),
    ) -> T:
        """Run one activity to its end; on failure pause the run (`label` names the node) and try
        again once resumed; an unreachable Postgres, NATS, Temporal or worker is waited out (growing
        waits, capped) for as long as it lasts. `model_step`: a model call's step, dropped if
        cancelled in flight. `raising`: the failure types raised to the caller (Refused)."""
        infra_waits = 0
        while True:
            handle = start()
            try:
                finished = await self._settled(handle)
            except asyncio.CancelledError:  # the node itself is cancelled (a join went on without it)
                await self._cancel(handle)
                raise
            if not finished:
                await self._cancel(handle)
                if model_step:
                    self.aborted_steps.append(model_step)
                raise Stop
            try:
                return await handle
            except (ActivityError, ApplicationError) as err:  # a local activity's may come bare
                failure = classify_failure(err)
                if failure.kind is FailureKind.GONE:
                    self.gone = True
                    raise Gone from None
                if self.control.cancel_requested:
                    raise Stop from None
                if failure.kind is FailureKind.INFRASTRUCTURE:
                    infra_waits += 1
                    if await self._cancelled_within(infrastructure_wait(infra_waits)):
                        raise Stop from None
                    continue
                if failure.error_type in raising:
                    raise Refused(failure) from None
                # The reason first: a daemon outage keeps its prefix (the watcher resumes those
                # chats when the daemon is back), then where it happened.
                await self.paused_by_failure(f"{failure.pause_reason} ({label})")

    async def paused_by_failure(self, reason: str) -> None:
        """Show the run paused with `reason` and wait for the user's resume (Stop if they cancel)."""
        control = self.control
        resumes = control.resumes
        control.failed_steps += 1
        try:
            await self.set_status(ChatStatus.PAUSED, reason)
            await workflow.wait_condition(lambda: control.resumes != resumes or control.cancel_requested)
        finally:
            control.failed_steps -= 1
        if control.cancel_requested:
            raise Stop
        await self.set_status(ChatStatus.RUNNING)

    async def set_status(self, status: ChatStatus, reason: str = "") -> None:
        notes = self.take_notes()
        await self.settle(
            lambda: workflow.execute_activity_method(
                ToolActivities.finish_turn,
                FinishTurnInput(self.chat_id, status.value, reason, notes=notes),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STATUS_RETRY,
            )
        )

    async def settle(self, bookkeeping: Callable[[], Awaitable[T]]) -> T:
        """Run a bookkeeping activity (a status, a run's end) that must happen whatever the user
        does: an unreachable Postgres, NATS, Temporal or worker is waited out; any other failure
        is raised."""
        infra_waits = 0
        while True:
            try:
                return await bookkeeping()
            except (ActivityError, ApplicationError) as err:
                if classify_failure(err).kind is not FailureKind.INFRASTRUCTURE:
                    raise
                infra_waits += 1
                await workflow.sleep(infrastructure_wait(infra_waits))

    async def _cancelled_within(self, wait: timedelta) -> bool:
        """Wait `wait`; True if a cancel came first."""
        control = self.control
        try:
            await workflow.wait_condition(lambda: control.cancel_requested, timeout=wait)
        except TimeoutError:
            return False
        return True

    async def _settled(self, handle: workflow.ActivityHandle[Any]) -> bool:
        """Wait for the activity to end (True) or for a cancel request (False)."""
        control = self.control
        await workflow.wait_condition(lambda: handle.done() or control.cancel_requested)
        return handle.done()

    async def _cancel(self, handle: workflow.ActivityHandle[Any]) -> None:
        handle.cancel()
        try:
            await handle
        except (ActivityError, CancelledError, asyncio.CancelledError):
            pass
