"""Running a model's tool calls through the gates: `execute_tools` nodes and the `agent` node's turns.

In order; consecutive read-only calls run together. The mode decides the gate: auto runs every call,
plan refuses the ones that change things, manual asks the user (unless an always-allow policy
matches) and waits, durably, for the answer; ask_user waits for the user's answers. Each call runs
at most once (tools.py activities): a retried step reuses its recorded result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.domain.agents import AGENT_TOOLS
    from reliant.domain.chat import ToolState
    from reliant.domain.workflows import ASK_USER_TOOL, ApprovalAnswer, ToolCallRef
    from reliant.worker.activities.gates import GateActivities
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import (
        ExecuteToolInput,
        ExecuteToolResult,
        RequestApprovalInput,
        RequestApprovalResult,
        RequestQuestionInput,
        RequestQuestionResult,
    )
    from reliant.worker.interpreter.agents import agent_tool
    from reliant.worker.interpreter.host import Failed, Stop
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.policies import HEARTBEAT_TIMEOUT, STATUS_RETRY, TOOL_RETRY

PLAN_DENIAL = (
    "Not run: the chat is in plan mode, where only read-only tools run. Finish the plan; the user can "
    "switch to auto or manual mode to carry it out."
)


OUTCOMES = ("executed", "denied", "interrupted")


def _outcome(state: str) -> str:
    if state == ToolState.DENIED.value:
        return "denied"
    if state == ToolState.INTERRUPTED.value:
        return "interrupted"
    return "executed"


async def execute_tools(ctx: NodeContext) -> dict[str, Any]:
    """The tool calls of the `call_llm` node `source` (of this iteration, when in a loop)."""
    source = getattr(ctx.task.node, "source", "")
    site = ctx.run.layout.by_id.get(source)
    answer = ctx.answers.get(site.path) if site is not None else None
    if answer is None:
        raise Failed(f"{source} has no answer whose tool calls could run (it has not run)")
    if not ctx.cursor.calls:  # the first time here; after continue-as-new the cursor has the rest
        ctx.cursor.calls = 1
        ctx.cursor.pending = list(answer.tool_calls)
    await run_tools(ctx, answer.turn)
    return {name: ctx.cursor.outcomes.get(name, 0) for name in OUTCOMES}


async def run_tools(ctx: NodeContext, turn: int) -> None:
    """Run `ctx.cursor.pending` in order. The cursor follows (what is left, how the others ended),
    so a node that parks picks up after the last batch that ran."""
    cursor = ctx.cursor
    while cursor.pending:
        await ctx.checkpoint()
        batch = _next_batch(cursor.pending)
        results = await asyncio.gather(*(_tool(ctx, turn, call) for call in batch), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        settled(ctx, [result.state for result in results if isinstance(result, ExecuteToolResult)])
        cursor.pending = cursor.pending[len(batch) :]


def settled(ctx: NodeContext, states: Iterable[str]) -> None:
    """Count calls that ended (by their tool states) in the node's outcomes."""
    outcomes = ctx.cursor.outcomes
    for state in states:
        outcome = _outcome(state)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1


def _next_batch(pending: list[ToolCallRef]) -> list[ToolCallRef]:
    """The leading run of read-only calls (run together), or the first mutating call alone."""
    batch: list[ToolCallRef] = []
    for call in pending:
        if not call.read_only:
            break
        batch.append(call)
    return batch or pending[:1]


async def _tool(ctx: NodeContext, turn: int, call: ToolCallRef) -> ExecuteToolResult:
    if call.invalid:  # arguments that are not a JSON object: nothing to run or ask about
        inp = ExecuteToolInput(
            chat_id=ctx.chat_id, turn=turn, tool_call_id=call.tool_call_id, invalid=call.invalid, notes=ctx.notes()
        )
    elif call.tool_name in AGENT_TOOLS:  # run by the workflow itself: sub-agents are its children
        return await agent_tool(ctx, call)
    elif call.tool_name == ASK_USER_TOOL:
        inp = await _question(ctx, turn, call)
    else:
        inp = await _approval(ctx, turn, call)
    if call.read_only and call.tool_name != ASK_USER_TOOL:
        # Reads are quick and safe to repeat: a local activity saves a round trip through the
        # server's task queue (a repeat after a crash finds the recorded result anyway).
        start: Callable[[], workflow.ActivityHandle[ExecuteToolResult]] = functools.partial(
            workflow.start_local_activity_method,
            ToolActivities.execute_tool,
            inp,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=TOOL_RETRY,
        )
    else:
        start = functools.partial(
            workflow.start_activity_method,
            ToolActivities.execute_tool,
            inp,
            start_to_close_timeout=timedelta(minutes=15),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=TOOL_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
    return await ctx.step(start)


async def _approval(ctx: NodeContext, turn: int, call: ToolCallRef) -> ExecuteToolInput:
    """The gate of a tool call: auto runs it, plan refuses a mutating call, manual asks the user
    (unless an always-allow policy matches) and waits, durably, for the answer."""
    inp = ExecuteToolInput(
        chat_id=ctx.chat_id,
        turn=turn,
        tool_call_id=call.tool_call_id,
        notes=ctx.notes(),
        workspace=ctx.ids.scope.workspace,
    )
    mode = ctx.mode()
    if call.read_only or mode == "auto":
        return inp
    if mode == "plan":
        return dataclasses.replace(inp, denial=PLAN_DENIAL)
    control, key = ctx.control, call.tool_call_id
    timeout = ctx.ids.approval_timeout
    # Waiting starts before the request is recorded: an answer may arrive as soon as it is visible.
    control.approvals[key] = ()
    try:
        asked = await ctx.step(
            functools.partial(
                workflow.start_activity_method,
                GateActivities.request_approval,
                RequestApprovalInput(ctx.chat_id, turn, call.tool_call_id, workflow_id=ctx.ids.workflow_id),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STATUS_RETRY,
            )
        )
        assert isinstance(asked, RequestApprovalResult)
        if asked.allowed:
            control.answers.pop(key, None)
            return inp
        await workflow.wait_condition(
            lambda: key in control.answers or control.cancel_requested or ctx.mode() == "auto",
            timeout=timedelta(seconds=timeout) if timeout > 0 else None,
        )
    except TimeoutError:
        return dataclasses.replace(
            inp,
            denial=f"No answer to the approval request within {timeout:.0f}s, so it was denied.",
            denial_status="expired",
        )
    finally:
        control.approvals.pop(key, None)
    if key in control.answers:
        answer = control.answers.pop(key)
        if answer.decision == "deny":
            denial = "The user denied this tool call." + (
                f" Their message: {answer.message}" if answer.message.strip() else ""
            )
            return dataclasses.replace(inp, approval=answer, denial=denial)
        return dataclasses.replace(inp, approval=answer)
    if control.cancel_requested:
        raise Stop
    return dataclasses.replace(inp, approval=ApprovalAnswer(key, "approve"))  # switched to auto


async def _question(ctx: NodeContext, turn: int, call: ToolCallRef) -> ExecuteToolInput:
    """ask_user: record the questions, wait durably for the answers; they are the result."""
    inp = ExecuteToolInput(chat_id=ctx.chat_id, turn=turn, tool_call_id=call.tool_call_id, notes=ctx.notes())
    control, key = ctx.control, call.tool_call_id
    control.questions.add(key)
    try:
        asked = await ctx.step(
            functools.partial(
                workflow.start_activity_method,
                GateActivities.request_question,
                RequestQuestionInput(ctx.chat_id, turn, call.tool_call_id, workflow_id=ctx.ids.workflow_id),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STATUS_RETRY,
            )
        )
        assert isinstance(asked, RequestQuestionResult)
        if asked.invalid:
            return dataclasses.replace(inp, invalid=asked.invalid)
        await workflow.wait_condition(lambda: key in control.question_answers or control.cancel_requested)
    finally:
        control.questions.discard(key)
    if key not in control.question_answers:
        raise Stop
    return dataclasses.replace(inp, answers=control.question_answers.pop(key))
