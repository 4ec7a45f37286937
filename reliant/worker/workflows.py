"""Workflow definitions. Deterministic: no I/O, clocks, randomness or logging; activities do that."""

from __future__ import annotations

import asyncio
import dataclasses
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
        APPROVAL_DECISIONS,
        APPROVAL_SCOPES,
        ASK_USER_TOOL,
        CHAT_WORKFLOW,
        DOCTOR_WORKFLOW,
        HANDOVER_PATCH,
        QUERY_STATE,
        SEALED_CONTROL_PATCH,
        SIGNAL_CANCEL,
        SIGNAL_INTERRUPT,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_SET_MODE,
        SIGNAL_USER_MESSAGE,
        UPDATE_ANSWER_APPROVAL,
        UPDATE_ANSWER_QUESTION,
        AgentInput,
        AgentState,
        AgentStatus,
        ApprovalAnswer,
        ChatInput,
        ChatState,
        DoctorInput,
        DoctorResult,
        QuestionAnswer,
        ToolCallRef,
    )
    from reliant.worker.activities.doctor import DoctorActivities, PingDaemonInput, RecordDoctorInput
    from reliant.worker.activities.gates import GateActivities
    from reliant.worker.activities.llm import LlmActivities
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import (
        CallLlmInput,
        CallLlmResult,
        ExecuteToolInput,
        ExecuteToolResult,
        FinishTurnInput,
        RequestApprovalInput,
        RequestApprovalResult,
        RequestQuestionInput,
        RequestQuestionResult,
    )
    from reliant.worker.failures import FailureKind, classify_failure, infrastructure_wait
    from reliant.worker.policies import HEARTBEAT_TIMEOUT, IDLE_TIMEOUT, LLM_RETRY, STATUS_RETRY, TOOL_RETRY


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

PLAN_DENIAL = (
    "Not run: the chat is in plan mode, where only read-only tools run. Finish the plan; the user can "
    "switch to auto or manual mode to carry it out."
)

T = TypeVar("T")


class Outcome(enum.Enum):
    CANCELLED = "cancelled"
    GONE = "gone"  # the chat was deleted


@workflow.defn(name=AGENT_WORKFLOW)
class AgentWorkflow:
    """One chat: takes user messages in order and, for each, loops call_llm -> execute_tool until the
    model answers without tool calls or max_turns is reached. Only ids travel through here; message
    bodies and tool outputs stay in Postgres.

    Frozen: chats from before workflows ran them still run here (their histories must replay). When
    such a chat takes its next message, it hands over to ChatWorkflow (continue-as-new into the new
    type, HANDOVER_PATCH): that message and the rest run the chat's workflow definition."""

    @workflow.init
    def __init__(self, inp: AgentInput) -> None:
        self.chat_id = inp.chat_id
        self.max_turns = inp.max_turns
        self.s = inp.state or AgentState()
        self.approval_timeout = inp.approval_timeout_seconds
        self.history_limit = inp.history_limit
        self.cancel_requested = False
        self.paused = False  # paused by a failure, until resumed
        self.answers: dict[str, ApprovalAnswer] = {}
        self.question_answers: dict[str, list[str]] = {}
        self.waiting_approvals: set[str] = set()
        self.waiting_questions: set[str] = set()
        # Since payloads are sealed (reliant/clients/codec.py), cancel, pause and resume carry the
        # chat id, sealed like every payload, so a bare signal from someone without the key does
        # nothing. Runs recorded before that took them bare and replay as they were.
        self.sealed_control = workflow.patched(SEALED_CONTROL_PATCH)
        self.taken = 0  # messages this run has taken (see the hand-over in `run`)

    def _control(self, chat_id: str) -> bool:
        """Whether a cancel, pause or resume signal comes from reliant."""
        return chat_id == self.chat_id or (not chat_id and not self.sealed_control)

    # Every signal handler takes its arguments with defaults: a signal sent bare (by someone
    # without the key: a sealed one always has them) must do nothing, not raise, which would fail
    # the workflow task on every replay and leave the chat stuck.
    @workflow.signal(name=SIGNAL_USER_MESSAGE)
    def user_message(self, message_id: str = "") -> None:
        if not message_id:
            return
        if message_id != self.s.active and message_id not in self.s.queue:
            self.s.queue.append(message_id)
        self.paused = False  # a new message also means "go on"

    @workflow.signal(name=SIGNAL_CANCEL)
    def cancel(self, chat_id: str = "") -> None:
        if self._control(chat_id) and self.s.active:
            self.cancel_requested = True

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self, chat_id: str = "") -> None:
        if self._control(chat_id):
            self.paused = False
            self.s.paused = False

    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self, chat_id: str = "") -> None:
        if self._control(chat_id) and self.s.active:
            self.s.paused = True

    @workflow.signal(name=SIGNAL_SET_MODE)
    def set_mode(self, mode: str = "") -> None:
        if mode in ("auto", "manual", "plan"):
            self.s.mode = mode

    @workflow.signal(name=SIGNAL_INTERRUPT)
    def interrupt(self, message_id: str = "") -> None:
        """Cancel the running turn and answer `message_id` next."""
        if not message_id:
            return
        if message_id in self.s.queue:
            self.s.queue.remove(message_id)
        if self.s.active:
            self.s.queue.insert(0, message_id)
            self.cancel_requested = True
        elif message_id not in self.s.queue:
            self.s.queue.append(message_id)
        self.paused = False

    @workflow.update(name=UPDATE_ANSWER_APPROVAL)
    def answer_approval(self, answer: ApprovalAnswer) -> str:
        self.answers[answer.tool_call_id] = answer
        return answer.decision

    @answer_approval.validator
    def _check_approval(self, answer: ApprovalAnswer) -> None:
        if answer.tool_call_id not in self.waiting_approvals or answer.tool_call_id in self.answers:
            raise ApplicationError(
                f"no pending approval for tool call {answer.tool_call_id}: it was already answered or cancelled",
                type="NotPending",
            )
        if answer.decision not in APPROVAL_DECISIONS:
            raise ApplicationError(f"decision must be one of {APPROVAL_DECISIONS}", type="InvalidAnswer")
        if answer.scope not in APPROVAL_SCOPES or (answer.scope and answer.decision != "approve"):
            raise ApplicationError(f"scope must be one of {APPROVAL_SCOPES}, with approve", type="InvalidAnswer")
        if answer.scope == "prefix" and not answer.command_prefix.strip():
            raise ApplicationError("scope prefix needs a command_prefix", type="InvalidAnswer")

    @workflow.update(name=UPDATE_ANSWER_QUESTION)
    def answer_question(self, answer: QuestionAnswer) -> str:
        self.question_answers[answer.tool_call_id] = list(answer.answers)
        return "answered"

    @answer_question.validator
    def _check_question(self, answer: QuestionAnswer) -> None:
        if answer.tool_call_id not in self.waiting_questions or answer.tool_call_id in self.question_answers:
            raise ApplicationError(
                f"no pending question for tool call {answer.tool_call_id}: it was already answered or cancelled",
                type="NotPending",
            )
        if not answer.answers or any(len(a) > 20_000 for a in answer.answers):
            raise ApplicationError("answers must be 1-4 texts of at most 20,000 characters", type="InvalidAnswer")

    @workflow.query(name=QUERY_STATE)
    def state(self) -> AgentStatus:
        return AgentStatus(
            active=self.s.active,
            queue=list(self.s.queue),
            turn=self.s.turn,
            paused=self.paused or self.s.paused,
            cancelling=self.cancel_requested,
            mode=self.s.mode,
            waiting_approvals=sorted(self.waiting_approvals),
            waiting_questions=sorted(self.waiting_questions),
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
                # One patch id per message taken: a run replaying its history from before the
                # hand-over existed answers those messages as it did, and the first message it takes
                # afterwards goes to the new workflow (a single id would be decided once per run).
                if workflow.patched(f"{HANDOVER_PATCH}:{self.taken}"):
                    self._hand_over()
                self.taken += 1
                self.s.active = self.s.queue.pop(0)
                self.s.admitted = False
                self.s.turns_used = 0
            if await self._answer() is Outcome.GONE:
                return

    async def _answer(self) -> Outcome | None:
        """Drive the active user message to its end (answered, cancelled or out of turns)."""
        while True:
            self._maybe_continue_as_new()
            if self.s.paused and not self.cancel_requested:
                await self._paused_by_user()
            if self.cancel_requested:
                await self._cancelled(aborted_turn=0)
                return None
            if self.s.pending_tools:
                outcome = await self._run_tools()
                if outcome is Outcome.GONE:
                    return outcome
                if outcome is Outcome.CANCELLED:
                    return None  # the turn ended; the chat is ready for its next message
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
                mode=self.s.mode,
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
        """Run the pending calls in order; consecutive read-only calls run in parallel. None when all
        ran; CANCELLED (already settled) or GONE when the turn ended early."""
        turn = self.s.turn
        while self.s.pending_tools:
            batch = _next_batch(self.s.pending_tools)
            results = await asyncio.gather(*(self._tool(turn, call) for call in batch))
            if Outcome.GONE in results:
                return Outcome.GONE
            if Outcome.CANCELLED in results or self.cancel_requested:
                await self._cancelled(aborted_turn=0)
                return Outcome.CANCELLED
            self.s.pending_tools = self.s.pending_tools[len(batch) :]
            self._maybe_continue_as_new()
        return None

    async def _tool(self, turn: int, call: ToolCallRef) -> ExecuteToolResult | Outcome:
        inp: ExecuteToolInput | Outcome
        if call.invalid:  # arguments that are not a JSON object: nothing to run or ask about
            inp = ExecuteToolInput(self.chat_id, turn, call.tool_call_id, invalid=call.invalid)
        elif call.tool_name == ASK_USER_TOOL:
            inp = await self._question(turn, call)
        else:
            inp = await self._approval(turn, call)
        if isinstance(inp, Outcome):
            return inp
        if call.read_only and call.tool_name != ASK_USER_TOOL:
            # Reads are quick and safe to repeat: a local activity saves a round trip through the
            # server's task queue (a repeat after a crash finds the recorded result anyway).
            return await self._step(
                functools.partial(
                    workflow.start_local_activity_method,
                    ToolActivities.execute_tool,
                    inp,
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=TOOL_RETRY,
                )
            )
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

    async def _approval(self, turn: int, call: ToolCallRef) -> ExecuteToolInput | Outcome:
        """The gate of a tool call: auto runs it, plan refuses a mutating call, manual asks the user
        (unless an always-allow policy matches) and waits, durably, for the answer."""
        inp = ExecuteToolInput(chat_id=self.chat_id, turn=turn, tool_call_id=call.tool_call_id)
        if call.read_only or self.s.mode == "auto":
            return inp
        if self.s.mode == "plan":
            return dataclasses.replace(inp, denial=PLAN_DENIAL)
        key = call.tool_call_id
        # Waiting starts before the request is recorded: an answer may arrive as soon as it is visible.
        self.waiting_approvals.add(key)
        try:
            asked = await self._step(
                functools.partial(
                    workflow.start_activity_method,
                    GateActivities.request_approval,
                    RequestApprovalInput(self.chat_id, turn, call.tool_call_id),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STATUS_RETRY,
                )
            )
            if isinstance(asked, Outcome):
                return asked
            assert isinstance(asked, RequestApprovalResult)
            if asked.allowed:
                self.answers.pop(key, None)
                return inp
            await workflow.wait_condition(
                lambda: key in self.answers or self.cancel_requested or self.s.mode == "auto",
                timeout=timedelta(seconds=self.approval_timeout) if self.approval_timeout > 0 else None,
            )
        except TimeoutError:
            return dataclasses.replace(
                inp,
                denial=f"No answer to the approval request within {self.approval_timeout:.0f}s, so it was denied.",
                denial_status="expired",
            )
        finally:
            self.waiting_approvals.discard(key)
        if key in self.answers:
            answer = self.answers.pop(key)
            if answer.decision == "deny":
                denial = "The user denied this tool call." + (
                    f" Their message: {answer.message}" if answer.message.strip() else ""
                )
                return dataclasses.replace(inp, approval=answer, denial=denial)
            return dataclasses.replace(inp, approval=answer)
        if self.cancel_requested:
            return Outcome.CANCELLED
        return dataclasses.replace(inp, approval=ApprovalAnswer(key, "approve"))  # switched to auto

    async def _question(self, turn: int, call: ToolCallRef) -> ExecuteToolInput | Outcome:
        """ask_user: record the questions, wait durably for the answers; they are the result."""
        inp = ExecuteToolInput(chat_id=self.chat_id, turn=turn, tool_call_id=call.tool_call_id)
        key = call.tool_call_id
        self.waiting_questions.add(key)
        try:
            asked = await self._step(
                functools.partial(
                    workflow.start_activity_method,
                    GateActivities.request_question,
                    RequestQuestionInput(self.chat_id, turn, call.tool_call_id),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STATUS_RETRY,
                )
            )
            if isinstance(asked, Outcome):
                return asked
            assert isinstance(asked, RequestQuestionResult)
            if asked.invalid:
                return dataclasses.replace(inp, invalid=asked.invalid)
            await workflow.wait_condition(lambda: key in self.question_answers or self.cancel_requested)
        finally:
            self.waiting_questions.discard(key)
        if key not in self.question_answers:
            return Outcome.CANCELLED
        return dataclasses.replace(inp, answers=self.question_answers.pop(key))

    async def _step(self, start: Callable[[], workflow.ActivityHandle[T]]) -> T | Outcome:
        """Run one activity. When it fails: an unreachable Postgres, NATS, Temporal or worker is
        waited out (growing waits, capped) and the step started again, for as long as it takes;
        any other failure pauses the chat with the reason, and the step starts again once resumed."""
        infra_waits = 0
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
                failure = classify_failure(err)
                if failure.kind is FailureKind.GONE:
                    return Outcome.GONE
                if self.cancel_requested:
                    return Outcome.CANCELLED
                if failure.kind is FailureKind.INFRASTRUCTURE:
                    infra_waits += 1
                    if await self._cancelled_within(infrastructure_wait(infra_waits)):
                        return Outcome.CANCELLED
                    continue
                self.paused = True
                await self._finish(ChatStatus.PAUSED, failure.pause_reason)
                await workflow.wait_condition(lambda: not self.paused or self.cancel_requested)
                if self.cancel_requested:
                    return Outcome.CANCELLED
                await self._finish(ChatStatus.RUNNING)

    async def _cancelled_within(self, wait: timedelta) -> bool:
        """Wait `wait`; True if a cancel came first."""
        try:
            await workflow.wait_condition(lambda: self.cancel_requested, timeout=wait)
        except TimeoutError:
            return False
        return True

    async def _settled(self, handle: workflow.ActivityHandle[Any]) -> bool:
        """Wait for the activity to end (True) or for a cancel request (False)."""
        await workflow.wait_condition(lambda: handle.done() or self.cancel_requested)
        return handle.done()

    async def _paused_by_user(self) -> None:
        """`pause`: the step in flight has finished; wait here until resumed (or cancelled)."""
        await self._finish(ChatStatus.PAUSED, "paused by the user")
        await workflow.wait_condition(lambda: not self.s.paused or self.cancel_requested)
        if not self.cancel_requested:
            await self._finish(ChatStatus.RUNNING)

    async def _cancelled(self, *, aborted_turn: int) -> None:
        await self._finish(ChatStatus.IDLE, "cancelled by the user", settle_tools=True, aborted_turn=aborted_turn)
        self.cancel_requested = False
        self.s.paused = False
        self._end_active()

    async def _finish(
        self, status: ChatStatus, reason: str = "", *, settle_tools: bool = False, aborted_turn: int = 0
    ) -> None:
        infra_waits = 0
        while True:
            try:
                await workflow.execute_activity_method(
                    ToolActivities.finish_turn,
                    FinishTurnInput(
                        self.chat_id, status.value, reason, settle_tools=settle_tools, aborted_turn=aborted_turn
                    ),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STATUS_RETRY,
                )
                return
            except ActivityError as err:
                if classify_failure(err).kind is not FailureKind.INFRASTRUCTURE:
                    raise
                infra_waits += 1
                await workflow.sleep(infrastructure_wait(infra_waits))

    def _end_active(self) -> None:
        self.s.paused = False  # a pause asked during the last step ends with the turn
        self.s.active = ""
        self.s.admitted = False
        self.s.turn_open = False
        self.s.pending_tools = []

    def _hand_over(self) -> None:
        """Continue as the chat's workflow that runs definitions, with the messages that wait."""
        state = ChatState(queue=list(self.s.queue), mode=self.s.mode)
        workflow.continue_as_new(
            args=[ChatInput(self.chat_id, state, self.approval_timeout, self.history_limit)], workflow=CHAT_WORKFLOW
        )

    def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() > self.history_limit:
            workflow.continue_as_new(
                AgentInput(
                    self.chat_id,
                    self.max_turns,
                    self.s,
                    approval_timeout_seconds=self.approval_timeout,
                    history_limit=self.history_limit,
                )
            )


def _next_batch(pending: list[ToolCallRef]) -> list[ToolCallRef]:
    """The leading run of read-only calls (run together), or the first mutating call alone."""
    batch: list[ToolCallRef] = []
    for call in pending:
        if not call.read_only:
            break
        batch.append(call)
    return batch or pending[:1]
