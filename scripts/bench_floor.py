"""The floor for scripts/bench_agent_loop.py: a bare workflow that runs N turns of two trivial
activities (the shape of one agent turn: call_llm, then execute_tool) on the same Temporal server.

Workflows must live in an importable module (not __main__) to pass Temporal's sandbox checks."""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity, workflow


class FloorActivities:
    def __init__(self) -> None:
        self.turn_starts: list[float] = []

    @activity.defn(name="floor_llm")
    async def llm(self, turn: int) -> int:
        self.turn_starts.append(time.perf_counter())
        return turn

    @activity.defn(name="floor_tool")
    async def tool(self, turn: int) -> int:
        return turn


@workflow.defn(name="FloorLoop")
class FloorLoop:
    @workflow.run
    async def run(self, turns: int) -> int:
        for turn in range(turns):
            await workflow.execute_activity(
                "floor_llm", turn, start_to_close_timeout=timedelta(seconds=30), result_type=int
            )
            await workflow.execute_activity(
                "floor_tool", turn, start_to_close_timeout=timedelta(seconds=30), result_type=int
            )
        return turns
