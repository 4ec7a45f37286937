"""The floor for scripts/bench_agents.py: a bare Temporal parent that starts N child workflows at
once, each running one activity (a no-op), with none of reliant around them.

Workflows must live in an importable module (not __main__) to pass Temporal's sandbox checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

TIMEOUT = timedelta(seconds=60)


@dataclass
class FloorTurn:
    n: int


@activity.defn(name="floor_turn")
async def floor_turn(inp: FloorTurn) -> int:
    return inp.n


@workflow.defn(name="FloorAgentChild")
class FloorAgentChild:
    @workflow.run
    async def run(self, inp: FloorTurn) -> int:
        return await workflow.execute_activity(floor_turn, inp, start_to_close_timeout=TIMEOUT)


@workflow.defn(name="FloorAgentParent")
class FloorAgentParent:
    @workflow.run
    async def run(self, inp: FloorTurn) -> int:
        me = workflow.info().workflow_id
        children = [
            workflow.execute_child_workflow(FloorAgentChild.run, FloorTurn(i), id=f"{me}-child-{i}")
            for i in range(inp.n)
        ]
        return sum(await asyncio.gather(*children))
