"""How a run's nodes do I/O and where they stop: one activity at a time through `step` (a failure
pauses the run with the node and the reason, and the step is tried again once the user resumes), and
`checkpoint` between steps, where a node stops for a cancel, waits while the user has paused the
run, or parks so the run can continue as new.

The exceptions say how a node ended early: Stop (cancelled), Park (at a safe point, to be started
again after continue-as-new, from its cursor), Gone (the chat was deleted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from reliant.domain.chat import ChatStatus
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import CHAT_GONE, DAEMON_OFFLINE, FinishTurnInput
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import NodeNote
    from reliant.worker.policies import STATUS_RETRY

T = TypeVar("T")


class Stop(Exception):
    """The run is cancelled: the node stopped (its activity cancelled, if one was running)."""


class Park(Exception):
    """The node stopped at a safe point so the run can continue as new; it starts again after."""


class Gone(Exception):
    """The chat no longer exists."""


class Failed(Exception):
    """A node cannot go on as it is (a template that does not evaluate, a child run that failed...):
    the run pauses with the reason, and the node is tried again once resumed."""


def failure(err: ActivityError) -> tuple[str, str]:
    """(error type, message) of an activity failure."""
    cause: BaseException | None = err.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if isinstance(cause, ApplicationError):
        return cause.type or "", cause.message
    return "", str(err.cause or err)


def pause_reason(label: str, kind: str, message: str) -> str:
    """What the chat's status says: the reason, then where (the daemon's outages keep their prefix:
    the watcher resumes those chats when the daemon is back)."""
    if kind == DAEMON_OFFLINE:
        return f"daemon offline: {message} ({label})"
    return f"{message} ({label})"


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

    async def step(self, start: Callable[[], workflow.ActivityHandle[T]], *, label: str, model_step: str = "") -> T:
        """Run one activity to its end; on failure pause the run (`label` names the node) and try
        again once resumed. `model_step`: a model call's step, dropped if cancelled in flight."""
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
            except ActivityError as err:
                kind, message = failure(err)
                if kind == CHAT_GONE:
                    self.gone = True
                    raise Gone from None
                if self.control.cancel_requested:
                    raise Stop from None
                await self.paused_by_failure(pause_reason(label, kind, message))

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
        await workflow.execute_activity_method(
            ToolActivities.finish_turn,
            FinishTurnInput(self.chat_id, status.value, reason, notes=self.take_notes()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STATUS_RETRY,
        )

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
