"""Approvals and questions: list what waits for the user, and hand their answers to the chat's
workflow as Temporal updates (validated there, so a second answer is refused cleanly)."""

from __future__ import annotations

from typing import Any

from connectrpc.request import RequestContext
from google.protobuf.struct_pb2 import Struct
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from reliant.api.chats import Chats, check_id
from reliant.api.connect import call
from reliant.api.errors import (
    ApiError,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidFieldError,
    NotFoundError,
    UnavailableError,
)
from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import questions as questions_db
from reliant.domain.chat import AgentTag, Approval, Question, starts_with_words
from reliant.domain.workflows import (
    APPROVAL_SCOPES,
    UPDATE_ANSWER_APPROVAL,
    UPDATE_ANSWER_QUESTION,
    ApprovalAnswer,
    QuestionAnswer,
    agent_workflow_id,
)
from reliant.wire.v1 import control_pb2 as pb

Ctx = RequestContext[Any, Any]
MAX_MESSAGE_CHARS = 20_000  # of any one text of an answer: the workflow holds it (2 MB of payloads at most)


class Gates:
    """The service layer for approvals and questions."""

    def __init__(self, chats: Chats) -> None:
        self.chats = chats
        self.db = chats.db

    async def pending_approvals(self, chat_id: str = "") -> list[Approval]:
        return await approvals_db.pending(self.db, check_id("chat", chat_id) if chat_id else "")

    async def pending_questions(self, chat_id: str = "") -> list[Question]:
        return await questions_db.pending(self.db, check_id("chat", chat_id) if chat_id else "")

    async def approve(self, approval_id: str, scope: str = "", command_prefix: str = "") -> None:
        if scope not in APPROVAL_SCOPES:
            raise InvalidFieldError("scope", f"must be one of {', '.join(s for s in APPROVAL_SCOPES if s)} or empty")
        if len(command_prefix) > MAX_MESSAGE_CHARS:
            raise InvalidFieldError("command_prefix", f"is longer than {MAX_MESSAGE_CHARS} characters")
        approval = await self._pending_approval(approval_id, kind="tool")
        if scope == "prefix":
            if approval.tool_name != "shell":
                raise InvalidArgumentError("scope prefix is for shell commands")
            _check_prefix(command_prefix.strip(), str(approval.input.get("command", "")))
        await self._update(
            approval,
            UPDATE_ANSWER_APPROVAL,
            ApprovalAnswer(approval.tool_call_id, "approve", scope=scope, command_prefix=command_prefix.strip()),
        )

    async def deny(self, approval_id: str, message: str = "") -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            raise InvalidFieldError("message", f"is longer than {MAX_MESSAGE_CHARS} characters")
        approval = await self._pending_approval(approval_id, kind="tool")
        await self._update(approval, UPDATE_ANSWER_APPROVAL, ApprovalAnswer(approval.tool_call_id, "deny", message))

    async def choose(self, approval_id: str, choice: str, note: str = "") -> None:
        """Answer a workflow's `approval` node with one of its choices (and a note it reads)."""
        if len(note) > MAX_MESSAGE_CHARS:
            raise InvalidFieldError("note", f"is longer than {MAX_MESSAGE_CHARS} characters")
        approval = await self._pending_approval(approval_id, kind="node")
        if choice not in approval.choices:
            raise InvalidFieldError("choice", f"{choice!r} is not one of {', '.join(approval.choices)}")
        await self._update(approval, UPDATE_ANSWER_APPROVAL, ApprovalAnswer(approval.tool_call_id, choice, note))

    async def answer(self, question_id: str, answers: list[str]) -> None:
        question = await questions_db.get(self.db, check_id("question", question_id))
        if question is None:
            raise NotFoundError(f"question {question_id} not found")
        if question.status != "pending":
            raise FailedPreconditionError(f"question {question_id} is {question.status}, not pending")
        if len(answers) != len(question.questions):
            raise InvalidArgumentError(f"give one answer per question ({len(question.questions)})")
        for i, text in enumerate(answers):
            if len(text) > MAX_MESSAGE_CHARS:
                raise InvalidFieldError(f"answers[{i}]", f"is longer than {MAX_MESSAGE_CHARS} characters")
        await self._update(question, UPDATE_ANSWER_QUESTION, QuestionAnswer(question.tool_call_id, answers))

    async def _pending_approval(self, approval_id: str, *, kind: str) -> Approval:
        approval = await approvals_db.get(self.db, check_id("approval", approval_id))
        if approval is None:
            raise NotFoundError(f"approval {approval_id} not found")
        if approval.status != "pending":
            raise FailedPreconditionError(f"approval {approval_id} is {approval.status}, not pending")
        if approval.kind != kind and approval.kind == "node":
            raise InvalidArgumentError(
                f"approval {approval_id} is a workflow's question ({approval.question}), not a tool call;"
                f" it is a choice: answer with one of {', '.join(approval.choices)}"
            )
        if approval.kind != kind:
            raise InvalidArgumentError(f"approval {approval_id} gates a tool call: approve or deny it")
        return approval

    async def _update(self, gate: Approval | Question, name: str, answer: ApprovalAnswer | QuestionAnswer) -> None:
        """The answer goes to the workflow that waits for it: the chat's own, or a child run's."""
        handle = self.chats.ctx.temporal.get_workflow_handle(gate.workflow_id or agent_workflow_id(gate.chat_id))
        try:
            await handle.execute_update(name, answer)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise FailedPreconditionError(getattr(cause, "message", None) or str(cause or exc)) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise FailedPreconditionError("nothing is pending: the chat is not running") from None
            raise UnavailableError(f"could not reach the chat's workflow: {exc}") from exc


def _agent_tag(tag: AgentTag | None) -> pb.AgentTag | None:
    return pb.AgentTag(agent_id=tag.id, name=tag.name, task=tag.task) if tag else None


def _struct(value: dict[str, Any]) -> Struct:
    out = Struct()
    out.update(value)
    return out


async def _titles(gates: Gates, chat_ids: set[str]) -> dict[str, str]:
    titles = {}
    for chat_id in chat_ids:
        chat = await chats_db.get(gates.db, chat_id)
        titles[chat_id] = chat.title if chat else ""
    return titles


class ApprovalService:
    def __init__(self, gates: Gates) -> None:
        self.gates = gates

    async def list_pending_approvals(
        self, request: pb.ListPendingApprovalsRequest, ctx: Ctx
    ) -> pb.ListPendingApprovalsResponse:
        found = await call(self.gates.pending_approvals(request.chat_id))
        titles = await _titles(self.gates, {a.chat_id for a in found})
        return pb.ListPendingApprovalsResponse(
            approvals=[
                pb.Approval(
                    id=a.id,
                    chat_id=a.chat_id,
                    tool_call_id=a.tool_call_id,
                    tool_name=a.tool_name,
                    input=_struct(a.input),
                    status=a.status,
                    created_unix=a.created_at,
                    chat_title=titles.get(a.chat_id, ""),
                    turn=a.turn,
                    kind=a.kind,
                    question=a.question,
                    choices=list(a.choices),
                    run_id=a.run_id,
                    node=a.node,
                    agent=_agent_tag(a.agent),
                )
                for a in found
            ]
        )

    async def approve(self, request: pb.ApproveRequest, ctx: Ctx) -> pb.AnswerResponse:
        await call(self.gates.approve(request.approval_id, request.scope, request.command_prefix))
        return pb.AnswerResponse(ok=True)

    async def deny(self, request: pb.DenyRequest, ctx: Ctx) -> pb.AnswerResponse:
        await call(self.gates.deny(request.approval_id, request.message))
        return pb.AnswerResponse(ok=True)

    async def choose(self, request: pb.ChooseRequest, ctx: Ctx) -> pb.AnswerResponse:
        await call(self.gates.choose(request.approval_id, request.choice, request.note))
        return pb.AnswerResponse(ok=True)

    async def answer_batch(self, request: pb.AnswerBatchRequest, ctx: Ctx) -> pb.AnswerBatchResponse:
        results = []
        for item in request.items:
            try:
                if item.HasField("approve"):
                    await self.gates.approve(item.approve.approval_id, item.approve.scope, item.approve.command_prefix)
                elif item.HasField("deny"):
                    await self.gates.deny(item.deny.approval_id, item.deny.message)
                elif item.HasField("choose"):
                    await self.gates.choose(item.choose.approval_id, item.choose.choice, item.choose.note)
                else:
                    raise InvalidArgumentError("each item needs approve, deny or choose")
                results.append(pb.AnswerResponse(ok=True))
            except ApiError as exc:
                results.append(pb.AnswerResponse(ok=False, error=exc.message))
        return pb.AnswerBatchResponse(results=results)


class QuestionService:
    def __init__(self, gates: Gates) -> None:
        self.gates = gates

    async def list_pending_questions(
        self, request: pb.ListPendingQuestionsRequest, ctx: Ctx
    ) -> pb.ListPendingQuestionsResponse:
        found = await call(self.gates.pending_questions(request.chat_id))
        titles = await _titles(self.gates, {q.chat_id for q in found})
        return pb.ListPendingQuestionsResponse(
            questions=[
                pb.Question(
                    id=q.id,
                    chat_id=q.chat_id,
                    tool_call_id=q.tool_call_id,
                    questions=[
                        pb.Question.Item(
                            question=str(i.get("question", "")), choices=[str(c) for c in i.get("choices", [])]
                        )
                        for i in q.questions
                    ],
                    created_unix=q.created_at,
                    chat_title=titles.get(q.chat_id, ""),
                    agent=_agent_tag(q.agent),
                )
                for q in found
            ]
        )

    async def answer_question(self, request: pb.AnswerQuestionRequest, ctx: Ctx) -> pb.AnswerResponse:
        await call(self.gates.answer(request.question_id, list(request.answers)))
        return pb.AnswerResponse(ok=True)


def _check_prefix(prefix: str, command: str) -> None:
    """A prefix approval allows the command it answers and others like it: the prefix is where the
    command starts (shortened by the user, say `npm run`), never an unrelated command (a slip that
    would allow `rm -rf` while approving `ls`)."""
    if not prefix:
        raise InvalidFieldError("command_prefix", "scope prefix needs the start of the command to allow")
    if not starts_with_words(prefix, command.lstrip()):  # what a policy of it covers (domain.chat.prefix_allows)
        shown = command if len(command) <= 80 else command[:77] + "..."
        raise InvalidFieldError("command_prefix", f"{prefix[:80]!r} is not the start of the command {shown!r}")
