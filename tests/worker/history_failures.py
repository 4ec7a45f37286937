"""The failures a workflow's Temporal history holds, as whoever reads the history sees them."""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.converter import WorkflowSerializationContext


async def history_failures(client: Client, workflow_id: str) -> list[Failure]:
    """Every failure recorded in the workflow's history (each activity attempt's, retried or final,
    the workflow's own), each with its whole cause chain and its details, opened with the client's
    payload codec (a client without one reads them as stored). Their bytes hold every text they carry."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    context = WorkflowSerializationContext(namespace=client.namespace, workflow_id=workflow_id)
    codec = client.data_converter.with_context(context).payload_codec
    found: list[Failure] = []
    for event in history.events:
        kind = event.WhichOneof("attributes")
        if kind is None:
            continue
        for _, value in getattr(event, kind).ListFields():
            if isinstance(value, Failure):
                if codec is not None:
                    await codec.decode_failure(value)
                found.append(value)
    return found
