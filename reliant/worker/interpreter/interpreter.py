"""The interpreter: drives one run of a definition (reliant.engine.Run) inside a Temporal workflow.

Every task the run-state machine hands out runs as a coroutine of its own, so a parallel node's
branches really run together; each node kind is one executor (nodes/, one dispatch table). When a
task is done its outputs go back to the machine, which follows the edges and hands out what is
ready next. Node states go to clients as `node_state` updates, carried by the next activity the run
starts (a node costs no activity of its own for being shown).

    interpreter = Interpreter(host, cursor, ids)
    ending = await interpreter.drive()   # DONE, CANCELLED, DRAINED (continue as new) or GONE

Failures pause the run with the node and the reason and the node is tried again once resumed:
an activity's failure (host.step), a template or condition that does not evaluate, a child run that
failed. Continue-as-new happens at safe points: the run drains (each running node parks at its next
checkpoint, between two steps) and the cursor, carried to the new run, starts them again from where
they were, under the same keys.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from reliant.domain.workflows import RUN_WORKFLOW, run_workflow_id
    from reliant.engine import ExpressionError, OutputsMismatch, Run, Task
    from reliant.engine.definition import MAIN_THREAD, LoopNode
    from reliant.engine.run import thread_of
    from reliant.engine.state import NodeStatus
    from reliant.worker.activities.runs import RunActivities
    from reliant.worker.activities.types import OpenThreadInput, OpenThreadResult
    from reliant.worker.interpreter.agents import Agents
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import (
        AgentScope,
        ChildRunInput,
        ChildRunResult,
        NodeNote,
        RunCursor,
        TaskCursor,
    )
    from reliant.worker.interpreter.host import Failed, Gone, Host, Park, Stop
    from reliant.worker.policies import STATUS_RETRY

T = TypeVar("T")

MAX_NOTED_CHARS = 2_000  # a node output in a node_state update
MAX_OUTPUT_TEXT = 8_000  # a string in a node's outputs: the rest stays in Postgres, out of history
SHOWN = {
    NodeStatus.RUNNING: "running",
    NodeStatus.DONE: "done",
    NodeStatus.FAILED: "failed",
    NodeStatus.SKIPPED: "skipped",
    NodeStatus.CANCELLED: "cancelled",
}


class Ending(enum.Enum):
    DONE = "done"
    CANCELLED = "cancelled"
    DRAINED = "drained"  # every running node parked: continue as new with the cursor
    GONE = "gone"


@dataclass(frozen=True)
class RunIds:
    """Where the run lives: its chat, the workflow that runs it, and the task queue of its children."""

    chat_id: str
    workflow_id: str  # "" for the chat's own workflow (gates are answered there)
    task_queue: str
    approval_timeout: float = 0.0
    history_limit: int = 4_000
    scope: AgentScope = field(default_factory=AgentScope)  # the agent the run works for


Executor = Callable[["NodeContext"], Awaitable[dict[str, Any]]]


class Interpreter:
    def __init__(self, host: Host, cursor: RunCursor, ids: RunIds, executors: dict[str, Executor]) -> None:
        self.host = host
        self.cursor = cursor
        self.ids = ids
        self.executors = executors
        self.run = Run.resume(cursor.pinned.load(), cursor.state)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changed = False
        self._started = False
        # What _note last saw of each shown node (status, iteration, error): a linear run of n nodes
        # would otherwise work out every finished node's instance again at every step.
        self._looked: dict[str, tuple[NodeStatus, int, str]] = {}
        self.agents = Agents(self)
        host.take_notes = self.take_notes

    @property
    def control(self) -> Control:
        return self.host.control

    async def drive(self) -> Ending:
        """Run until the run ends or drains. May be called again (after a cancellation of the
        workflow interrupted the wait): it goes on with the nodes running."""
        if not self._started:
            self._started = True
            self._note()
            for task in self.run.running():  # continued as new: they start again, from their cursors
                self._start(task)
            self.agents.follow()
        while True:
            control = self.control
            if not control.cancel_requested and not control.draining and not self.host.gone:
                for task in self.run.take_ready():
                    self._start(task)
                self._note()
            if not self._tasks:
                if self.host.gone:
                    return Ending.GONE
                if control.cancel_requested:
                    self.run.abort("cancelled by the user")
                    self._note()
                    await self.agents.release()
                    return Ending.CANCELLED
                if self.run.done:
                    await self.agents.release()
                    return Ending.DONE
                if control.draining:
                    await self.agents.park()
                    return Ending.DRAINED
                raise RuntimeError(f"run {self.cursor.run_id} has nothing running and nothing ready")
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)

    def take_notes(self) -> list[NodeNote]:
        notes, self.cursor.notes = self.cursor.notes, []
        return notes

    # -- tasks ----------------------------------------------------------------------------------------

    def _start(self, task: Task) -> None:
        self._shown(task.path, NodeStatus.RUNNING, task.instance)
        self.cursor.tasks.setdefault(task.instance, TaskCursor())
        self._tasks[task.instance] = asyncio.create_task(self._perform(task), name=task.instance)

    async def _perform(self, task: Task) -> None:
        if task.node.kind != "compact":
            self.cursor.fresh_tokens = -1  # the main thread may hold answers from now on
        ctx = NodeContext(self, task)
        try:
            outputs = await self._outputs(ctx)
            await self._finish(task, outputs)
        except (Park, Stop, Gone):
            pass  # the drive loop reads why from the control and the host
        except asyncio.CancelledError:
            pass  # cancelled by the run itself: a join was met without it
        finally:
            try:
                current = asyncio.current_task()
            except RuntimeError:  # torn down with its evicted workflow: no loop runs it any more
                current = None
            if current is not None and self._tasks.get(task.instance) is current:
                del self._tasks[task.instance]
            self._changed = True

    async def _outputs(self, ctx: NodeContext) -> dict[str, Any]:
        execute = self.executors[ctx.task.node.kind]
        while True:
            try:
                return await execute(ctx)
            except (ExpressionError, Failed) as exc:
                await self.host.paused_by_failure(f"node {ctx.task.instance}: {exc}")

    async def _finish(self, task: Task, outputs: dict[str, Any]) -> None:
        outputs = {k: _small(v) for k, v in outputs.items()}
        while True:
            try:
                stale = self.run.finish(task, outputs)
                break
            except (ExpressionError, OutputsMismatch) as exc:
                await self.host.paused_by_failure(f"node {task.instance}: {exc}")
        self.cursor.tasks.pop(task.instance, None)
        # As it finished: the state may have moved on already (a loop's next iteration).
        self._shown(task.path, NodeStatus.DONE, task.instance, outputs=outputs)
        for other in stale:
            running = self._tasks.get(other.instance)
            if running is not None and not running.done():
                running.cancel()
        self._note()

    # -- node states for clients ----------------------------------------------------------------------

    def _note(self) -> None:
        """Queue a `node_state` for every node whose status (or iteration) changed since the last."""
        looked = self._looked
        for path, st in self.run.state.nodes.items():
            if st.status not in SHOWN:  # a ready node is shown running as soon as it is handed out
                looked.pop(path, None)
                continue
            seen = (st.status, st.iteration, st.error)
            if looked.get(path) == seen:
                continue  # as the last look found it: nothing to show (and no instance to work out)
            looked[path] = seen
            done = st.outputs if st.status is NodeStatus.DONE else None
            self._shown(path, st.status, self.run.instance(path), st.iteration, st.error, outputs=done)

    def _shown(
        self,
        path: str,
        status: NodeStatus,
        instance: str,
        iteration: int = 0,
        error: str = "",
        *,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        cursor = self.cursor
        node = self.run.layout.sites[path].node
        iteration = iteration if isinstance(node, LoopNode) else _iteration(instance)
        mark = f"{status.value} {instance} {iteration}"
        if cursor.shown.get(path) == mark:
            return
        cursor.shown[path] = mark
        cursor.version += 1
        cursor.notes.append(
            NodeNote(
                run_id=cursor.run_id,
                path=path,
                instance=instance,
                kind=node.kind,
                status=SHOWN[status],
                iteration=iteration,
                thread=thread_of(node),
                error=error,
                version=cursor.version,
                outputs=_noted(outputs or {}),
            )
        )


class NodeContext:
    """What an executor works with: its task, its progress (the cursor), the run's expressions and
    threads, and the host's steps and safe points."""

    def __init__(self, interpreter: Interpreter, task: Task) -> None:
        self.interpreter = interpreter
        self.task = task
        self.run = interpreter.run
        self.host = interpreter.host
        self.control = interpreter.control
        self.ids = interpreter.ids
        self.cursor = interpreter.cursor.tasks[task.instance]
        self.label = f"node {task.instance}"

    @property
    def chat_id(self) -> str:
        return self.ids.chat_id

    @property
    def run_id(self) -> str:
        return self.interpreter.cursor.run_id

    @property
    def answers(self) -> dict[str, Any]:
        """call_llm nodes' answers, by path (for execute_tools)."""
        return self.interpreter.cursor.answers

    def key(self, call: int = 0) -> str:
        """The step key of the task's `call`-th side effect: (run, thread, node, iterations, call)."""
        return f"{self.run_id}/{self.task.key(call)}"

    def mode(self) -> str:
        """The node's mode if it names one, else the chat's (which the user may switch meanwhile)."""
        if getattr(self.task.node, "mode", None) is not None:
            mode = self.run.text(self.task, "mode")
            if mode not in ("auto", "manual", "plan"):
                raise Failed(f"mode must be auto, manual or plan, not {mode!r}")
            return mode
        return self.control.mode

    def notes(self) -> list[NodeNote]:
        return self.interpreter.take_notes()

    async def checkpoint(self) -> None:
        await self.host.checkpoint()

    async def step(
        self,
        start: Callable[[], workflow.ActivityHandle[T]],
        *,
        model_step: str = "",
        raising: frozenset[str] = frozenset(),
    ) -> T:
        return await self.host.step(start, label=self.label, model_step=model_step, raising=raising)

    async def thread(self, name: str) -> str:
        """The id of the run's thread called `name` (made the first time a node asks for it)."""
        cursor = self.interpreter.cursor
        if name == MAIN_THREAD:
            return cursor.thread_id
        if name not in cursor.threads:
            key = f"{cursor.run_id}/{name}"
            opened = await self.step(lambda: _open_thread(OpenThreadInput(self.chat_id, key)))
            cursor.threads[name] = opened.thread_id
        return cursor.threads[name]

    async def start_child(
        self,
        run_id: str,
        workflow_name: str,
        *,
        inputs: dict[str, Any],
        thread_mode: str,
        scope: AgentScope,
        close: ParentClosePolicy,
        task: str = "",
    ) -> workflow.ChildWorkflowHandle[Any, ChildRunResult]:
        """Start a child run (WorkflowRun: the same interpreter) of `workflow_name` for this task, on
        the task's thread (or a fork or a new one, as `thread_mode` says), under the user's current
        mode and pause."""
        control, ids = self.control, self.ids
        return await workflow.start_child_workflow(
            RUN_WORKFLOW,
            ChildRunInput(
                chat_id=self.chat_id,
                run_id=run_id,
                parent_run_id=self.run_id,
                node=self.task.instance,
                workflow=workflow_name,
                inputs=inputs,
                thread_mode=thread_mode,
                parent_thread_id=await self.thread(self.task.thread),
                mode=control.mode,
                paused=control.paused,
                approval_timeout_seconds=ids.approval_timeout,
                history_limit=ids.history_limit,
                scope=scope,
                task=task,
            ),
            id=run_workflow_id(self.chat_id, run_id),
            task_queue=ids.task_queue,
            result_type=ChildRunResult,
            parent_close_policy=close,
        )

    async def fork(self, of: str, name: str) -> str:
        """A thread of the task's own that reads as `of` does now (an ephemeral model call's)."""
        key = f"{self.run_id}/{self.task.instance}#{name}"
        opened = await self.step(lambda: _open_thread(OpenThreadInput(self.chat_id, key, fork_of=of)))
        return opened.thread_id


def _open_thread(inp: OpenThreadInput) -> workflow.ActivityHandle[OpenThreadResult]:
    return workflow.start_local_activity_method(
        RunActivities.open_thread, inp, start_to_close_timeout=timedelta(seconds=30), retry_policy=STATUS_RETRY
    )


def _iteration(instance: str) -> int:
    """The innermost loop's iteration in an instance (`fix[2]/check` -> 2; 0 outside loops)."""
    end = instance.rfind("]")
    if end < 0:
        return 0
    return int(instance[instance.rfind("[", 0, end) + 1 : end])


def _noted(outputs: dict[str, Any]) -> dict[str, Any]:
    """A finished node's outputs as clients see them (the run panel, `reliant test`): each value that
    fits in MAX_NOTED_CHARS of JSON; a longer one (a loop's `last`, a long stdout) is left out."""
    return {k: v for k, v in outputs.items() if len(json.dumps(v, default=str)) <= MAX_NOTED_CHARS}


def _small(value: Any) -> Any:
    """Outputs stay small in the workflow's history: long strings are cut (the full text stays in
    Postgres: messages, tool executions)."""
    if isinstance(value, str) and len(value) > MAX_OUTPUT_TEXT:
        return value[:MAX_OUTPUT_TEXT] + f"\n[... {len(value) - MAX_OUTPUT_TEXT} more characters]"
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_small(v) for v in value]
    return value
