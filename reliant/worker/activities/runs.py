"""A run's beginning and end, and its threads: what the interpreter asks of the database.

open_run admits the message the run answers (the chat shows running), reads and pins the definition
(definitions.py), checks the inputs, makes the run's thread and records the run (`run_started`), all
idempotent by run id: a retry finds the run recorded and returns what it pinned then, never a file
changed since. finish_run records the outcome (`run_finished`), settles what the run left
unfinished and, for a chat's own run, sets the chat's status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from reliant.bus import Bus
from reliant.clients import stops
from reliant.clients.update_log import Change, UpdateLog
from reliant.clients.workflow_files import ProjectFiles
from reliant.db import Database
from reliant.db import approvals as approvals_db
from reliant.db import budgets as budgets_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import model_steps as model_steps_db
from reliant.db import questions as questions_db
from reliant.db import runs as runs_db
from reliant.db import threads as threads_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import worktrees as worktrees_db
from reliant.domain import update_kinds as kinds
from reliant.domain.budgets import BUDGET_INPUT, budget_problem
from reliant.domain.chat import ChatInfo as ChatRow
from reliant.domain.chat import ChatStatus, ContentBlock, Project, Role, StoredMessage, ToolState
from reliant.domain.runs import PinnedText, RunOutcome, RunRecord
from reliant.engine import ChatInfo, InvalidInputs, Pinned, SourceText, resolve_inputs
from reliant.engine.definition import ThreadMode
from reliant.errors import DaemonUnavailableError
from reliant.wire.payloads import message_payload
from reliant.worker import definitions
from reliant.worker.activities.agents import finish_agent
from reliant.worker.activities.compaction import estimated_tokens
from reliant.worker.activities.llm import DAEMON_TRIES, chat_gone, settle_tool_results
from reliant.worker.activities.notes import add_notes, emit_notes
from reliant.worker.activities.types import (
    CHAT_GONE,
    DAEMON_OFFLINE,
    FinishRunInput,
    FinishRunResult,
    NotesInput,
    OpenRunInput,
    OpenRunResult,
    OpenThreadInput,
    OpenThreadResult,
)
from reliant.worker.demo_worktree import demo_worktree

logger = logging.getLogger(__name__)

NOT_RUN = "not run: the workflow ended without running it"
TASK_INPUT = "task"  # what spawn_agent hands a workflow (agents.begin_agent_tool): its task


class RunActivities:
    def __init__(self, db: Database, bus: Bus, log: UpdateLog, *, demo_project: str = "") -> None:
        """`demo_project`: the path of the demo project (`reliant up --demo`), whose chats each get
        their own worktree."""
        self.db = db
        self.bus = bus
        self.log = log
        self.demo_project = demo_project

    @activity.defn(name="open_run")
    async def open_run(self, inp: OpenRunInput) -> OpenRunResult:
        found = await chats_db.get_with_project(self.db, inp.chat_id)
        if found is None:
            raise chat_gone(inp.chat_id)
        chat, project = found
        info = ChatInfo(id=chat.id, mode=chat.mode.value, model=chat.model, project=project.path)
        # The message is taken and the chat shown running first: reading the project's files may
        # take a while (the run pauses if the daemon stays away, as any step that needs it does).
        await self._admit(chat, inp)
        recorded = await runs_db.get(self.db, inp.run_id)
        if recorded is not None:  # a retry: the run started with what it pinned then
            return _result(recorded, info)
        if not inp.parent_run_id and project.path == self.demo_project:
            await self._demo_worktree(chat, project)
        workflow = inp.workflow or chat.workflow
        try:
            chosen = definitions.choose(workflow, await self._project_files(project))
            definition = chosen.pinned.load()
            given = inp.inputs if inp.inputs is not None else chat.workflow_inputs
            if inp.task and definition.input(TASK_INPUT) is None:
                # A spawned agent's task: the first message on its thread, an input only where it is one.
                given = {k: v for k, v in given.items() if k != TASK_INPUT}
            inputs = resolve_inputs(definition, given)
        except (definitions.DefinitionProblem, InvalidInputs) as exc:
            return OpenRunResult(workflow=workflow, chat=info, problem=str(exc))
        budget = inputs.get(BUDGET_INPUT)
        if not inp.parent_run_id and isinstance(budget, int | float) and not isinstance(budget, bool):
            if problem := budget_problem(budget):
                return OpenRunResult(workflow=workflow, chat=info, problem=f"input {BUDGET_INPUT}: {problem}")
            if budget > 0:
                await budgets_db.set_chat_budget(self.db, chat.id, float(budget))  # a workflow input sets it
        mode = inp.thread_mode or (definition.thread.value if definition.thread else "")
        thread_id = await self._thread(chat.id, inp, mode)
        record = RunRecord(
            id=inp.run_id,
            chat_id=chat.id,
            workflow=workflow,
            source=chosen.source,
            workflow_text=_pinned_text(chosen.pinned.workflow),
            presets=tuple(_pinned_text(p) for p in chosen.pinned.presets),
            inputs=inputs,
            parent_id=inp.parent_run_id or None,
            node=inp.node,
            message_id=inp.message_id or None,
            thread_id=thread_id,
        )
        started: dict[str, object] = {
            "run_id": record.id,
            "workflow": workflow,
            "source": chosen.source,
            "inputs": inputs,
            "parent_run_id": inp.parent_run_id,
            "node": inp.node,
            "thread_id": thread_id,
            "note": chosen.note,
        }
        task: StoredMessage | None = None
        async with self.log.change(chat.id) as change:
            if await runs_db.create(change.tx, record):
                change.emit(kinds.RUN_STARTED, started)
            if inp.task:  # a sub-agent's task: the first message on its thread, stored with the run
                task = await _task(change, chat.id, inp, thread_id)
        fresh = -1
        if inp.parent_run_id and mode == ThreadMode.NEW.value:
            fresh = 0
        if task is not None:
            fresh = estimated_tokens([task]) if fresh == 0 else fresh
        return OpenRunResult(chosen.pinned, workflow, chosen.source, inputs, thread_id, info, fresh_tokens=fresh)

    async def _project_files(self, project: Project) -> ProjectFiles:
        """The project's own files; if its daemon stays unreachable for a few seconds the run pauses
        (until the daemon is back: the watcher resumes it)."""
        for attempt in range(DAEMON_TRIES):
            try:
                return await definitions.project_files(self.bus, project.daemon_id, project.path)
            except DaemonUnavailableError as exc:
                if attempt == DAEMON_TRIES - 1:
                    raise ApplicationError(str(exc), type=DAEMON_OFFLINE, non_retryable=True) from exc
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def _thread(self, chat_id: str, inp: OpenRunInput, mode: str) -> str:
        """The run's main thread: the chat's (its own runs), or the caller's, a fork of it, or a new one."""
        if not inp.parent_run_id:
            return (await threads_db.create_main(self.db, chat_id)).id
        key = f"{inp.run_id}/main"
        if mode == ThreadMode.NEW.value:
            return (await threads_db.ensure(self.db, chat_id, key)).id
        if mode == ThreadMode.FORK.value:
            # A sub-agent's fork ends before the answer whose spawn_agent call started it.
            fork = await threads_db.fork(self.db, chat_id, key, inp.parent_thread_id, before_answer=bool(inp.task))
            return fork.id
        return inp.parent_thread_id

    async def _demo_worktree(self, chat: ChatRow, project: Project) -> None:
        """A chat in the demo project works in a git worktree of its own, made as its first run opens,
        before any node works (a best-of-n's candidates branch from it and merge into it). Once per
        chat: one that has a run already, or a worktree (active or removed), keeps what it has."""
        if await runs_db.for_chat(self.db, chat.id):
            return
        if not await worktrees_db.chat_ever_had_one(self.db, chat.id):
            await demo_worktree(self.db, self.bus, chat.id, project)

    async def _admit(self, chat: ChatRow, inp: OpenRunInput) -> None:
        """Admit the message the run answers, and show the chat running (idempotent)."""
        if not inp.message_id and inp.parent_run_id:
            return  # a child run: nothing to admit, and the chat runs already
        async with self.log.change(chat.id) as change:
            if inp.message_id:
                try:
                    message, admitted = await messages_db.admit(change.tx, chat.id, inp.message_id)
                except LookupError as exc:
                    raise ApplicationError(str(exc), type=CHAT_GONE, non_retryable=True) from exc
                if admitted:
                    change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
            if not inp.parent_run_id and await chats_db.set_status(change.tx, chat.id, ChatStatus.RUNNING):
                change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.RUNNING.value, "reason": ""})

    @activity.defn(name="finish_run")
    async def finish_run(self, inp: FinishRunInput) -> FinishRunResult | None:
        cancelled = inp.status == RunOutcome.CANCELLED.value
        # The nodes' last states go first: on their own when a cancel's updates follow, else with
        # the run's end, in its transaction.
        early = bool(inp.notes) and (cancelled or bool(inp.aborted_steps))
        if early:
            await emit_notes(self.log, inp.chat_id, inp.notes)
        for step in inp.aborted_steps:
            turn = await model_steps_db.turn_for(self.db, inp.chat_id, step)
            if await messages_db.for_step(self.db, inp.chat_id, step, Role.ASSISTANT) is None:
                reason = inp.reason or "cancelled"
                await self.log.emit(inp.chat_id, kinds.MESSAGE_ABORTED, {"turn": turn, "reason": reason})
        if cancelled:
            await self._cancel_gates(inp.chat_id, inp.workflow_id)
            if inp.chat_status:  # the chat's own run: what its turn left running stops
                await self._stop_on_daemon(inp.chat_id, inp.run_id)
        for thread_id in inp.threads:
            await settle_tool_results(
                self.db, self.log, inp.chat_id, interrupt_reason=inp.interrupt_reason or NOT_RUN, thread_id=thread_id
            )
        async with self.log.change(inp.chat_id) as change:
            if not early:
                add_notes(change, inp.notes)
            if await runs_db.finish(
                change.tx, inp.run_id, RunOutcome(inp.status), outputs=inp.outputs, error=inp.error
            ) or not await runs_db.get(change.tx, inp.run_id):
                change.emit(
                    kinds.RUN_FINISHED,
                    {"run_id": inp.run_id, "status": inp.status, "outputs": inp.outputs, "error": inp.error},
                )
            report = False
            if inp.agent_id:
                report = await finish_agent(change, inp.agent_id, inp.status, inp.outputs, inp.error)
            if inp.chat_status:
                status = ChatStatus(inp.chat_status)
                if await chats_db.set_status(change.tx, inp.chat_id, status, inp.reason):
                    change.emit(kinds.CHAT_STATUS, {"status": status.value, "reason": inp.reason})
        # (None in histories from before: the result was read as nothing)
        return FinishRunResult(report_end=report)

    async def _stop_on_daemon(self, chat_id: str, run_id: str) -> None:
        """Stop on the daemon what the calls of the cancelled run (its agents' as well as its own)
        left running there: a call still executing (its activity had ended: the chat was paused
        waiting for the daemon, say) and the background processes (run_in_background) they started.
        Those of earlier turns (a dev server started yesterday) go on. A daemon that cannot be asked
        is not waited on: it is owed the stops."""
        found, started = await asyncio.gather(
            chats_db.get_with_project(self.db, chat_id), tool_runs_db.started_in_run(self.db, chat_id, run_id)
        )
        if found is None or not started:
            return
        _, project = found
        executing = [key for key, state in started.items() if state is ToolState.EXECUTING]
        await asyncio.gather(
            *(stops.cancel_tool(self.bus, self.db, project.daemon_id, chat_id, key) for key in executing),
            stops.stop_background(self.bus, self.db, project.daemon_id, chat_id, started.keys()),
        )

    async def _cancel_gates(self, chat_id: str, workflow_id: str) -> None:
        """What the run waited for from the user is cancelled with it."""
        async with self.log.change(chat_id) as change:
            for approval in await approvals_db.cancel_pending_of(change.tx, chat_id, workflow_id):
                change.emit(
                    kinds.APPROVAL_RESOLVED,
                    {
                        "approval_id": approval.id,
                        "tool_call_id": approval.tool_call_id,
                        "status": "cancelled",
                        "scope": "",
                        "message": "",
                    },
                )
            for question in await questions_db.cancel_pending_of(change.tx, chat_id, workflow_id):
                change.emit(
                    kinds.QUESTION_ANSWERED,
                    {
                        "question_id": question.id,
                        "tool_call_id": question.tool_call_id,
                        "answers": [],
                        "status": "cancelled",
                    },
                )

    @activity.defn(name="open_thread")
    async def open_thread(self, inp: OpenThreadInput) -> OpenThreadResult:
        if inp.fork_of:
            thread = await threads_db.fork(self.db, inp.chat_id, inp.key, inp.fork_of)
        else:
            thread = await threads_db.ensure(self.db, inp.chat_id, inp.key)
        return OpenThreadResult(thread.id)

    @activity.defn(name="emit_notes")
    async def emit_notes(self, inp: NotesInput) -> None:
        await emit_notes(self.log, inp.chat_id, inp.notes)


def _pinned_text(text: SourceText) -> PinnedText:
    return PinnedText(text.name, text.source, text.text)


async def _task(change: Change, chat_id: str, inp: OpenRunInput, thread_id: str) -> StoredMessage:
    message, created = await messages_db.store_turn(
        change.tx,
        chat_id,
        turn=None,
        role=Role.USER,
        blocks=[ContentBlock.of_text(inp.task)],
        step=f"{inp.run_id}/task",
        thread_id=thread_id,
    )
    if created:
        change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
    return message


def _result(record: RunRecord, chat: ChatInfo) -> OpenRunResult:
    def source(text: PinnedText) -> SourceText:
        return SourceText(text.name, text.source, text.text)

    pinned = Pinned(source(record.workflow_text), [source(p) for p in record.presets])
    return OpenRunResult(
        pinned, record.workflow, record.source, dict(record.inputs), record.thread_id or "", dataclasses.replace(chat)
    )
