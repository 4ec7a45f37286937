"""A child run: a `workflow` node's definition, run by the same interpreter as the chat's, on the
thread the node gives it. It answers its own gates (their rows name this workflow), takes the
caller's control signals, continues as new on its own, and returns its outputs."""

# No `from __future__ import annotations`: Temporal reads the run method's argument types inside
# the workflow sandbox, where string annotations may not resolve.

import asyncio
import dataclasses

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from reliant.domain.agents import SIGNAL_AGENT_FINISHED
    from reliant.domain.workflows import (
        QUERY_STATE,
        RUN_WORKFLOW,
        SIGNAL_CANCEL,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_SET_MODE,
        UPDATE_ANSWER_APPROVAL,
        UPDATE_ANSWER_QUESTION,
        AgentStatus,
        ApprovalAnswer,
        QuestionAnswer,
    )
    from reliant.worker.activities.types import OpenRunInput
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import ChildRunInput, ChildRunResult
    from reliant.worker.interpreter.host import Gone, Host, Stop
    from reliant.worker.interpreter.interpreter import Ending, Interpreter, RunIds
    from reliant.worker.interpreter.lifecycle import Ended, finish_run, open_run, start_run
    from reliant.worker.interpreter.nodes import EXECUTORS

CANCELLED = "cancelled by the user"


@workflow.defn(name=RUN_WORKFLOW)
class WorkflowRun:
    @workflow.init
    def __init__(self, inp: ChildRunInput) -> None:
        self.inp = inp
        self.cursor = inp.cursor
        self.control = Control(inp.chat_id, mode=inp.mode, paused=inp.paused)

    @workflow.signal(name=SIGNAL_CANCEL)
    def cancel(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id):
            self.control.cancel()

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id):
            self.control.resume()

    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id):
            self.control.pause()

    @workflow.signal(name=SIGNAL_SET_MODE)
    def set_mode(self, mode: str = "") -> None:
        self.control.set_mode(mode)

    @workflow.signal(name=SIGNAL_AGENT_FINISHED)
    def agent_finished(self, chat_id: str = "", agent_id: str = "") -> None:
        if self.control.sealed(chat_id) and agent_id:
            self.control.agents_finished.add(agent_id)

    @workflow.update(name=UPDATE_ANSWER_APPROVAL)
    def answer_approval(self, answer: ApprovalAnswer) -> str:
        self.control.answers[answer.tool_call_id] = answer
        return answer.decision

    @answer_approval.validator
    def _check_approval(self, answer: ApprovalAnswer) -> None:
        self.control.check_approval(answer)

    @workflow.update(name=UPDATE_ANSWER_QUESTION)
    def answer_question(self, answer: QuestionAnswer) -> str:
        self.control.question_answers[answer.tool_call_id] = list(answer.answers)
        return "answered"

    @answer_question.validator
    def _check_question(self, answer: QuestionAnswer) -> None:
        self.control.check_question(answer)

    @workflow.query(name=QUERY_STATE)
    def state(self) -> AgentStatus:
        control = self.control
        return AgentStatus(
            active=self.inp.run_id,
            queue=[],
            turn=0,
            paused=control.paused or control.failed_steps > 0,
            cancelling=control.cancel_requested,
            mode=control.mode,
            waiting_approvals=sorted(control.approvals),
            waiting_questions=sorted(control.questions),
            run_id=self.inp.run_id,
        )

    @workflow.run
    async def run(self, inp: ChildRunInput) -> ChildRunResult:
        host = Host(self.control, history_limit=inp.history_limit)
        me = workflow.info().workflow_id
        try:
            if self.cursor is None:
                opened = await open_run(
                    host,
                    OpenRunInput(
                        inp.chat_id,
                        inp.run_id,
                        parent_run_id=inp.parent_run_id,
                        node=inp.node,
                        workflow=inp.workflow,
                        inputs=inp.inputs,
                        thread_mode=inp.thread_mode,
                        parent_thread_id=inp.parent_thread_id,
                        task=inp.task,
                    ),
                )
                if opened.problem:
                    return await self._end(host, Ended("failed", {}, opened.problem))
                self.cursor = await start_run(host, opened, inp.run_id)
        except Gone:
            return ChildRunResult("failed", error="the chat no longer exists")
        except Stop:
            return await self._end(host, Ended("cancelled", {}, CANCELLED))
        ids = RunIds(
            inp.chat_id, me, workflow.info().task_queue, inp.approval_timeout_seconds, inp.history_limit, inp.scope
        )
        interpreter = Interpreter(host, self.cursor, ids, EXECUTORS)
        while True:
            try:
                ending = await interpreter.drive()
                break
            except asyncio.CancelledError:  # cancelled through Temporal: stop like a cancel signal
                self.control.cancel()
        if ending is Ending.DRAINED:
            carried = dataclasses.replace(inp, cursor=self.cursor, mode=self.control.mode, paused=self.control.paused)
            workflow.continue_as_new(carried)
        if ending is Ending.GONE:
            return ChildRunResult("failed", error="the chat no longer exists")
        if ending is Ending.CANCELLED:
            return await self._end(host, Ended("cancelled", {}, CANCELLED))
        run = interpreter.run
        return await self._end(host, Ended("failed" if run.failed else "done", run.outputs(), run.error))

    async def _end(self, host: Host, ended: Ended) -> ChildRunResult:
        reason = CANCELLED if ended.status == "cancelled" else ended.error
        scope = self.inp.scope
        agent = scope.agent_id == self.inp.run_id  # a sub-agent's own run: the agent ends with it
        report = await finish_run(
            host,
            self.inp.run_id,
            self.cursor,
            ended,
            reason=reason,
            workflow_id=workflow.info().workflow_id,
            agent_id=scope.agent_id if agent else "",
        )
        # Its spawner learns of the end from Temporal while it holds the agent's handle; one that
        # continued as new since (report) and spawners from before (report_end) are told.
        if agent and scope.parent_workflow_id and (report or scope.report_end):
            spawner = workflow.get_external_workflow_handle(scope.parent_workflow_id)
            try:
                await spawner.signal(SIGNAL_AGENT_FINISHED, args=[self.inp.chat_id, scope.agent_id])
            except FailureError:
                pass  # the spawner has ended: nobody waits
        return ChildRunResult(ended.status, ended.outputs, ended.error)
