"""Workflows for the sandbox runner's tests: one that calls an activity and starts a child, and one
that reaches for something the sandbox forbids."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def echo(text: str) -> str:
    return f"echo of {text}"


@workflow.defn
class Child:
    @workflow.run
    async def run(self, text: str) -> str:
        return f"child of {text}"


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, text: str) -> str:
        echoed = await workflow.execute_activity(echo, "to echo", start_to_close_timeout=timedelta(seconds=10))
        child = await workflow.execute_child_workflow(Child.run, "to child", id=f"{workflow.info().workflow_id}-child")
        return f"{text}: {echoed}, {child}"


@workflow.defn
class ReadsAFile:
    @workflow.run
    async def run(self, path: str) -> str:
        with open(path) as f:  # forbidden in workflow code: its result is not in the history
            return f.read()
