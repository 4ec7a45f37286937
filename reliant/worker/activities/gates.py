"""Gates before a tool call: an approval the user must give (manual mode), or questions the model
asks with ask_user. The workflow waits for the answer; these activities record the ask."""

from __future__ import annotations

from temporalio import activity

from reliant.clients.update_log import UpdateLog
from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import questions as questions_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import ChatStatus
from reliant.worker import ask_user
from reliant.worker.activities.llm import chat_gone
from reliant.worker.activities.types import (
    RequestApprovalInput,
    RequestApprovalResult,
    RequestQuestionInput,
    RequestQuestionResult,
)


class GateActivities:
    def __init__(self, db: Database, log: UpdateLog) -> None:
        self.db = db
        self.log = log

    @activity.defn(name="request_approval")
    async def request_approval(self, inp: RequestApprovalInput) -> RequestApprovalResult:
        """Allowed at once by a policy, or a pending approval the user sees (the chat waits)."""
        target = await tool_runs_db.get_with_target(self.db, inp.chat_id, inp.tool_call_id)
        if target is None:
            raise chat_gone(inp.chat_id)
        run = target.run
        if await approvals_db.allowed(
            self.db, project_id=target.project_id, chat_id=inp.chat_id, tool_name=run.tool_name, tool_input=run.input
        ):
            return RequestApprovalResult(allowed=True)
        async with self.log.change(inp.chat_id) as change:
            approval, created = await approvals_db.request(
                change.tx,
                inp.chat_id,
                tool_call_id=run.key,
                turn=inp.turn,
                tool_name=run.tool_name,
                tool_input=run.input,
                workflow_id=inp.workflow_id,
            )
            if created:
                tag = await agents_db.of_gate(change.tx, inp.chat_id, inp.workflow_id)
                change.emit(
                    kinds.APPROVAL_REQUESTED,
                    {
                        "approval_id": approval.id,
                        "tool_call_id": run.tool_call_id,
                        **({"call_key": run.key} if run.key != run.tool_call_id else {}),
                        "tool_name": run.tool_name,
                        "input": run.input,
                        "turn": inp.turn,
                    }
                    | agents_db.tag_payload(tag),
                )
            if await chats_db.set_status(change.tx, inp.chat_id, ChatStatus.WAITING, f"approve {run.tool_name}?"):
                change.emit(
                    kinds.CHAT_STATUS, {"status": ChatStatus.WAITING.value, "reason": f"approve {run.tool_name}?"}
                )
        return RequestApprovalResult(allowed=False, approval_id=approval.id)

    @activity.defn(name="request_question")
    async def request_question(self, inp: RequestQuestionInput) -> RequestQuestionResult:
        """Record the model's questions (the chat waits), or say why the call is malformed."""
        run = await tool_runs_db.get(self.db, inp.chat_id, inp.tool_call_id)
        if run is None:
            raise chat_gone(inp.chat_id)
        problem = ask_user.problems(run.input)
        if problem:
            return RequestQuestionResult(invalid=f"invalid input for ask_user: {problem}")
        async with self.log.change(inp.chat_id) as change:
            question, created = await questions_db.ask(
                change.tx,
                inp.chat_id,
                tool_call_id=run.key,
                turn=inp.turn,
                questions=run.input["questions"],
                workflow_id=inp.workflow_id,
            )
            if created:
                tag = await agents_db.of_gate(change.tx, inp.chat_id, inp.workflow_id)
                change.emit(
                    kinds.QUESTION_ASKED,
                    {
                        "question_id": question.id,
                        "tool_call_id": run.tool_call_id,
                        **({"call_key": run.key} if run.key != run.tool_call_id else {}),
                        "questions": question.questions,
                        "turn": inp.turn,
                    }
                    | agents_db.tag_payload(tag),
                )
            if await chats_db.set_status(change.tx, inp.chat_id, ChatStatus.WAITING, "answer the question"):
                change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.WAITING.value, "reason": "answer the question"})
        return RequestQuestionResult(question_id=question.id)
