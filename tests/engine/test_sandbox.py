"""The engine inside real Temporal workflow code: sandboxed, deterministic, continued as new."""

from __future__ import annotations

import sysconfig
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from reliant import workflow_library
from reliant.engine import pin
from tests.engine.sandbox_workflow import InterpretInput, InterpretWorkflow, step


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    temporal = Path(sysconfig.get_path("scripts")) / "temporal"
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(temporal)) as started:
        yield started


async def test_builtin_tdd_runs_in_the_sandbox_across_continue_as_new(env: WorkflowEnvironment) -> None:
    [tdd] = [w for w in workflow_library.builtin_workflows() if w.name == "tdd"]
    pinned = pin(tdd, workflow_library.builtin_presets())
    assert [p.name for p in pinned.presets] == ["implementer", "test-writer"]
    queue = f"engine-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[InterpretWorkflow], activities=[step]):
        handle = await env.client.start_workflow(
            InterpretWorkflow.run,
            InterpretInput(pinned, {"task": "add --verbose", "test_command": "pytest -x"}),
            id=f"engine-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        result = await handle.result()
        first = env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        assert (await first.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert result.outputs == {"passed": True, "rounds": 3}
    assert result.keys == [
        "main:write_test#0",
        "main:red#0",
        "main:fix[0]/implement#0",
        "main:fix[0]/check#0",
        "main:fix[1]/implement#0",
        "main:fix[1]/check#0",
        "main:fix[2]/implement#0",
        "main:fix[2]/check#0",
        "main:green#0",
    ]
