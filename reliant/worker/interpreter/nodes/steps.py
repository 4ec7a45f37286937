"""The nodes that take one step of their own: `run` (a shell command on the project's daemon, at
most once; a non-zero exit is an output; a project workflow's step runs only while the project is
trusted as it is then, else the run pauses until the user trusts it again and resumes), `approval`
(a question with choices, answered by the user, durably), `save_message` and `compact` (a thread's
messages)."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.domain.workflows import node_gate_key
    from reliant.engine.definition import ApprovalNode, CompactNode, SaveMessageNode
    from reliant.worker.activities.compaction import CompactionActivities
    from reliant.worker.activities.nodes import NodeActivities
    from reliant.worker.activities.types import (
        CompactInput,
        NodeAnswerInput,
        NodeApprovalInput,
        RunCommandInput,
        SaveMessageInput,
    )
    from reliant.worker.interpreter.host import Stop
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.policies import HEARTBEAT_TIMEOUT, LLM_RETRY, STATUS_RETRY, TOOL_RETRY
    from reliant.workflow_library import BUILTIN_SOURCE

COMMAND_TIMEOUT = timedelta(minutes=15)  # the daemon stops a command after at most 10 minutes


async def run(ctx: NodeContext) -> dict[str, Any]:
    command = ctx.run.text(ctx.task, "command") or ""
    timeout = ctx.run.integer(ctx.task, "timeout_seconds") or 0
    await ctx.checkpoint()
    result = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            NodeActivities.run_command,
            RunCommandInput(
                ctx.chat_id,
                ctx.key(),
                command,
                float(timeout),
                notes=ctx.notes(),
                workspace=ctx.ids.scope.workspace,
                project=_from_project(ctx.interpreter.cursor.source),
            ),
            start_to_close_timeout=COMMAND_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=TOOL_RETRY,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
    )
    return {"exit_code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}


def _from_project(source: str) -> bool:
    """Whether the run's definition is the project's own file (not a built-in, which no repository
    can change): its steps run only while the project is trusted as it is when they run."""
    return bool(source) and not source.startswith(BUILTIN_SOURCE + "/")


async def approval(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, ApprovalNode)
    question = ctx.run.text(ctx.task, "question") or ""
    key = node_gate_key(ctx.key())
    control = ctx.control
    await ctx.checkpoint()
    control.approvals[key] = node.choices  # waiting starts before the question is visible
    try:
        asked = await ctx.step(
            functools.partial(
                workflow.start_activity_method,
                NodeActivities.ask_node_approval,
                NodeApprovalInput(
                    ctx.chat_id,
                    key,
                    question,
                    list(node.choices),
                    ctx.run_id,
                    ctx.task.instance,
                    workflow_id=ctx.ids.workflow_id,
                    notes=ctx.notes(),
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STATUS_RETRY,
            )
        )
        if asked.choice:  # answered before this step was retried
            return {"choice": asked.choice, "note": asked.note}
        await workflow.wait_condition(lambda: key in control.answers or control.cancel_requested)
    finally:
        control.approvals.pop(key, None)
    if key not in control.answers:
        raise Stop
    answer = control.answers.pop(key)
    await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            NodeActivities.answer_node_approval,
            NodeAnswerInput(ctx.chat_id, key, answer.decision, answer.message),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STATUS_RETRY,
        )
    )
    return {"choice": answer.decision, "note": answer.message}


async def save_message(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, SaveMessageNode)
    content = ctx.run.text(ctx.task, "content") or ""
    thread_id = await ctx.thread(ctx.task.thread)
    await ctx.checkpoint()
    saved = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            NodeActivities.save_message,
            SaveMessageInput(ctx.chat_id, ctx.key(), thread_id, node.role, content, notes=ctx.notes()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STATUS_RETRY,
        )
    )
    return {"message_id": saved.message_id}


async def compact(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, CompactNode)
    threshold = ctx.run.integer(ctx.task, "threshold") or 0
    model = ctx.run.text(ctx.task, "model") or ""
    thread_id = await ctx.thread(ctx.task.thread)
    await ctx.checkpoint()
    fresh = ctx.interpreter.cursor.fresh_tokens
    if fresh >= 0 and thread_id == ctx.interpreter.cursor.thread_id:
        # A summary stands for answers, and this thread, made by the run's opening, has none yet:
        # there is nothing to compact (what compact_thread would find), so no activity asks.
        return {"compacted": False, "tokens_before": fresh, "tokens_after": fresh}
    result = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            CompactionActivities.compact_thread,
            CompactInput(ctx.chat_id, ctx.key(), thread_id, threshold, model, notes=ctx.notes()),
            start_to_close_timeout=timedelta(minutes=15),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=LLM_RETRY,
        )
    )
    return {"compacted": result.compacted, "tokens_before": result.tokens_before, "tokens_after": result.tokens_after}
