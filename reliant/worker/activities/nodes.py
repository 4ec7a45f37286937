"""The side effects of workflow nodes that are neither model calls nor the model's tool calls: a `run`
node's command, an `approval` node's question, a `save_message` node's message.

A command runs through the tool execution machinery (tools.py) as a call that changes things: it is
recorded before the daemon is asked, a retried step reuses its recorded result, and one whose
outcome is unknown (the daemon died while it ran) is reported interrupted, never run again. A step of
the project's own workflow is marked so: the daemon checks the project's trust as it runs it, and one
it refuses (the files changed since they were trusted) pauses the run instead of failing the step.
"""

from __future__ import annotations

from temporalio import activity

from reliant.clients.update_log import UpdateLog
from reliant.db import Database
from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import ChatStatus, ContentBlock, Role, ToolState
from reliant.wire.payloads import message_payload
from reliant.worker.activities.llm import chat_gone
from reliant.worker.activities.llm_options import capped
from reliant.worker.activities.notes import add_notes, emit_notes
from reliant.worker.activities.tools import ToolActivities
from reliant.worker.activities.types import (
    ExecuteToolInput,
    NodeAnswerInput,
    NodeApprovalInput,
    NodeApprovalResult,
    RunCommandInput,
    RunCommandResult,
    SaveMessageInput,
    SaveMessageResult,
)

MAX_STREAM = 8_000  # of a command's stdout and stderr in a node's outputs (the tool execution keeps more)
UNKNOWN_EXIT = -1  # the exit code of a command that did not finish (timed out, interrupted, failed to start)


class NodeActivities:
    def __init__(self, db: Database, log: UpdateLog, tools: ToolActivities) -> None:
        self.db = db
        self.log = log
        self.tools = tools

    @activity.defn(name="run_command")
    async def run_command(self, inp: RunCommandInput) -> RunCommandResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        key = tool_runs_db.run_key(inp.step)
        command: dict[str, object] = {"command": inp.command}
        if inp.timeout_seconds > 0:
            command["timeout"] = inp.timeout_seconds
        if inp.project:
            command["project"] = True  # recorded with the command: a retried step is checked the same
        await tool_runs_db.plan_command(self.db, inp.chat_id, key, command)
        await self.tools.execute_tool(ExecuteToolInput(inp.chat_id, 0, key, workspace=inp.workspace))
        run = await tool_runs_db.get(self.db, inp.chat_id, key)
        if run is None:
            raise chat_gone(inp.chat_id)
        exit_code = run.data.get("exit_code")
        stderr = str(run.data.get("stderr") or "")
        if run.state is not ToolState.COMPLETED or not isinstance(exit_code, int):
            said = run.error or f"the command did not finish ({run.state.value})"
            stderr = f"{stderr.rstrip()}\n{said}" if stderr.strip() else said
            exit_code = UNKNOWN_EXIT
        return RunCommandResult(exit_code, capped(run.output, MAX_STREAM), capped(stderr, MAX_STREAM), run.state.value)

    @activity.defn(name="ask_node_approval")
    async def ask_node_approval(self, inp: NodeApprovalInput) -> NodeApprovalResult:
        """Record the node's question (the chat waits for the answer), or the answer given already."""
        await emit_notes(self.log, inp.chat_id, inp.notes)
        async with self.log.change(inp.chat_id) as change:
            approval, created = await approvals_db.ask_node(
                change.tx,
                inp.chat_id,
                key=inp.key,
                question=inp.question,
                choices=tuple(inp.choices),
                run_id=inp.run_id,
                node=inp.node,
                workflow_id=inp.workflow_id,
            )
            if created:
                change.emit(
                    kinds.APPROVAL_REQUESTED,
                    {
                        "approval_id": approval.id,
                        "tool_call_id": inp.key,
                        "tool_name": "",
                        "input": {},
                        "turn": 0,
                        "kind": "node",
                        "question": inp.question,
                        "choices": list(inp.choices),
                        "run_id": inp.run_id,
                        "node": inp.node,
                    },
                )
            if approval.status == "pending":
                reason = f"choose: {capped(inp.question, 120)}"
                if await chats_db.set_status(change.tx, inp.chat_id, ChatStatus.WAITING, reason):
                    change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.WAITING.value, "reason": reason})
        return NodeApprovalResult(approval.id, approval.choice, approval.message if approval.choice else "")

    @activity.defn(name="answer_node_approval")
    async def answer_node_approval(self, inp: NodeAnswerInput) -> None:
        async with self.log.change(inp.chat_id) as change:
            approval = await approvals_db.for_call(change.tx, inp.chat_id, inp.key)
            if approval is None:
                raise chat_gone(inp.chat_id)
            if await approvals_db.answer_node(change.tx, inp.chat_id, inp.key, choice=inp.choice, note=inp.note):
                change.emit(
                    kinds.APPROVAL_RESOLVED,
                    {
                        "approval_id": approval.id,
                        "tool_call_id": inp.key,
                        "status": "answered",
                        "scope": "",
                        "message": inp.note,
                        "choice": inp.choice,
                    },
                )
            if await chats_db.set_status_if(change.tx, inp.chat_id, ChatStatus.WAITING, ChatStatus.RUNNING):
                change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.RUNNING.value, "reason": ""})

    @activity.defn(name="save_message")
    async def save_message(self, inp: SaveMessageInput) -> SaveMessageResult:
        async with self.log.change(inp.chat_id) as change:
            add_notes(change, inp.notes)
            message, created = await messages_db.store_turn(
                change.tx,
                inp.chat_id,
                turn=None,
                role=Role(inp.role),
                blocks=[ContentBlock.of_text(inp.content)],
                step=inp.step,
                thread_id=inp.thread_id,
            )
            if created:
                change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
        return SaveMessageResult(message.id)
