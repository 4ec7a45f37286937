"""A run's beginning and end, shared by the chat's workflow and a child run's: open it (the
definition read and pinned by an activity, never by workflow code), start the run-state machine, and
record how it ended."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.engine import ExpressionError, Run
    from reliant.worker.activities.runs import RunActivities
    from reliant.worker.activities.types import FinishRunInput, FinishRunResult, OpenRunInput, OpenRunResult
    from reliant.worker.interpreter.cursor import RunCursor
    from reliant.worker.interpreter.host import Host, start_bookkeeping
    from reliant.worker.policies import STATUS_RETRY

OPEN_TIMEOUT = timedelta(seconds=60)


async def open_run(host: Host, inp: OpenRunInput) -> OpenRunResult:
    """Read, pin and record the run's definition (the run pauses while the daemon is offline)."""
    return await host.step(
        functools.partial(
            start_bookkeeping,
            RunActivities.open_run,
            inp,
            start_to_close_timeout=OPEN_TIMEOUT,
            retry_policy=STATUS_RETRY,
        ),
        label=f"starting workflow {inp.workflow}" if inp.workflow else "starting the chat's workflow",
    )


async def start_run(host: Host, opened: OpenRunResult, run_id: str) -> RunCursor:
    """The run-state machine, started with the pinned definition: a condition or loop bound at the
    entry that does not evaluate pauses the run (and is tried again once resumed)."""
    assert opened.pinned is not None
    definition = opened.pinned.load()
    chat = opened.chat
    chat.mode = host.control.mode
    while True:
        try:
            run = Run.start(definition, opened.inputs, chat)
            break
        except ExpressionError as exc:
            await host.paused_by_failure(f"workflow {opened.workflow}: {exc}")
    return RunCursor(
        run_id=run_id,
        pinned=opened.pinned,
        state=run.state,
        workflow=opened.workflow,
        source=opened.source,
        thread_id=opened.thread_id,
        fresh_tokens=opened.fresh_tokens,
    )


@dataclass
class Ended:
    status: str  # done | failed | cancelled
    outputs: dict[str, Any]
    error: str = ""


def threads_of(cursor: RunCursor | None) -> list[str]:
    """The threads a run worked on (their last answers' tool calls are settled when it ends)."""
    if cursor is None:
        return []
    found = [cursor.thread_id, *cursor.threads.values()]
    found += [t.thread_id for t in cursor.tasks.values() if t.thread_id]
    found += [a.thread_id for a in cursor.answers.values()]
    return sorted({t for t in found if t})


async def finish_run(
    host: Host,
    run_id: str,
    cursor: RunCursor | None,
    ended: Ended,
    *,
    chat_status: str = "",
    reason: str = "",
    workflow_id: str = "",
    agent_id: str = "",
) -> bool:
    """Record the outcome; cancelled: drop what was streaming, cancel the gates, settle the tools.
    True when the run is a sub-agent's whose spawner must be told it ended (see Agents.park)."""
    cancelled = ended.status == "cancelled"
    finished = FinishRunInput(
        chat_id=host.chat_id,
        run_id=run_id,
        status=ended.status,
        outputs=ended.outputs,
        error=ended.error,
        notes=host.take_notes(),
        chat_status=chat_status,
        reason=reason,
        aborted_steps=list(host.aborted_steps),
        interrupt_reason=reason if cancelled else "",
        workflow_id=workflow_id,
        threads=threads_of(cursor),
        agent_id=agent_id,
    )

    async def finish() -> FinishRunResult | None:
        return await start_bookkeeping(
            RunActivities.finish_run, finished, start_to_close_timeout=timedelta(seconds=60), retry_policy=STATUS_RETRY
        )

    result = await host.settle(finish)
    host.aborted_steps.clear()
    return result is not None and result.report_end
