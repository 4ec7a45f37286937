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
from tests.worker.redaction_workflow import LeakSecretWorkflow, leak_secret

SECRET = f"tok-{uuid.uuid4().hex}"


async def test_failures_and_their_causes_are_redacted_in_history(infra: Infra) -> None:
    remember(SECRET)
    client = await Client.connect(infra.temporal_address, namespace="reliant")
    queue = f"redaction-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[LeakSecretWorkflow],
        activities=[leak_secret],
        interceptors=[RedactingInterceptor()],
    ):
        handle = await client.start_workflow(LeakSecretWorkflow.run, SECRET, id=queue, task_queue=queue)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()

    history = (await handle.fetch_history()).to_json()
    assert SECRET not in history
    assert "call failed for token ****" in history  # the first attempt's failure, kept as last_failure
    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    failure = activity_error.cause
    assert isinstance(failure, ApplicationError)
    assert (failure.message, failure.type, failure.non_retryable) == ("still failing with ****", "Leaky", True)
    assert failure.cause is None  # the chain (which quoted the secret) stayed in the worker
