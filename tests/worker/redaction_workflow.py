"""A workflow whose activity fails with a secret in its exception chain (for the redaction test)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn(name="leak_secret")
async def leak_secret(secret: str) -> None:
    try:
        raise ValueError(f"the server said: bad credentials {secret}")
    except ValueError as exc:
        if activity.info().attempt == 1:
            raise RuntimeError(f"call failed for token {secret}") from exc
        raise ApplicationError(f"still failing with {secret}", type="Leaky", non_retryable=True) from exc


@activity.defn(name="leak_secret_in_details")
async def leak_secret_in_details(secret: str) -> None:
    raise ApplicationError(
        "the request was refused",
        f"it sent {secret}",
        {"headers": {"authorization": f"Bearer {secret}"}, "status": 401},
        [secret, 7],
        type="Leaky",
        non_retryable=True,
    )


@workflow.defn(name="LeakSecret")
class LeakSecretWorkflow:
    @workflow.run
    async def run(self, secret: str, leak: str = "leak_secret") -> None:
        await workflow.execute_activity(
            leak,
            secret,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=2),
        )
