"""Every activity failure reaches Temporal's history without the secrets of its exception chain."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from reliant.redaction import remember
from reliant.worker.failure_redaction import RedactingInterceptor
from tests.conftest import Infra
from tests.worker.history_failures import history_failures
from tests.worker.redaction_workflow import LeakSecretWorkflow, leak_secret, leak_secret_in_details

SECRET = f"tok-{uuid.uuid4().hex}"


async def leaked(infra: Infra, leak: str) -> tuple[bytes, ApplicationError]:
    """Run the activity `leak` (it fails with SECRET) under the interceptor, with a client without
    the payload codec: the failures in Temporal's history as stored, whole chains and details
    (raw JSON payloads there: the history's JSON form would show them in base64), and the failure
    the workflow got."""
    remember(SECRET)
    client = await Client.connect(infra.temporal_address, namespace="reliant")
    queue = f"redaction-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[LeakSecretWorkflow],
        activities=[leak_secret, leak_secret_in_details],
        interceptors=[RedactingInterceptor()],
    ):
        handle = await client.start_workflow(LeakSecretWorkflow.run, args=[SECRET, leak], id=queue, task_queue=queue)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    failure = activity_error.cause
    assert isinstance(failure, ApplicationError)
    failures = await history_failures(client, queue)
    assert len(failures) >= 2  # the activity's (each attempt's) and the workflow's
    return b"".join(f.SerializeToString() for f in failures), failure


async def test_failures_and_their_causes_are_redacted_in_history(infra: Infra) -> None:
    history, failure = await leaked(infra, "leak_secret")

    assert SECRET.encode() not in history
    assert b"call failed for token ****" in history  # the first attempt's failure, kept as last_failure
    assert (failure.message, failure.type, failure.non_retryable) == ("still failing with ****", "Leaky", True)
    assert failure.cause is None  # the chain (which quoted the secret) stayed in the worker


async def test_the_details_of_a_failure_are_redacted_in_history_and_keep_their_shape(infra: Infra) -> None:
    history, failure = await leaked(infra, "leak_secret_in_details")

    assert b"Bearer ****" in history and SECRET.encode() not in history
    assert (failure.message, failure.type, failure.non_retryable) == ("the request was refused", "Leaky", True)
    assert failure.details == (
        "it sent ****",
        {"headers": {"authorization": "Bearer ****"}, "status": 401},
        ["****", 7],
    )
