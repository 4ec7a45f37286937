"""reliant's workflow sandbox (reliant/worker/sandbox.py): cheaper to enter, as strict as the SDK's,
and every payload bound to the same context the SDK's runner binds it to."""

from __future__ import annotations

import sysconfig
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from reliant.worker.sandbox import WorkflowSandbox, workflow_runner
from tests.worker.sandbox_workflows import Child, Parent, ReadsAFile, echo


class RecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through and records the context each payload was encoded under."""

    def __init__(self, seen: list[tuple[str, str, str, str]], context: SerializationContext | None = None) -> None:
        self.seen = seen
        self.context = context

    def with_context(self, context: SerializationContext) -> RecordingCodec:
        return RecordingCodec(self.seen, context)

    def _name(self) -> tuple[str, str, str]:
        context = self.context
        if isinstance(context, ActivitySerializationContext):
            return ("activity", context.workflow_id or "", context.activity_type or "")
        if isinstance(context, WorkflowSerializationContext):
            return ("workflow", context.workflow_id, "")
        return ("none", "", "")

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend((*self._name(), p.data.decode()) for p in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    temporal = Path(sysconfig.get_path("scripts")) / "temporal"
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(temporal)) as started:
        yield started


async def _run(env: WorkflowEnvironment, runner: WorkflowRunner, workflow_id: str) -> tuple[Any, list[Any]]:
    seen: list[tuple[str, str, str, str]] = []
    config = env.client.config()
    config["data_converter"] = DataConverter(payload_codec=RecordingCodec(seen))
    client = Client(**config)
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[Parent, Child], activities=[echo], workflow_runner=runner):
        result = await client.execute_workflow(Parent.run, "hi", id=workflow_id, task_queue=queue)
    # The ids differ by run: name them by role.
    named = sorted({(kind, wid.replace(workflow_id, "<parent>"), extra, data) for kind, wid, extra, data in seen})
    return result, named


async def test_payloads_get_the_contexts_the_sdks_runner_gives_them(env: WorkflowEnvironment) -> None:
    ours = await _run(env, WorkflowSandbox(), f"ours-{uuid.uuid4().hex[:8]}")
    sdks = await _run(env, SandboxedWorkflowRunner(), f"sdks-{uuid.uuid4().hex[:8]}")
    assert ours == sdks
    assert ours[0] == "hi: echo of to echo, child of to child"
    contexts = ours[1]
    assert ("activity", "<parent>", "echo", '"to echo"') in contexts  # the activity's input: its activity's
    assert ("workflow", "<parent>-child", "", '"to child"') in contexts  # the child's input: the child's


@pytest.mark.parametrize(
    "runner",
    [
        WorkflowSandbox(),
        workflow_runner(),  # the worker's: reliant's modules passed through
        # and the workflow's own module passed through, as reliant's workflow modules are
        WorkflowSandbox(restrictions=SandboxRestrictions.default.with_passthrough_modules(ReadsAFile.__module__)),
    ],
    ids=["sandbox", "the-workers", "workflow-module-passed-through"],
)
async def test_workflow_code_is_as_restricted_as_in_the_sdks_sandbox(
    env: WorkflowEnvironment, tmp_path: Path, runner: WorkflowRunner
) -> None:
    secret = tmp_path / "file"
    secret.write_text("not for workflow code")
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[ReadsAFile], workflow_runner=runner):
        handle = await env.client.start_workflow(
            ReadsAFile.run, str(secret), id=f"reads-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        failed = None
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failure = event.workflow_task_failed_event_attributes.failure
                failed = (failure.application_failure_info.type, failure.message)
                break
        await handle.terminate()
    assert failed is not None
    assert failed[0] == "RestrictedWorkflowAccessError" and "__builtins__.open" in failed[1], failed
    with pytest.raises(WorkflowFailureError):
        await handle.result()
