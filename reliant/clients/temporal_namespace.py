"""Whether the Temporal namespace exists, and creating it where that is allowed
(`reliant server worker --create-namespace`)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from reliant.errors import ReliantError

RETENTION = timedelta(days=7)  # how long Temporal keeps a closed workflow's history


class NamespaceError(ReliantError):
    def __init__(self, namespace: str, address: str, message: str) -> None:
        self.namespace = namespace
        self.address = address
        super().__init__(message)


async def ensure_namespace(client: Client, namespace: str, address: str, *, create: bool, wait: float) -> bool:
    """Raise NamespaceError unless `namespace` exists (made here with `create`); True if made."""
    if await _exists(client, namespace, address):
        return False
    if not create:
        raise NamespaceError(
            namespace,
            address,
            f"Temporal at {address} has no namespace {namespace!r}: create it "
            f"(`temporal operator namespace create {namespace}`, or in Temporal Cloud's console) "
            "or start a worker with --create-namespace",
        )
    request = RegisterNamespaceRequest(
        namespace=namespace,
        description="reliant",
        workflow_execution_retention_period=Duration(seconds=int(RETENTION.total_seconds())),
    )
    try:
        await client.workflow_service.register_namespace(request)
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:  # another worker was first: fine
            raise NamespaceError(
                namespace, address, f"cannot create the namespace {namespace!r} at Temporal {address}: {exc.message}"
            ) from None
    deadline = time.monotonic() + wait  # a new namespace takes a moment to be served everywhere
    while not await _exists(client, namespace, address):
        if time.monotonic() > deadline:
            raise NamespaceError(
                namespace, address, f"the namespace {namespace!r} was created at Temporal {address} but is not served"
            )
        await asyncio.sleep(0.2)
    return True


async def _exists(client: Client, namespace: str, address: str) -> bool:
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise NamespaceError(
            namespace, address, f"cannot look up the namespace {namespace!r} at Temporal {address}: {exc.message}"
        ) from None
    return True
