"""execute_tool: run one tool call on the chat's daemon, at most once.

The call is recorded `executing` (with the daemon run it goes to) before the daemon is asked. The
asking is a series of short requests (see ToolDelivery): a request lost with a gateway or NATS is
noticed within seconds and sent again, attaching to the running call. A request that provably never
reached the daemon puts the call back to pending, to be sent when the daemon is back. A retried
attempt that finds the call `executing` asks the daemon to attach to it (or return what it
remembers); if the daemon run it went to has restarted, a read-only tool is run again and any other
is reported as interrupted, saying so: never silently run twice. A call the daemon refused to start
because the project's files are no longer trusted as they are (a project workflow's step) is pending
again and its step pauses the run: the user trusts the project again and resumes, and it is sent anew.

An `agent` node's model call runs the answer's leading read-only calls itself (run_reads), right
after storing the answer, with their starts in the answer's own commit: a turn of reads costs one
step, not two. What that leaves unfinished (a daemon that did not answer) execute_tool takes up.

Only a cancel the user asked for (the workflow cancelling the activity) stops the tool on the
daemon and reports "cancelled by the user". A worker shutdown, a heartbeat or activity timeout
leaves it running: the retry attaches to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from reliant.bus import Bus, subjects
from reliant.clients import stops
from reliant.clients.tool_delivery import ToolDelivery
from reliant.clients.update_log import Change, UpdateLog
from reliant.db import Database
from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import questions as questions_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db.tool_runs import ToolTarget
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import FINAL_TOOL_STATES, ChatStatus, StoredMessage, ToolRun, ToolState
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus, refused_untrusted
from reliant.domain.workflows import ApprovalAnswer
from reliant.errors import DaemonUnavailableError
from reliant.wire.payloads import tool_run_payload, tool_started_payload
from reliant.worker import ask_user
from reliant.worker.activities.llm import chat_gone, settle_tool_results, store_results, store_results_once_all_ended
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    DAEMON_OFFLINE,
    DAEMON_OFFLINE_REASON,
    PROJECT_UNTRUSTED,
    TOOL_DETACHED,
    ExecuteToolInput,
    ExecuteToolResult,
    FinishTurnInput,
)

logger = logging.getLogger(__name__)

FINAL = FINAL_TOOL_STATES
HEARTBEAT_EVERY = 0.5
PRESENCE_TIMEOUT = 1.0
USER_CANCEL = "cancelled by the user"
DAEMON_RESTARTED = "the daemon restarted while this tool was running; its outcome is unknown, so it was not run again"
OUTCOME_UNKNOWN = (
    "the daemon has no record of this call and may have restarted since it was sent; its outcome is "
    "unknown, so it was not run again"
)


class ToolActivities:
    def __init__(self, db: Database, bus: Bus, log: UpdateLog, delivery: ToolDelivery | None = None) -> None:
        self.db = db
        self.bus = bus
        self.log = log
        self.delivery = delivery if delivery is not None else ToolDelivery(bus)

    @activity.defn(name="execute_tool")
    async def execute_tool(self, inp: ExecuteToolInput) -> ExecuteToolResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        target = await tool_runs_db.get_with_target(self.db, inp.chat_id, inp.tool_call_id)
        if target is None:
            raise chat_gone(inp.chat_id)
        run, daemon_id, workspace = target.run, target.daemon_id, target.workspace
        if inp.workspace:  # a sub-agent in its own worktree
            workspace = inp.workspace
        elif target.worktree:
            workspace = target.worktree  # the chat works in its own git worktree
        if run.state in FINAL:
            return ExecuteToolResult(run.key, run.state.value, replayed=True)
        if inp.invalid:
            return await self._record(inp.chat_id, run, ToolResult(run.key, ToolStatus.ERROR, error=inp.invalid))
        if inp.answers is not None:
            return await self._answered(inp, run)
        if inp.denial:
            return await self._denied(inp, run)
        call = ToolCall(
            tool_call_id=run.key,  # what the daemon knows the call by: unique in the chat
            tool=run.tool_name,
            input=run.input,
            chat_id=inp.chat_id,
            workspace=workspace,
        )
        try:
            return await self._run(inp, target, call)
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            if details is not None and details.cancel_requested:  # the user pressed stop
                await self._cancel_on_daemon(daemon_id, inp.chat_id, run)
                raise
            # A worker shutdown or a timeout: the call runs on; the next attempt attaches to it.
            reason = _detach_reason(details)
            logger.info("tool call %s left running on daemon %s: %s", run.key, daemon_id, reason)
            raise ApplicationError(
                f"{reason}; the tool keeps running on the daemon and the retry attaches to it",
                type=TOOL_DETACHED,
                category=ApplicationErrorCategory.BENIGN,
            ) from None

    async def _run(self, inp: ExecuteToolInput, target: ToolTarget, call: ToolCall) -> ExecuteToolResult:
        run, daemon_id = target.run, target.daemon_id
        if run.state is ToolState.EXECUTING:
            # An earlier attempt sent the call and never heard back: attach to it, or learn that the
            # daemon run it went to never got it (then it is sent again below).
            result = await self._deliver(daemon_id, call, run, sent_boot=run.daemon_boot, resume=True)
            if refused_untrusted(result):
                raise await self._untrusted(inp.chat_id, run, result)
            if result.status is not ToolStatus.UNKNOWN:
                return await self._record(inp.chat_id, run, result, replayed=True)
            if not run.read_only:
                error = DAEMON_RESTARTED if run.daemon_boot else OUTCOME_UNKNOWN
                return await self._record(inp.chat_id, run, ToolResult(run.key, ToolStatus.INTERRUPTED, error=error))
        # Which daemon run the call goes to matters only for a call that must not run twice.
        boot = "" if run.read_only else await self._daemon_boot(daemon_id)
        begun = await self._begin(inp, target, boot=boot)
        if begun is None:  # another attempt finished it meanwhile
            return await self._recorded(inp.chat_id, run)
        result = await self._deliver(daemon_id, call, begun, sent_boot=boot, resume=False)
        if refused_untrusted(result):
            raise await self._untrusted(inp.chat_id, begun, result)
        if result.status is ToolStatus.UNKNOWN:  # sent, then the daemon restarted (a mutating call)
            result = ToolResult(run.key, ToolStatus.INTERRUPTED, error=DAEMON_RESTARTED if boot else OUTCOME_UNKNOWN)
        return await self._record(inp.chat_id, begun, result)

    async def _begin(self, inp: ExecuteToolInput, target: ToolTarget, *, boot: str) -> ToolRun | None:
        """Record the call executing (and the user's approval, if asked) and say so to clients; None
        if another attempt finished it meanwhile."""
        async with self.log.change(inp.chat_id) as change:
            if inp.approval is not None:
                await _approved(change, inp.chat_id, target, inp.approval)
            begun = await tool_runs_db.begin(change.tx, inp.chat_id, target.run.key, daemon_boot=boot)
            if begun is not None:
                change.emit(kinds.TOOL_STARTED, tool_started_payload(begun))
        return begun

    async def run_reads(
        self, chat_id: str, runs: Sequence[ToolRun], daemon_id: str, workspace: str, answer: StoredMessage
    ) -> dict[str, str]:
        """Run read-only calls of `answer`, just stored (and these calls recorded executing with it),
        side by side, inside the model call's own step (no step of their own, no gate: a read runs
        in every mode). Their results commit together, with the tool results message when they were
        all of the answer's calls (nothing has joined its thread since). Returns the state of each
        call that ended, by key; any other (its daemon did not answer) is left to execute_tool,
        which knows how to wait for the daemon."""
        sent = await asyncio.gather(
            *(
                self.delivery.deliver(
                    daemon_id,
                    ToolCall(run.key, run.tool_name, run.input, chat_id, workspace),
                    sent_boot="",
                    resume=False,
                    rerun_if_unknown=True,
                )
                for run in runs
            ),
            return_exceptions=True,
        )
        ended: dict[str, str] = {}
        failure: BaseException | None = None
        async with self.log.change(chat_id) as change:
            done: list[ToolRun] = []
            for run, reply in zip(runs, sent, strict=True):
                if isinstance(reply, DaemonUnavailableError):
                    if not reply.maybe_reached:  # never reached it: execute_tool sends it again
                        await tool_runs_db.back_to_pending(change.tx, chat_id, run.key)
                    continue
                if isinstance(reply, BaseException):
                    failure = failure or reply
                    continue
                result = reply
                if result.status is ToolStatus.UNKNOWN:
                    result = ToolResult(run.key, ToolStatus.INTERRUPTED, error=OUTCOME_UNKNOWN)
                state = _state_of(result)
                finished = await tool_runs_db.finish(
                    change.tx,
                    chat_id,
                    run.key,
                    state=state,
                    output=result.output,
                    error=result.error,
                    data=result.data,
                    duration_ms=result.duration_ms,
                )
                if finished is not None:
                    change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
                    ended[run.key] = state.value
                    done.append(finished)
            if {b.tool_call_id for b in answer.tool_calls_blocks()} <= {r.tool_call_id for r in done}:
                await store_results(change, chat_id, answer, done)
        if failure is not None:
            raise failure
        return ended

    def _beats(self) -> dict[str, Any]:
        """How a delivery keeps the activity alive: heartbeats (none in a local activity)."""
        beat = None if activity.info().is_local else activity.heartbeat
        return {"heartbeat": beat, "heartbeat_every": HEARTBEAT_EVERY}

    async def _deliver(
        self, daemon_id: str, call: ToolCall, run: ToolRun, *, sent_boot: str, resume: bool
    ) -> ToolResult:
        """Ask the daemon until it answers; a call that never reached it goes back to pending."""
        try:
            return await self.delivery.deliver(
                daemon_id, call, sent_boot=sent_boot, resume=resume, rerun_if_unknown=run.read_only, **self._beats()
            )
        except DaemonUnavailableError as exc:
            raise await self._undelivered(daemon_id, call, run, exc) from exc

    async def _undelivered(
        self, daemon_id: str, call: ToolCall, run: ToolRun, exc: DaemonUnavailableError
    ) -> ApplicationError:
        """The daemon did not answer: a call that provably never reached it is pending again, and the
        chat pauses until the daemon is back (the delivery has retried for its grace already)."""
        if not exc.maybe_reached and await tool_runs_db.back_to_pending(self.db, call.chat_id, run.key):
            logger.info("tool call %s never reached daemon %s: pending again", run.key, daemon_id)
        return ApplicationError(str(exc), type=DAEMON_OFFLINE, non_retryable=True)

    async def _untrusted(self, chat_id: str, run: ToolRun, result: ToolResult) -> ApplicationError:
        """The daemon refused a project workflow's step, starting nothing: the project's files changed
        since they were trusted. That is the user's question, not the step's outcome: the call is
        pending again (asked afresh once the user resumes) and the run pauses with the daemon's reason."""
        await tool_runs_db.back_to_pending(self.db, chat_id, run.key)
        return ApplicationError(result.error, type=PROJECT_UNTRUSTED, non_retryable=True)

    async def _daemon_boot(self, daemon_id: str) -> str:
        """The daemon run its presence record names ("" if not known)."""

        async def lookup() -> dict[str, Any] | None:
            return await (await self.bus.presence()).get(subjects.presence_key("daemon", daemon_id))

        try:
            record = await asyncio.wait_for(lookup(), PRESENCE_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - only a hint: without it an unknown outcome is judged more cautiously
            logger.debug("no presence record for daemon %s: %s", daemon_id, exc)
            return ""
        if not record or not record.get("online"):
            return ""
        return str(record.get("boot_id", ""))

    async def _denied(self, inp: ExecuteToolInput, run: ToolRun) -> ExecuteToolResult:
        """The call never runs; the model is told why (the user's message, or the mode's rule)."""
        async with self.log.change(inp.chat_id) as change:
            if inp.approval is not None or inp.denial_status == "expired":
                approval = await approvals_db.for_call(change.tx, inp.chat_id, run.key)
                if approval is not None and await approvals_db.resolve(
                    change.tx, inp.chat_id, run.key, status=inp.denial_status, message=inp.denial
                ):
                    change.emit(
                        kinds.APPROVAL_RESOLVED,
                        {
                            "approval_id": approval.id,
                            "tool_call_id": run.tool_call_id,
                            **_call_key(run),
                            "status": inp.denial_status,
                            "scope": "",
                            "message": inp.denial,
                        },
                    )
            finished = await tool_runs_db.finish(
                change.tx, inp.chat_id, run.key, state=ToolState.DENIED, error=inp.denial
            )
            if finished is not None:
                change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
                await store_results_once_all_ended(change, inp.chat_id, finished)
            await _running_again(change, inp.chat_id)
        return ExecuteToolResult(run.key, ToolState.DENIED.value)

    async def _answered(self, inp: ExecuteToolInput, run: ToolRun) -> ExecuteToolResult:
        """ask_user: the user's answers are the call's result."""
        answers = inp.answers or []
        async with self.log.change(inp.chat_id) as change:
            question, _ = await questions_db.ask(
                change.tx,
                inp.chat_id,
                tool_call_id=run.key,
                turn=run.turn,
                questions=list(run.input.get("questions") or []),
            )
            if await questions_db.answer(change.tx, inp.chat_id, run.key, answers):
                change.emit(
                    kinds.QUESTION_ANSWERED,
                    {
                        "question_id": question.id,
                        "tool_call_id": run.tool_call_id,
                        **_call_key(run),
                        "answers": answers,
                        "status": "answered",
                    },
                )
            finished = await tool_runs_db.finish(
                change.tx,
                inp.chat_id,
                run.key,
                state=ToolState.COMPLETED,
                output=ask_user.result_text(question.questions, answers),
                data={"answers": answers},
            )
            if finished is not None:
                change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
                await store_results_once_all_ended(change, inp.chat_id, finished)
            await _running_again(change, inp.chat_id)
        return ExecuteToolResult(run.key, ToolState.COMPLETED.value)

    async def _cancel_on_daemon(self, daemon_id: str, chat_id: str, run: ToolRun) -> None:
        await stops.cancel_tool(self.bus, self.db, daemon_id, chat_id, run.key)
        interrupted = ToolResult(run.key, ToolStatus.INTERRUPTED, error=USER_CANCEL)
        await asyncio.shield(self._record(chat_id, run, interrupted))

    async def _record(
        self, chat_id: str, run: ToolRun, result: ToolResult, *, replayed: bool = False
    ) -> ExecuteToolResult:
        """Record the result unless another attempt recorded one first (then that one stands, and
        no second tool_finished is emitted)."""
        state = _state_of(result)
        async with self.log.change(chat_id) as change:
            finished = await tool_runs_db.finish(
                change.tx,
                chat_id,
                run.key,
                state=state,
                output=result.output,
                error=result.error,
                data=result.data,
                duration_ms=result.duration_ms,
            )
            if finished is not None:
                change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
                await store_results_once_all_ended(change, chat_id, finished)
        if finished is None:
            return await self._recorded(chat_id, run)
        return ExecuteToolResult(run.key, state.value, replayed=replayed)

    async def _recorded(self, chat_id: str, run: ToolRun) -> ExecuteToolResult:
        current = await tool_runs_db.get(self.db, chat_id, run.key)
        if current is None:
            raise chat_gone(chat_id)
        return ExecuteToolResult(run.key, current.state.value, replayed=True)

    @activity.defn(name="finish_turn")
    async def finish_turn(self, inp: FinishTurnInput) -> None:
        """Set the chat's status; optionally settle unfinished tool calls and drop a partial answer."""
        if inp.aborted_turn:
            await self.log.emit(inp.chat_id, kinds.MESSAGE_ABORTED, {"turn": inp.aborted_turn, "reason": inp.reason})
        if inp.settle_tools:
            await self._cancel_gates(inp.chat_id)
            await settle_tool_results(self.db, self.log, inp.chat_id, interrupt_reason=inp.reason or "stopped")
        await emit_notes(self.log, inp.chat_id, inp.notes)
        status = ChatStatus(inp.status)
        async with self.log.change(inp.chat_id) as change:
            changed = await chats_db.set_status(change.tx, inp.chat_id, status, inp.reason)
            if changed:
                change.emit(kinds.CHAT_STATUS, {"status": status.value, "reason": inp.reason})
        if changed and status is ChatStatus.PAUSED and inp.reason.startswith(DAEMON_OFFLINE_REASON):
            # The daemon may be back already (its online event came before this commit).
            await self.bus.publish_json(subjects.DAEMON_AWAITED, {"chat_id": inp.chat_id})

    async def _cancel_gates(self, chat_id: str) -> None:
        """Approvals and questions still pending when a turn ends are cancelled."""
        async with self.log.change(chat_id) as change:
            for tool_call_id in await approvals_db.cancel_pending(change.tx, chat_id):
                change.emit(
                    kinds.APPROVAL_RESOLVED,
                    {"tool_call_id": tool_call_id, "status": "cancelled", "scope": "", "message": ""},
                )
            for tool_call_id in await questions_db.cancel_pending(change.tx, chat_id):
                change.emit(
                    kinds.QUESTION_ANSWERED, {"tool_call_id": tool_call_id, "answers": [], "status": "cancelled"}
                )


def _state_of(result: ToolResult) -> ToolState:
    return {
        ToolStatus.OK: ToolState.COMPLETED,
        ToolStatus.ERROR: ToolState.FAILED,
        ToolStatus.INTERRUPTED: ToolState.INTERRUPTED,
    }.get(result.status, ToolState.FAILED)


def _call_key(run: ToolRun) -> dict[str, str]:
    """A gate update of a call on another thread (a sub-agent's, a child run's) names its key too:
    the approvals and questions lists give the key, and short ids repeat across threads."""
    return {"call_key": run.key} if run.key != run.tool_call_id else {}


def _detach_reason(details: activity.ActivityCancellationDetails | None) -> str:
    if details is None:
        return "the activity was cancelled"
    if details.worker_shutdown:
        return "the worker is shutting down"
    if details.timed_out:
        return "the activity timed out"
    if details.not_found:
        return "the server no longer knows this attempt"
    if details.paused or details.reset:
        return "the activity was paused or reset"
    return "the activity was cancelled"


async def _approved(change: Change, chat_id: str, target: ToolTarget, answer: ApprovalAnswer) -> None:
    """Record the user's approval (and an always-allow policy) in the transaction that starts the call."""
    run = target.run
    approval = await approvals_db.for_call(change.tx, chat_id, run.key)
    if approval is None:
        return  # allowed by a policy or by the chat's mode: nothing was asked
    if answer.scope == "chat":
        await approvals_db.allow(change.tx, project_id=target.project_id, chat_id=chat_id, tool_name=run.tool_name)
    elif answer.scope == "project":
        await approvals_db.allow(change.tx, project_id=target.project_id, chat_id=None, tool_name=run.tool_name)
    elif answer.scope == "prefix":
        await approvals_db.allow(
            change.tx,
            project_id=target.project_id,
            chat_id=None,
            tool_name=run.tool_name,
            command_prefix=answer.command_prefix,
        )
    if await approvals_db.resolve(change.tx, chat_id, run.key, status="approved", scope=answer.scope):
        change.emit(
            kinds.APPROVAL_RESOLVED,
            {
                "approval_id": approval.id,
                "tool_call_id": run.tool_call_id,
                **_call_key(run),
                "status": "approved",
                "scope": answer.scope,
                "message": "",
            },
        )
    await _running_again(change, chat_id)


async def _running_again(change: Change, chat_id: str) -> None:
    """The chat waited for the user; it runs again."""
    if await chats_db.set_status_if(change.tx, chat_id, ChatStatus.WAITING, ChatStatus.RUNNING):
        change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.RUNNING.value, "reason": ""})
