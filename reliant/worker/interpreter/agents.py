"""A run's sub-agents: the agent tools run by the workflow itself (the activities in
activities/agents.py record them). spawn_agent starts a child workflow (WorkflowRun: the same
interpreter) on its own thread; wait=true waits for it, and several spawns in one answer run side
by side (they are one batch of read-only calls). wait_agents waits for agents started with
wait=false; cancel_agent stops one.

Agents outlive a continue-as-new of the run that spawned them (ParentClosePolicy.ABANDON): their
ids are carried in the run's cursor. The run that started an agent learns of its end from its
child workflow's handle; a run that continues as new first asks the agents still running to tell
its next run when they end (SIGNAL_AGENT_FINISHED), in the transaction that reads which have ended.
The user's cancel, pause, resume and mode switch are passed on to every agent still running, and
each passes them on to its own. A run that ends stops the agents it did not wait for, and a
spawn stopped before its agent's workflow started settles the agent recorded for it (abandon_spawn).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from reliant.domain.agents import CANCEL_AGENT, SPAWN_AGENT, WAIT_AGENTS
    from reliant.domain.workflows import (
        SIGNAL_CANCEL,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_SET_MODE,
        ToolCallRef,
        agent_workflow_id,
        run_workflow_id,
    )
    from reliant.worker.activities.agents import AgentActivities
    from reliant.worker.activities.types import (
        AbandonSpawnInput,
        AgentStatusesInput,
        BeginAgentToolInput,
        BeginAgentToolResult,
        ExecuteToolResult,
        FinishAgentToolInput,
    )
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import ChildRunResult
    from reliant.worker.interpreter.host import Stop, start_bookkeeping
    from reliant.worker.policies import STATUS_RETRY

if TYPE_CHECKING:
    from reliant.worker.interpreter.interpreter import Interpreter, NodeContext

STEP_TIMEOUT = timedelta(minutes=2)  # a worktree is made within it
# Runs that record this marker settle a spawn_agent call stopped before its agent started (older
# histories went on without that activity).
ABANDON_SPAWN_PATCH = "abandon-unstarted-spawn"
# Runs that record this marker ask their running agents to report their ends before they continue as
# new (their agents report only then); older runs' agents always reported.
REPORT_ENDS_PATCH = "agents-report-ends-on-park"
STOPPED = "cancelled by the user"


class Agents:
    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter
        self.handles: dict[str, workflow.ChildWorkflowHandle[Any, ChildRunResult]] = {}
        self._follower: asyncio.Task[None] | None = None

    @property
    def control(self) -> Control:
        return self.interpreter.control

    @property
    def live(self) -> list[str]:
        """Agents this run spawned that may still run (carried across continue-as-new)."""
        return self.interpreter.cursor.agents

    def my_workflow_id(self) -> str:
        ids = self.interpreter.ids
        return ids.workflow_id or agent_workflow_id(ids.chat_id)

    def finished(self, agent_id: str) -> bool:
        handle = self.handles.get(agent_id)
        return agent_id in self.control.agents_finished or (handle is not None and handle.done())

    async def start(self, ctx: NodeContext, begun: BeginAgentToolResult) -> None:
        assert begun.scope is not None
        handle = await ctx.start_child(
            begun.agent_id,
            begun.workflow,
            inputs=begun.inputs,
            thread_mode=begun.thread_mode,
            scope=dataclasses.replace(begun.scope, parent_workflow_id=self.my_workflow_id(), report_end=False),
            close=ParentClosePolicy.ABANDON,
            task=begun.task,
        )
        self.handles[begun.agent_id] = handle
        if begun.agent_id not in self.live:
            self.live.append(begun.agent_id)
        self.follow()

    async def wait(self, ctx: NodeContext, agent_ids: list[str], *, any_: bool = False, timeout: float = 0) -> bool:
        """Wait until all (or any) of the agents ended: False when `timeout` (seconds, 0 none)
        came first; Stop when the run is cancelled meanwhile (the agents are told by the follower)."""
        unknown = [i for i in agent_ids if i not in self.handles and i not in self.control.agents_finished]
        if unknown:  # spawned before a continue-as-new: ask their records
            statuses = await ctx.step(
                functools.partial(
                    workflow.start_local_activity_method,
                    AgentActivities.agent_statuses,
                    AgentStatusesInput(ctx.chat_id, unknown),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STATUS_RETRY,
                )
            )
            self.control.agents_finished.update(i for i, s in statuses.statuses.items() if s != "running")

        def met() -> bool:
            ended = [i for i in agent_ids if self.finished(i)]
            return bool(ended) if any_ else len(ended) == len(agent_ids)

        control = self.control
        try:
            await workflow.wait_condition(
                lambda: met() or control.cancel_requested,
                timeout=timedelta(seconds=timeout) if timeout > 0 else None,
            )
        except TimeoutError:
            return False
        if not met():
            raise Stop
        return True

    def follow(self) -> None:
        """Pass the user's control on to the running agents (once some run)."""
        if self._follower is None and self.live:
            self._follower = asyncio.create_task(self._follow(), name="agents")

    async def _follow(self) -> None:
        control = self.control

        def now() -> tuple[bool, bool, int, str]:
            return control.cancel_requested, control.paused, control.resumes, control.mode

        seen = now()
        while True:
            await workflow.wait_condition(functools.partial(_moved, now, seen))
            cancelled, paused, resumes, mode = now()
            if cancelled and not seen[0]:
                await self._tell_all(SIGNAL_CANCEL)
            if paused and not seen[1]:
                await self._tell_all(SIGNAL_PAUSE)
            if resumes != seen[2]:
                await self._tell_all(SIGNAL_RESUME)
            if mode != seen[3]:
                await self._tell_all(SIGNAL_SET_MODE, mode)
            seen = (cancelled, paused, resumes, mode)

    async def _tell_all(self, signal: str, arg: str = "") -> None:
        running = [i for i in self.live if not self.finished(i)]
        await asyncio.gather(*(self.tell(i, signal, arg) for i in running))

    async def tell(self, agent_id: str, signal: str, arg: str = "") -> None:
        """Signal one agent (its chat id seals the control signals); one that has ended is left be."""
        chat_id = self.interpreter.ids.chat_id
        handle = workflow.get_external_workflow_handle(run_workflow_id(chat_id, agent_id))
        try:
            await handle.signal(signal, arg or chat_id)
        except FailureError:
            pass  # it ended meanwhile

    async def release(self) -> None:
        """The run ends: the agents it did not wait for are stopped."""
        if self._follower is not None:
            self._follower.cancel()
            self._follower = None
        running = [i for i in self.live if not self.finished(i)]
        await asyncio.gather(*(self.tell(i, SIGNAL_CANCEL) for i in running))
        self.live.clear()

    async def park(self) -> None:
        """The run continues as new: the agents go on (their ids are in the cursor). Its next run
        holds none of their handles, so those still running are asked to report their ends, and
        those that ended are dropped."""
        if self._follower is not None:
            self._follower.cancel()
            self._follower = None
        running = [i for i in self.live if not self.finished(i)]
        if running and workflow.patched(REPORT_ENDS_PATCH):
            ids = self.interpreter.ids
            statuses = await self.interpreter.host.settle(
                functools.partial(
                    workflow.execute_local_activity_method,
                    AgentActivities.agent_statuses,
                    AgentStatusesInput(ids.chat_id, running, report_ends=True),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=STATUS_RETRY,
                )
            )
            self.control.agents_finished.update(i for i, s in statuses.statuses.items() if s != "running")
        self.live[:] = [i for i in self.live if not self.finished(i)]


def _moved(now: Any, seen: Any) -> bool:
    return bool(now() != seen)


async def agent_tool(ctx: NodeContext, call: ToolCallRef) -> ExecuteToolResult:
    """Run one agent tool call to its recorded result."""
    key = call.tool_call_id
    try:
        begun = await ctx.step(
            functools.partial(
                start_bookkeeping,
                AgentActivities.begin_agent_tool,
                BeginAgentToolInput(ctx.chat_id, key, ctx.ids.scope, ctx.run_id, notes=ctx.notes(), mode=ctx.mode()),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STATUS_RETRY,
            )
        )
    except Stop:
        # Stopped while the agent was being recorded (its worktree made): it never starts.
        if call.tool_name == SPAWN_AGENT and workflow.patched(ABANDON_SPAWN_PATCH):
            await ctx.host.settle(
                functools.partial(
                    workflow.execute_activity_method,
                    AgentActivities.abandon_spawn,
                    AbandonSpawnInput(ctx.chat_id, key, STOPPED),
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=STATUS_RETRY,
                )
            )
        raise
    if begun.state:
        return ExecuteToolResult(key, begun.state)
    agents = ctx.interpreter.agents
    finish = FinishAgentToolInput(ctx.chat_id, key, ids=list(begun.ids))
    if begun.tool_name == SPAWN_AGENT:
        await agents.start(ctx, begun)
        finish.ids = [begun.agent_id]
        if begun.wait:
            await agents.wait(ctx, [begun.agent_id])
        else:
            finish.spawned = True
    elif begun.tool_name == WAIT_AGENTS:
        finish.timed_out = not await agents.wait(ctx, begun.ids, any_=begun.any, timeout=begun.timeout_seconds)
    elif begun.tool_name == CANCEL_AGENT:
        await agents.tell(begun.ids[0], SIGNAL_CANCEL)
        await agents.wait(ctx, begun.ids)
        finish.cancelled = True
    done = await ctx.step(
        functools.partial(
            start_bookkeeping,
            AgentActivities.finish_agent_tool,
            finish,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STATUS_RETRY,
        )
    )
    return ExecuteToolResult(key, done.state)
