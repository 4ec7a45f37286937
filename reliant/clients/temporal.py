"""Connecting to Temporal, and the ids reliant gives its workflows.

Every client (and so every worker built on one) seals its payloads with the codec key
(reliant/clients/codec.py): the api, the worker and tests' helpers all connect through here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from reliant.clients.codec import CodecKey, RunStartedBefore, data_converter, load_key
from reliant.config import Settings
from reliant.errors import ReliantError


class TemporalUnavailableError(ReliantError):
    def __init__(self, address: str, detail: str) -> None:
        self.address = address
        super().__init__(f"cannot reach Temporal at {address}: {detail}")


def codec_key(settings: Settings) -> CodecKey:
    return load_key(key=settings.codec_key, key_file=settings.codec_key_file)


async def connect(settings: Settings) -> Client:
    """A client whose payloads are sealed with the settings' codec key."""
    key = codec_key(settings)
    address, namespace = settings.temporal_address, settings.temporal_namespace
    try:
        plain = await Client.connect(address, namespace=namespace)
    except (RPCError, RuntimeError, OSError) as exc:
        raise TemporalUnavailableError(address, str(exc)) from exc
    legacy = None
    if key.legacy_before is not None:

        async def started_at(workflow_id: str) -> datetime | None:
            request = DescribeWorkflowExecutionRequest(
                namespace=namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
            try:
                found = await plain.workflow_service.describe_workflow_execution(request)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
            return found.workflow_execution_info.start_time.ToDatetime(tzinfo=UTC)

        legacy = RunStartedBefore(key.legacy_before, started_at)
    return Client(plain.service_client, namespace=namespace, data_converter=data_converter(key, legacy))


def doctor_workflow_id() -> str:
    return f"doctor-{uuid.uuid4().hex[:12]}"
