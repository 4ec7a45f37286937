"""Timeouts and retry policies of the workflows' activities (the workflow owns retries: providers
and tools never retry by themselves)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from reliant.worker.activities.types import CHAT_GONE, CONTEXT_TOO_LONG, FATAL_LLM, TURN_ABORTED

IDLE_TIMEOUT = timedelta(minutes=30)  # an idle chat's run ends; its next message starts a new one
HEARTBEAT_TIMEOUT = timedelta(seconds=3)  # a dead worker is noticed within seconds

# call_llm names each wait itself (next_retry_delay: the provider's Retry-After up to 15 minutes, else
# 1, 2, 4 ... 60 s); maximum_interval caps only Temporal's own backoff, not those.
LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=8,
    non_retryable_error_types=[FATAL_LLM, CONTEXT_TOO_LONG, CHAT_GONE, TURN_ABORTED],
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=4),
    maximum_attempts=4,
    non_retryable_error_types=[CHAT_GONE],
)
STATUS_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=30)
