"""Connecting to Temporal, and the ids reliant gives its workflows."""

from __future__ import annotations

import uuid

from temporalio.client import Client
from temporalio.service import RPCError

from reliant.errors import ReliantError


class TemporalUnavailableError(ReliantError):
    def __init__(self, address: str, detail: str) -> None:
        self.address = address
        super().__init__(f"cannot reach Temporal at {address}: {detail}")


async def connect(address: str, namespace: str) -> Client:
    try:
        return await Client.connect(address, namespace=namespace)
    except (RPCError, RuntimeError, OSError) as exc:
        raise TemporalUnavailableError(address, str(exc)) from exc


def doctor_workflow_id() -> str:
    return f"doctor-{uuid.uuid4().hex[:12]}"
