"""A chat: takes user messages in order and, for each, runs the chat's workflow definition (the
built-in `agent` unless the chat names another) through the interpreter. Deterministic: no I/O,
clocks, randomness or logging; the definition reaches it through an activity and is pinned in the run.

The controls are the agent loop's: messages queue while a run goes on; cancel, pause / resume and
interrupt (cancel, then answer this message next); the mode (auto, manual, plan) can change at any
time; approvals and questions wait durably. The run continues as new at safe points, carrying the
queue and the active message's run.
"""

# No `from __future__ import annotations`: Temporal reads the run method's argument types inside
# the workflow sandbox, where string annotations may not resolve.

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.domain.agents import SIGNAL_AGENT_FINISHED
    from reliant.domain.chat import ChatStatus
    from reliant.domain.workflows import (
        CHAT_WORKFLOW,
        QUERY_STATE,
        SIGNAL_CANCEL,
        SIGNAL_INTERRUPT,
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        SIGNAL_SET_MODE,
        SIGNAL_USER_MESSAGE,
        UPDATE_ANSWER_APPROVAL,
        UPDATE_ANSWER_QUESTION,
        AgentStatus,
        ApprovalAnswer,
        ChatState,
        QuestionAnswer,
    )
    from reliant.worker.activities.types import OpenRunInput
    from reliant.worker.interpreter.control import Control
    from reliant.worker.interpreter.cursor import ChatRunInput
    from reliant.worker.interpreter.host import Gone, Host, Stop
    from reliant.worker.interpreter.interpreter import Ending, Interpreter, RunIds
    from reliant.worker.interpreter.lifecycle import Ended, finish_run, open_run, start_run
    from reliant.worker.interpreter.nodes import EXECUTORS
    from reliant.worker.policies import IDLE_TIMEOUT

CANCELLED = "cancelled by the user"


@workflow.defn(name=CHAT_WORKFLOW)
class ChatWorkflow:
    @workflow.init
    def __init__(self, inp: ChatRunInput) -> None:
        self.chat_id = inp.chat_id
        self.s = inp.state or ChatState()
        self.cursor = inp.run  # the active message's run, once it has started
        self.control = Control(inp.chat_id, mode=self.s.mode, paused=self.s.paused)
        self.approval_timeout = inp.approval_timeout_seconds
        self.history_limit = inp.history_limit

    # Every signal handler takes its arguments with defaults: a signal sent bare (by someone without
    # the codec key: a sealed one always has them) must do nothing, not raise, which would fail the
    # workflow task on every replay and leave the chat stuck.
    @workflow.signal(name=SIGNAL_USER_MESSAGE)
    def user_message(self, message_id: str = "") -> None:
        if not message_id:
            return
        if message_id != self.s.active and message_id not in self.s.queue:
            self.s.queue.append(message_id)
        if self.control.failed_steps:  # a new message also means "go on": a failed step is tried again
            self.control.resumes += 1

    @workflow.signal(name=SIGNAL_CANCEL)
    def cancel(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id) and self.s.active:
            self.control.cancel()

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id):
            self.control.resume()

    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self, chat_id: str = "") -> None:
        if self.control.sealed(chat_id) and self.s.active:
            self.control.pause()

    @workflow.signal(name=SIGNAL_SET_MODE)
    def set_mode(self, mode: str = "") -> None:
        self.control.set_mode(mode)

    @workflow.signal(name=SIGNAL_AGENT_FINISHED)
    def agent_finished(self, chat_id: str = "", agent_id: str = "") -> None:
        if self.control.sealed(chat_id) and agent_id:
            self.control.agents_finished.add(agent_id)

    @workflow.signal(name=SIGNAL_INTERRUPT)
    def interrupt(self, message_id: str = "") -> None:
        """Cancel the running turn and answer `message_id` next."""
        if not message_id:
            return
        if message_id in self.s.queue:
            self.s.queue.remove(message_id)
        if self.s.active:
            self.s.queue.insert(0, message_id)
            self.control.cancel()
        elif message_id not in self.s.queue:
            self.s.queue.append(message_id)
        if self.control.failed_steps:
            self.control.resumes += 1

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
            active=self.s.active,
            queue=list(self.s.queue),
            turn=0,
            paused=control.paused or control.failed_steps > 0,
            cancelling=control.cancel_requested,
            mode=control.mode,
            waiting_approvals=sorted(control.approvals),
            waiting_questions=sorted(control.questions),
            run_id=self.cursor.run_id if self.cursor is not None else "",
        )

    @workflow.run
    async def run(self, inp: ChatRunInput) -> None:
        while True:
            if not self.s.active:
                if not self.s.queue:
                    self._maybe_continue_as_new()
                    try:
                        await workflow.wait_condition(lambda: bool(self.s.queue), timeout=IDLE_TIMEOUT)
                    except TimeoutError:
                        return
                self.s.active = self.s.queue.pop(0)
                self.cursor = None
            if await self._answer() is Ending.GONE:
                return

    async def _answer(self) -> Ending:
        """Run the chat's workflow for the active message, to its end (or until it drains)."""
        host = Host(self.control, history_limit=self.history_limit)
        run_id = self.cursor.run_id if self.cursor is not None else str(workflow.uuid4())
        try:
            while self.cursor is None:
                opened = await open_run(host, OpenRunInput(self.chat_id, run_id, message_id=self.s.active))
                if opened.problem:  # a workflow that cannot start pauses with why; resumed, it is read again
                    await host.paused_by_failure(opened.problem)
                    continue
                self.cursor = await start_run(host, opened, run_id)
        except Gone:
            return Ending.GONE
        except Stop:
            await self._end(host, run_id, Ended("cancelled", {}), CANCELLED)
            return Ending.CANCELLED
        interpreter = Interpreter(host, self.cursor, self._ids(), EXECUTORS)
        ending = await interpreter.drive()
        if ending is Ending.DRAINED:
            self._continue_as_new()
        if ending is Ending.CANCELLED:
            await self._end(host, run_id, Ended("cancelled", {}, CANCELLED), CANCELLED)
        elif ending is Ending.DONE:
            run = interpreter.run
            ended = Ended("failed" if run.failed else "done", run.outputs(), run.error)
            await self._end(host, run_id, ended, run.error if run.failed else self.cursor.notice)
        return ending

    async def _end(self, host: Host, run_id: str, ended: Ended, reason: str) -> None:
        await finish_run(host, run_id, self.cursor, ended, chat_status=ChatStatus.IDLE.value, reason=reason)
        self.control.ended()  # a pause asked during the last step ends with the run
        self.s.active = ""
        self.cursor = None

    def _ids(self) -> RunIds:
        info = workflow.info()
        return RunIds(self.chat_id, "", info.task_queue, self.approval_timeout, self.history_limit)

    def _carried(self) -> ChatRunInput:
        state = ChatState(list(self.s.queue), self.s.active, self.control.mode, self.control.paused)
        return ChatRunInput(self.chat_id, state, self.approval_timeout, self.history_limit, self.cursor)

    def _maybe_continue_as_new(self) -> None:
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() > self.history_limit:
            self._continue_as_new()

    def _continue_as_new(self) -> None:
        workflow.continue_as_new(self._carried())
