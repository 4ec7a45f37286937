"""execute_tool: run one tool call on the chat's daemon, at most once.

The call is recorded `executing` before the daemon is asked. A retried attempt that finds it so
asks the daemon to attach to the running call (or return what it remembers); if the daemon has no
record (it restarted), a read-only tool is run again and any other is reported as interrupted:
never silently run twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from reliant.bus import Bus
from reliant.clients.daemons import call_tool, control
from reliant.clients.update_log import Change, UpdateLog
from reliant.db import Database
from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import questions as questions_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import worktrees as worktrees_db
from reliant.db.tool_runs import ToolTarget
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import FINAL_TOOL_STATES, ChatStatus, ToolRun, ToolState
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus
from reliant.domain.workflows import ApprovalAnswer
from reliant.errors import DaemonUnavailableError
from reliant.wire.payloads import tool_run_payload
from reliant.worker import ask_user
from reliant.worker.activities.llm import chat_gone, settle_tool_results
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    DAEMON_OFFLINE,
    ExecuteToolInput,
    ExecuteToolResult,
    FinishTurnInput,
)

logger = logging.getLogger(__name__)

FINAL = FINAL_TOOL_STATES
# The daemon enforces each tool's own timeout; this only bounds a lost reply.
REQUEST_TIMEOUT = 660.0
HEARTBEAT_EVERY = 0.5


class ToolActivities:
    def __init__(self, db: Database, bus: Bus, log: UpdateLog) -> None:
        self.db = db
        self.bus = bus
        self.log = log

    @activity.defn(name="execute_tool")
    async def execute_tool(self, inp: ExecuteToolInput) -> ExecuteToolResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        target = await tool_runs_db.get_with_target(self.db, inp.chat_id, inp.tool_call_id)
        if target is None:
            raise chat_gone(inp.chat_id)
        run, daemon_id, workspace = target.run, target.daemon_id, target.workspace
        if inp.workspace:  # a sub-agent in its own worktree
            workspace = inp.workspace
        elif (worktree := await worktrees_db.active_for_chat(self.db, inp.chat_id)) is not None:
            workspace = worktree.path  # the chat works in its own git worktree
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
        if run.state is ToolState.EXECUTING:
            # An earlier attempt asked the daemon and we never heard back: find out what happened.
            known = await self._ask(daemon_id, dataclasses.replace(call, resume_only=True))
            if known.status is not ToolStatus.UNKNOWN:
                return await self._record(inp.chat_id, run, known, replayed=True)
            if not run.read_only:
                interrupted = ToolResult(
                    run.key,
                    ToolStatus.INTERRUPTED,
                    error="the daemon restarted while this tool was running; its outcome is unknown, "
                    "so it was not run again",
                )
                return await self._record(inp.chat_id, run, interrupted)
        async with self.log.change(inp.chat_id) as change:
            if inp.approval is not None:
                await _approved(change, inp.chat_id, target, inp.approval)
            run = await tool_runs_db.begin(change.tx, inp.chat_id, inp.tool_call_id)
            started = {
                "tool_call_id": run.tool_call_id,
                "tool_name": run.tool_name,
                "input": run.input,
                "turn": run.turn,
            }
            if run.key != run.tool_call_id:
                started |= {"call_key": run.key, "thread_id": run.thread_id}
            change.emit(kinds.TOOL_STARTED, started)
        try:
            result = await self._ask(daemon_id, call)
        except asyncio.CancelledError:
            await self._cancel_on_daemon(daemon_id, inp.chat_id, run)
            raise
        return await self._record(inp.chat_id, run, result)

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
                            "status": inp.denial_status,
                            "scope": "",
                            "message": inp.denial,
                        },
                    )
            finished = await tool_runs_db.finish(
                change.tx, inp.chat_id, run.key, state=ToolState.DENIED, error=inp.denial
            )
            change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
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
            change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
            await _running_again(change, inp.chat_id)
        return ExecuteToolResult(run.key, ToolState.COMPLETED.value)

    async def _ask(self, daemon_id: str, call: ToolCall) -> ToolResult:
        """Send the call to the daemon, heartbeating while it runs."""
        request = asyncio.create_task(call_tool(self.bus, daemon_id, call, timeout=REQUEST_TIMEOUT))
        try:
            while not request.done():
                await asyncio.wait({request}, timeout=HEARTBEAT_EVERY)
                if not request.done() and not activity.info().is_local:
                    activity.heartbeat()  # only long calls heartbeat; quick ones skip the round trip
            return request.result().result
        except DaemonUnavailableError as exc:
            raise ApplicationError(str(exc), type=DAEMON_OFFLINE) from exc
        finally:
            if not request.done():
                request.cancel()

    async def _cancel_on_daemon(self, daemon_id: str, chat_id: str, run: ToolRun) -> None:
        try:
            await control(
                self.bus,
                daemon_id,
                "tool.cancel",
                {"chat_id": chat_id, "tool_call_id": run.key},
                timeout=5,
            )
        except DaemonUnavailableError as exc:
            logger.warning("could not cancel tool call %s on daemon %s: %s", run.key, daemon_id, exc)
        interrupted = ToolResult(run.key, ToolStatus.INTERRUPTED, error="cancelled by the user")
        await asyncio.shield(self._record(chat_id, run, interrupted))

    async def _record(
        self, chat_id: str, run: ToolRun, result: ToolResult, *, replayed: bool = False
    ) -> ExecuteToolResult:
        state = {
            ToolStatus.OK: ToolState.COMPLETED,
            ToolStatus.ERROR: ToolState.FAILED,
            ToolStatus.INTERRUPTED: ToolState.INTERRUPTED,
        }.get(result.status, ToolState.FAILED)
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
            change.emit(kinds.TOOL_FINISHED, tool_run_payload(finished))
        return ExecuteToolResult(run.key, state.value, replayed=replayed)

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
            if await chats_db.set_status(change.tx, inp.chat_id, status, inp.reason):
                change.emit(kinds.CHAT_STATUS, {"status": status.value, "reason": inp.reason})

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
