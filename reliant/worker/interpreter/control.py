"""What the user's signals and answers change in a running workflow, read by the nodes as they go:
cancel, pause (by the user, or a step that failed) and resume, the chat's mode, and the gates that
wait for the user (tool approvals, `approval` nodes' questions, ask_user) with their answers.

Deterministic workflow state: plain attributes, changed only by signal and update handlers (and
read by the nodes at their safe points).
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from reliant.domain.workflows import APPROVAL_DECISIONS, APPROVAL_SCOPES, ApprovalAnswer, QuestionAnswer

MODES = ("auto", "manual", "plan")
MAX_ANSWER_CHARS = 20_000


class Control:
    def __init__(self, chat_id: str, *, mode: str = "auto", paused: bool = False) -> None:
        self.chat_id = chat_id
        self.mode = mode
        self.paused = paused  # by the user: the run waits at its next safe point
        self.cancel_requested = False
        self.resumes = 0  # resume signals so far: a step that failed is retried after the next one
        self.failed_steps = 0  # steps waiting for a resume after a failure
        self.draining = False  # the run parks its nodes at their safe points to continue as new
        self.approvals: dict[str, tuple[str, ...]] = {}  # waiting: gate key -> a node's choices (() a tool's)
        self.answers: dict[str, ApprovalAnswer] = {}
        self.questions: set[str] = set()
        self.question_answers: dict[str, list[str]] = {}
        self.agents_finished: set[str] = set()  # sub-agents that said they ended (SIGNAL_AGENT_FINISHED)

    def sealed(self, chat_id: str) -> bool:
        """Whether a control signal comes from reliant: sealed payloads carry the chat id (a bare
        signal from someone without the codec key does nothing)."""
        return chat_id == self.chat_id

    def cancel(self) -> None:
        self.cancel_requested = True

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self.resumes += 1

    def set_mode(self, mode: str) -> bool:
        if mode not in MODES:
            return False
        self.mode = mode
        return True

    def ended(self) -> None:
        """The run ended: what it was asked does not carry over to the next one."""
        self.cancel_requested = False
        self.paused = False
        self.draining = False
        self.approvals.clear()
        self.answers.clear()
        self.questions.clear()
        self.question_answers.clear()

    # -- answers (update validators raise; handlers record) ------------------------------------------

    def check_approval(self, answer: ApprovalAnswer) -> None:
        key = answer.tool_call_id
        if key not in self.approvals or key in self.answers:
            raise ApplicationError(
                f"no pending approval for {key}: it was already answered or cancelled", type="NotPending"
            )
        choices = self.approvals[key]
        if choices:  # an `approval` node: one of its choices, with an optional note
            if answer.decision not in choices:
                raise ApplicationError(f"decision must be one of {', '.join(choices)}", type="InvalidAnswer")
            if answer.scope:
                raise ApplicationError("a node approval takes no scope", type="InvalidAnswer")
            if len(answer.message) > MAX_ANSWER_CHARS:
                raise ApplicationError(f"the note is longer than {MAX_ANSWER_CHARS} characters", type="InvalidAnswer")
            return
        if answer.decision not in APPROVAL_DECISIONS:
            raise ApplicationError(f"decision must be one of {APPROVAL_DECISIONS}", type="InvalidAnswer")
        if answer.scope not in APPROVAL_SCOPES or (answer.scope and answer.decision != "approve"):
            raise ApplicationError(f"scope must be one of {APPROVAL_SCOPES}, with approve", type="InvalidAnswer")
        if answer.scope == "prefix" and not answer.command_prefix.strip():
            raise ApplicationError("scope prefix needs a command_prefix", type="InvalidAnswer")

    def check_question(self, answer: QuestionAnswer) -> None:
        key = answer.tool_call_id
        if key not in self.questions or key in self.question_answers:
            raise ApplicationError(
                f"no pending question for {key}: it was already answered or cancelled", type="NotPending"
            )
        if not answer.answers or any(len(a) > MAX_ANSWER_CHARS for a in answer.answers):
            raise ApplicationError("answers must be 1-4 texts of at most 20,000 characters", type="InvalidAnswer")
