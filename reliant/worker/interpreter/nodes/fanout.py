"""A `workflow` node with `count` or `worktree`: a set of children run side by side, each an agent of
the chat (recorded like a spawned one, so the agent tree shows it) on a new thread (or a fork of the
caller's), each in its own git worktree when asked. The node waits for all of them and its outputs
are `runs` — for each child, how it ended, its outputs, its worktree and the worktree's diff —,
`done` and `report` (the runs in words, for a judge). A child that fails is an entry with its status
and error, not a failure of the node.

The user's cancel, pause, resume and mode switch reach every child while they run. The agents are
keyed by the node's step key, so a retried step or a replayed workflow starts no second set.
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
    from reliant.worker.activities.types import BeginRunsInput, ReportRunsInput
    from reliant.worker.activities.worktree_runs import WorktreeRunActivities
    from reliant.worker.interpreter.cursor import ChildRunResult
    from reliant.worker.interpreter.host import Failed, Stop
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.policies import STATUS_RETRY

STEP_TIMEOUT = timedelta(minutes=5)  # N worktrees are made within it

Handle = workflow.ChildWorkflowHandle[Any, ChildRunResult]


async def fan_out(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, WorkflowNode)
    count = 1 if node.count is None else ctx.run.integer(ctx.task, "count")
    if count is None or count < 1:
        raise Failed(f"count must be at least 1, not {count}")
    inputs = ctx.run.child_inputs(ctx.task)
    models = ctx.run.child_models(ctx.task)
    await ctx.checkpoint()
    task = inputs.get("task")
    thread_mode = node.thread.value if node.thread is not None else "new"
    cursor = ctx.cursor  # attempt: sets of runs that could not start (their agents ended failed)
    key = ctx.key() if not cursor.attempt else f"{ctx.key()}~{cursor.attempt}"
    begun = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            WorktreeRunActivities.begin_runs,
            BeginRunsInput(
                ctx.chat_id,
                key,
                count,
                node.workflow,
                node.id,
                task if isinstance(task, str) else node.description or f"workflow {node.workflow}",
                thread_mode,
                node.worktree,
                models,
                ctx.ids.scope,
                notes=ctx.notes(),
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STATUS_RETRY,
        )
    )
    if begun.problem:
        cursor.attempt += 1  # resumed, the node records a new set of runs
        raise Failed(begun.problem)
    handles: list[Handle] = []
    for agent in begun.agents:
        handles.append(
            await ctx.start_child(
                agent.agent_id,
                node.workflow,
                inputs=inputs,
                thread_mode=thread_mode,
                scope=agent.scope,
                close=ParentClosePolicy.REQUEST_CANCEL,
            )
        )
    try:
        results = await _follow(ctx, handles)
    except asyncio.CancelledError:  # the run went on without this node: the children stop too
        await asyncio.gather(*(h.signal(SIGNAL_CANCEL, ctx.chat_id) for h in handles if not h.done()))
        raise
    if ctx.control.cancel_requested:
        raise Stop
    report = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            WorktreeRunActivities.report_runs,
            ReportRunsInput(
                ctx.chat_id,
                [a.agent_id for a in begun.agents],
                [{"status": r.status, "error": r.error, "outputs": r.outputs} for r in results],
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STATUS_RETRY,
        )
    )
    runs = [
        {**run, "status": result.status, "error": result.error, "outputs": result.outputs}
        for run, result in zip(report.runs, results, strict=True)
    ]
    return {"runs": runs, "done": sum(1 for r in results if r.status == "done"), "report": report.report}


def _moved(handles: list[Handle], now: Any, seen: Any) -> bool:
    return all(h.done() for h in handles) or bool(now() != seen)


async def _follow(ctx: NodeContext, handles: list[Handle]) -> list[ChildRunResult]:
    """Wait for every child, passing the user's control on to those still running as it comes."""
    control = ctx.control

    def now() -> tuple[bool, bool, int, str]:
        return control.cancel_requested, control.paused, control.resumes, control.mode

    async def tell(signal: str, arg: str) -> None:
        await asyncio.gather(*(h.signal(signal, arg) for h in handles if not h.done()))

    seen = now()
    while True:
        await workflow.wait_condition(functools.partial(_moved, handles, now, seen))
        if all(h.done() for h in handles):
            return [h.result() for h in handles]
        cancelled, paused, resumes, mode = now()
        if cancelled and not seen[0]:
            await tell(SIGNAL_CANCEL, ctx.chat_id)
        if paused and not seen[1]:
            await tell(SIGNAL_PAUSE, ctx.chat_id)
        if resumes != seen[2]:
            await tell(SIGNAL_RESUME, ctx.chat_id)
        if mode != seen[3]:
            await tell(SIGNAL_SET_MODE, mode)
        seen = (cancelled, paused, resumes, mode)
