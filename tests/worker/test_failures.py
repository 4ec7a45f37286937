"""What a failed step means for a chat: gone, wait out the infrastructure, or pause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState, TimeoutError, TimeoutType

from reliant.worker.activities.types import (
    CHAT_GONE,
    DAEMON_OFFLINE,
    FATAL_LLM,
    INFRA_UNAVAILABLE,
    RETRYABLE_LLM,
    WORKER_LOST,
)
from reliant.worker.failures import FailureKind, classify_failure, infrastructure_wait


def _failed(cause: BaseException) -> ActivityError:
    err = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="test",
        activity_type="execute_tool",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("cause", "kind", "service"),
    [
        (
            ApplicationError("waiting for postgres: refused", "postgres", type=INFRA_UNAVAILABLE),
            "infrastructure",
            "postgres",
        ),
        (ApplicationError("waiting for nats", "nats", type=INFRA_UNAVAILABLE), "infrastructure", "nats"),
        (ApplicationError("the worker died", type=WORKER_LOST), "infrastructure", "a worker"),
        (
            TimeoutError("activity Heartbeat timeout", type=TimeoutType.HEARTBEAT, last_heartbeat_details=[]),
            "infrastructure",
            "a worker",
        ),
        (ApplicationError("chat x no longer exists", type=CHAT_GONE), "gone", ""),
        (ApplicationError("invalid api key", type=FATAL_LLM), "pause", ""),
        (ApplicationError("overloaded", type=RETRYABLE_LLM), "pause", ""),
        (ApplicationError("no daemon", type=DAEMON_OFFLINE), "pause", ""),
        (ApplicationError("KeyError: 'x'", type="KeyError"), "pause", ""),
        (
            TimeoutError("activity StartToClose timeout", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]),
            "pause",
            "",
        ),
    ],
)
def test_only_an_unreachable_service_or_worker_is_waited_out(cause: BaseException, kind: str, service: str) -> None:
    failure = classify_failure(_failed(cause))
    assert failure.kind is FailureKind(kind)
    assert failure.service == service


def test_a_daemon_offline_pause_says_so() -> None:
    failure = classify_failure(_failed(ApplicationError("not connected", type=DAEMON_OFFLINE)))
    assert failure.pause_reason == "daemon offline: not connected"


def test_waits_double_and_are_capped_at_ten_seconds() -> None:
    assert [infrastructure_wait(n).total_seconds() for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    assert infrastructure_wait(10_000) == timedelta(seconds=10)
