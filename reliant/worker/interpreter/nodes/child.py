"""A `workflow` node: another definition, run as a child workflow of this one (the same interpreter)
on the caller's thread (`inherit`), a fork of it, or a new one. Its outputs are the node's.

The user's cancel, pause, resume and mode switch reach the child (forwarded as signals while it
runs); its gates are answered in the child itself (their rows name its workflow). A child run that
fails pauses the caller with the reason; resumed, the node starts a new child run.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from reliant.domain.workflows import (
        SIGNAL_CANCEL,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_SET_MODE,
    )
    from reliant.engine.definition import WorkflowNode
    from reliant.worker.activities.runs import RunActivities
    from reliant.worker.activities.types import NotesInput
    from reliant.worker.interpreter.cursor import ChildRunResult
    from reliant.worker.interpreter.host import Failed, Stop
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.interpreter.nodes.fanout import fan_out
    from reliant.worker.policies import STATUS_RETRY


async def child(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, WorkflowNode)
    if node.fans_out:  # a set of children side by side, each an agent (in a worktree when asked)
        return await fan_out(ctx)
    inputs = ctx.run.child_inputs(ctx.task)
    await ctx.checkpoint()
    cursor = ctx.cursor
    if not cursor.child_run_id:
        cursor.child_run_id = str(workflow.uuid4())
        cursor.attempt += 1
    notes = ctx.notes()
    if notes:  # the caller shows its node running before it waits for the child
        await ctx.step(
            functools.partial(
                workflow.start_local_activity_method,
                RunActivities.emit_notes,
                NotesInput(ctx.chat_id, notes),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=STATUS_RETRY,
            )
        )
    handle = await ctx.start_child(
        cursor.child_run_id,
        node.workflow,
        inputs=inputs,
        thread_mode=node.thread.value if node.thread is not None else "",
        scope=ctx.ids.scope,  # it works for the same agent
        close=ParentClosePolicy.REQUEST_CANCEL,
    )
    try:
        result = await _follow(ctx, handle)
    except asyncio.CancelledError:  # the run went on without this node: the child stops too
        await handle.signal(SIGNAL_CANCEL, ctx.chat_id)
        raise
    if result.status == "done":
        return result.outputs
    if result.status == "cancelled":
        raise Stop
    cursor.child_run_id = ""  # resumed, the node starts the child again, as a new run
    raise Failed(f"workflow {node.workflow} failed: {result.error}")


def _moved(handle: workflow.ChildWorkflowHandle[Any, ChildRunResult], now: Any, seen: Any) -> bool:
    return handle.done() or bool(now() != seen)


async def _follow(ctx: NodeContext, handle: workflow.ChildWorkflowHandle[Any, ChildRunResult]) -> ChildRunResult:
    """Wait for the child, passing the user's control on to it as it comes."""
    control = ctx.control

    def now() -> tuple[bool, bool, int, str]:
        return control.cancel_requested, control.paused, control.resumes, control.mode

    seen = now()
    while True:
        await workflow.wait_condition(functools.partial(_moved, handle, now, seen))
        if handle.done():
            return handle.result()
        cancelled, paused, resumes, mode = now()
        if cancelled and not seen[0]:
            await handle.signal(SIGNAL_CANCEL, ctx.chat_id)
        if paused and not seen[1]:
            await handle.signal(SIGNAL_PAUSE, ctx.chat_id)
        if resumes != seen[2]:
            await handle.signal(SIGNAL_RESUME, ctx.chat_id)
        if mode != seen[3]:
            await handle.signal(SIGNAL_SET_MODE, mode)
        seen = (cancelled, paused, resumes, mode)
