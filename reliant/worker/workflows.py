"""Workflow definitions. Deterministic: no I/O, clocks, randomness or logging; activities do that."""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from reliant.domain.chat import ChatStatus
    from reliant.domain.workflows import (
        AGENT_WORKFLOW,
        DOCTOR_WORKFLOW,
        QUERY_STATE,
        SIGNAL_CANCEL,
        SIGNAL_RESUME,
        SIGNAL_USER_MESSAGE,
        AgentInput,
        AgentState,
        AgentStatus,
        DoctorInput,
        DoctorResult,
        ToolCallRef,
    )
    from reliant.worker.activities.doctor import DoctorActivities, PingDaemonInput, RecordDoctorInput
    from reliant.worker.activities.llm import LlmActivities
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import (
        CHAT_GONE,
        DAEMON_OFFLINE,
        FATAL_LLM,
        TURN_ABORTED,
        CallLlmInput,
        CallLlmResult,
        ExecuteToolInput,
        ExecuteToolResult,
        FinishTurnInput,
    )


@workflow.defn(name=DOCTOR_WORKFLOW)
class DoctorWorkflow:
    """Proves the whole chain: workflow -> activity -> NATS -> gateway -> daemon `ping` -> back."""

    @workflow.run
    async def run(self, inp: DoctorInput) -> DoctorResult:
        pings = await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    DoctorActivities.ping_daemon,
                    PingDaemonInput(daemon_id, inp.timeout_seconds),
                    start_to_close_timeout=timedelta(seconds=inp.timeout_seconds + 5),
                    retry_policy=RetryPolicy(maximum_attempts=2),
                )
                for daemon_id in inp.daemon_ids
            )
        )
        await workflow.execute_activity_method(
            DoctorActivities.record_doctor_run,
            RecordDoctorInput(workflow.info().workflow_id, list(pings)),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        return DoctorResult(pings=list(pings))


# -- the agent loop ------------------------------------------------------------------------------

IDLE_TIMEOUT = timedelta(minutes=30)  # an idle chat's run ends; its next message starts a new one
HISTORY_LIMIT = 4_000  # events: continue as new long before Temporal's 10k warning
HEARTBEAT_TIMEOUT = timedelta(seconds=3)  # a dead worker is noticed within seconds

LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=8,
    non_retryable_error_types=[FATAL_LLM, CHAT_GONE, TURN_ABORTED],
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=4),
    maximum_attempts=4,
    non_retryable_error_types=[CHAT_GONE],
)
STATUS_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=30)

T = TypeVar("T")


class Outcome(enum.Enum):
    CANCELLED = "cancelled"
    GONE = "gone"  # the chat was deleted


def _failure(err: ActivityError) -> tuple[str, str]:
    """(error type, message) of an activity failure."""
    cause: BaseException | None = err.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if isinstance(cause, ApplicationError):
        return cause.type or "", cause.message
    return "", str(err.cause or err)


def _pause_reason(kind: str, message: str) -> str:
    if kind == DAEMON_OFFLINE:
        return f"daemon offline: {message}"
    return message


@workflow.defn(name=AGENT_WORKFLOW)
class AgentWorkflow:
    """One chat: takes user messages in order and, for each, loops call_llm -> execute_tool until the
    model answers without tool calls or max_turns is reached. Only ids travel through here; message
    bodies and tool outputs stay in Postgres."""

    @workflow.init
    def __init__(self, inp: AgentInput) -> None:
        self.chat_id = inp.chat_id
        self.max_turns = inp.max_turns
        self.s = inp.state or AgentState()
        self.cancel_requested = False
        self.paused = False

    @workflow.signal(name=SIGNAL_USER_MESSAGE)
    def user_message(self, message_id: str) -> None:
        if message_id != self.s.active and message_id not in self.s.queue:
            self.s.queue.append(message_id)
        self.paused = False  # a new message also means "go on"

    @workflow.signal(name=SIGNAL_CANCEL)
    def cancel(self) -> None:
        if self.s.active:
            self.cancel_requested = True

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self) -> None:
        self.paused = False

    @workflow.query(name=QUERY_STATE)
    def state(self) -> AgentStatus:
        return AgentStatus(
            active=self.s.active,
            queue=list(self.s.queue),
            turn=self.s.turn,
            paused=self.paused,
            cancelling=self.cancel_requested,
        )

    @workflow.run
    async def run(self, inp: AgentInput) -> None:
        while True:
            if not self.s.active:
                if not self.s.queue:
                    self._maybe_continue_as_new()
                    try:
                        await workflow.wait_condition(lambda: bool(self.s.queue), timeout=IDLE_TIMEOUT)
                    except TimeoutError:
                        return
                self.s.active = self.s.queue.pop(0)
                self.s.admitted = False
                self.s.turns_used = 0
            if await self._answer() is Outcome.GONE:
                return

    async def _answer(self) -> Outcome | None:
        """Drive the active user message to its end (answered, cancelled or out of turns)."""
        while True:
            self._maybe_continue_as_new()
            if self.cancel_requested:
                await self._cancelled(aborted_turn=0)
                return None
            if self.s.pending_tools:
                outcome = await self._run_tools()
                if outcome is not None:
                    return outcome
                continue
            if not self.s.turn_open:
                if self.s.turns_used >= self.max_turns:
                    await self._finish(
                        ChatStatus.IDLE,
                        f"stopped after {self.max_turns} model turns without a final answer (max_turns)",
                        settle_tools=True,
                    )
                    self._end_active()
                    return None
                self.s.turn += 1
                self.s.turns_used += 1
                self.s.turn_open = True
            inp = CallLlmInput(
                chat_id=self.chat_id,
                turn=self.s.turn,
                admit_message_id="" if self.s.admitted else self.s.active,
                idle_when_done=not self.s.queue,
            )
            result = await self._step(
                functools.partial(
                    workflow.start_activity_method,
                    LlmActivities.call_llm,
                    inp,
                    start_to_close_timeout=timedelta(minutes=15),
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=LLM_RETRY,
                )
            )
            if result is Outcome.CANCELLED:
                await self._cancelled(aborted_turn=self.s.turn)
                return None
            if result is Outcome.GONE:
                return result
            assert isinstance(result, CallLlmResult)
            self.s.admitted = True
            self.s.turn_open = False
            if not result.tool_calls:
                self._end_active()
                return None
            self.s.pending_tools = list(result.tool_calls)

    async def _run_tools(self) -> Outcome | None:
        """Run the pending calls in order; consecutive read-only calls run in parallel."""
        turn = self.s.turn
        while self.s.pending_tools:
            batch = _next_batch(self.s.pending_tools)
            results = await asyncio.gather(*(self._tool(turn, call) for call in batch))
            for outcome in (Outcome.GONE, Outcome.CANCELLED):
                if outcome in results:
                    if outcome is Outcome.CANCELLED:
                        await self._cancelled(aborted_turn=0)
                        return None
                    return outcome
            self.s.pending_tools = self.s.pending_tools[len(batch) :]
            self._maybe_continue_as_new()
        return None

    async def _tool(self, turn: int, call: ToolCallRef) -> ExecuteToolResult | Outcome:
        inp = ExecuteToolInput(chat_id=self.chat_id, turn=turn, tool_call_id=call.tool_call_id)
        return await self._step(
            functools.partial(
                workflow.start_activity_method,
                ToolActivities.execute_tool,
                inp,
                start_to_close_timeout=timedelta(minutes=15),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=TOOL_RETRY,
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        )

    async def _step(self, start: Callable[[], workflow.ActivityHandle[T]]) -> T | Outcome:
        """Run one activity; on failure pause the chat with the reason and retry once resumed."""
        while True:
            handle = start()
            if not await self._settled(handle):
                handle.cancel()
                try:
                    await handle
                except (ActivityError, CancelledError, asyncio.CancelledError):
                    pass
                return Outcome.CANCELLED
            try:
                return await handle
            except ActivityError as err:
                kind, message = _failure(err)
                if kind == CHAT_GONE:
                    return Outcome.GONE
                if self.cancel_requested:
                    return Outcome.CANCELLED
                self.paused = True
                await self._finish(ChatStatus.PAUSED, _pause_reason(kind, message))
                await workflow.wait_condition(lambda: not self.paused or self.cancel_requested)
                if self.cancel_requested:
                    return Outcome.CANCELLED
                await self._finish(ChatStatus.RUNNING)

    async def _settled(self, handle: workflow.ActivityHandle[Any]) -> bool:
        """Wait for the activity to end (True) or for a cancel request (False)."""
        await workflow.wait_condition(lambda: handle.done() or self.cancel_requested)
        return handle.done()

    async def _cancelled(self, *, aborted_turn: int) -> None:
        await self._finish(ChatStatus.IDLE, "cancelled by the user", settle_tools=True, aborted_turn=aborted_turn)
        self.cancel_requested = False
        self._end_active()

    async def _finish(
        self, status: ChatStatus, reason: str = "", *, settle_tools: bool = False, aborted_turn: int = 0
    ) -> None:
        await workflow.execute_activity_method(
            ToolActivities.finish_turn,
            FinishTurnInput(self.chat_id, status.value, reason, settle_tools=settle_tools, aborted_turn=aborted_turn),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STATUS_RETRY,
        )

    def _end_active(self) -> None:
        self.s.active = ""
        self.s.admitted = False
        self.s.turn_open = False
        self.s.pending_tools = []

    def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() > HISTORY_LIMIT:
            workflow.continue_as_new(AgentInput(self.chat_id, self.max_turns, self.s))


def _next_batch(pending: list[ToolCallRef]) -> list[ToolCallRef]:
    """The leading run of read-only calls (run together), or the first mutating call alone."""
    batch: list[ToolCallRef] = []
    for call in pending:
        if not call.read_only:
            break
        batch.append(call)
    return batch or pending[:1]
