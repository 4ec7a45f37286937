"""The floors for scripts/bench_workflows.py: bare workflows that call reliant's own activities with
none of the engine around them (no definition, no run-state machine, no node states, no gates).

- FloorNodes: one activity after another (a `save_message` each), as many as the engine's nodes.
- FloorChat: an agent turn as bare as it gets: call_llm, then execute_tool for each tool call, until
  the model answers without tools.

Workflows must live in an importable module (not __main__) to pass Temporal's sandbox checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.worker.activities.llm import LlmActivities
    from reliant.worker.activities.nodes import NodeActivities
    from reliant.worker.activities.tools import ToolActivities
    from reliant.worker.activities.types import CallLlmInput, ExecuteToolInput, SaveMessageInput

TIMEOUT = timedelta(seconds=60)


@dataclass
class FloorNodesInput:
    chat_id: str
    thread_id: str
    count: int


@workflow.defn(name="FloorNodes")
class FloorNodes:
    @workflow.run
    async def run(self, inp: FloorNodesInput) -> int:
        for i in range(inp.count):
            await workflow.execute_activity_method(
                NodeActivities.save_message,
                SaveMessageInput(inp.chat_id, f"floor-{workflow.info().workflow_id}-{i}", inp.thread_id, "user", "x"),
                start_to_close_timeout=TIMEOUT,
            )
        return inp.count


@dataclass
class FloorChatInput:
    chat_id: str
    message_id: str
    first_turn: int = 1


@workflow.defn(name="FloorChat")
class FloorChat:
    @workflow.run
    async def run(self, inp: FloorChatInput) -> int:
        turn = inp.first_turn
        while True:
            answer = await workflow.execute_activity_method(
                LlmActivities.call_llm,
                CallLlmInput(inp.chat_id, turn, admit_message_id=inp.message_id if turn == inp.first_turn else ""),
                start_to_close_timeout=TIMEOUT,
            )
            for call in answer.tool_calls:
                await workflow.execute_activity_method(
                    ToolActivities.execute_tool,
                    ExecuteToolInput(inp.chat_id, turn, call.tool_call_id),
                    start_to_close_timeout=TIMEOUT,
                )
            if not answer.tool_calls:
                return turn
            turn += 1
